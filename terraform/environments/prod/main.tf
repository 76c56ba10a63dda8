# The prod environment: the provider and the platform module (terraform/modules/platform, which
# holds all the wiring) with this environment's sizes, counts, retention and protection.
# Prod: two instances of each pool a deploy or a crash must not empty
# (docs/decisions/2026-12-worker-pool-scaling.md), a warm gateway, a year of media, and deletion
# protection.

provider "google" {
  project = var.project_id
  region  = var.region
}

module "platform" {
  source         = "../../modules/platform"
  project_id     = var.project_id
  project_number = var.project_number
  region         = var.region
  image_tag      = var.image_tag
  # Firestore and Vertex AI locations, chosen with var.region's default: change them with it.
  firestore_location = "eur3"
  gemini_location    = "europe-west1"
  veo_location       = "us-central1"

  gateway_min_instances = 1
  gateway_max_instances = 20
  pool_instances = {
    "aiprod-planner"          = 2
    "aiprod-qa"               = 2
    "aiprod-delivery"         = 2
    "aiprod-render-local"     = 1
    "aiprod-render-runway"    = 2
    "aiprod-render-veo"       = 2
    "aiprod-render-replicate" = 1
  }
  # A backstop: per-tenant retention (at most 400 days a file) is the delivery sweeper's; 10 days more for a job's own life.
  media_retention_days        = 410
  alert_notification_channels = var.alert_notification_channels
  deletion_protection         = true
}
