# The staging environment: the provider and the platform module (terraform/modules/platform, which
# holds all the wiring) with this environment's sizes, counts, retention and protection.
# Staging: one instance per pool, no warm gateway, a month of media, destroyable.

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

  gateway_min_instances = 0
  gateway_max_instances = 3
  pool_instances = {
    "aiprod-planner"          = 1
    "aiprod-qa"               = 1
    "aiprod-delivery"         = 1
    "aiprod-render-local"     = 1
    "aiprod-render-runway"    = 1
    "aiprod-render-veo"       = 1
    "aiprod-render-replicate" = 1
  }
  media_retention_days        = 30
  alert_notification_channels = var.alert_notification_channels
  deletion_protection         = false
}
