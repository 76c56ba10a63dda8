# The whole AIPROD platform in one project: every module wired together. The environment roots
# (terraform/environments/<env>) only configure the provider and call this module with their
# sizes, counts, retention and protection, so staging and prod cannot drift apart in wiring.
# Names follow docs/decisions/2026-12-cloud-run-shape.md. The offline checks in
# terraform/check.ts hold each workload below to its services/<svc>/src/env.ts.

locals {
  # Images: the first apply runs the images Cloud Build pushed for var.image_tag (the bootstrap
  # build, docs/deploy.md), so every workload's startup probe and env.ts are exercised when it is
  # created. After that Cloud Build deploys every image (canary, then promote) and the modules
  # ignore image changes, so re-applying never rolls a release back.
  images = "${var.region}-docker.pkg.dev/${var.project_id}/${module.artifact_registry.repository_id}"
  # The model each render pool runs, as BACKEND_MODELS: the planner plans each shot for it and every
  # render pool reads it for its own model and for what the other pools of its fallback chain can
  # take, so they are given this one value. Each model must be in the vendor catalogue
  # (terraform/check.ts and each service's start-up check it); changing one is a deploy of all five.
  # Replicate runs Seedance 1 lite in production: it takes the product image (first frame or
  # reference images), which Wan's text-to-video model cannot. The code's own default stays Wan
  # until the render suites that lean on Wan's 5-or-8-second lengths are moved off it.
  backend_models = "runway=gen4.5,veo=veo-3.1-fast-generate-001,replicate=bytedance/seedance-1-lite"
  # The planner's creative director, and its translator, the same Gemini model: with a translator a
  # brief's further languages need not come with the brief's own words. The gateway refuses such a
  # brief without one, so it is given the planner's value (terraform/check.ts holds them equal).
  planner_director   = "gemini"
  planner_translator = local.planner_director == "gemini" ? "gemini" : "none"
  # The voice-over's speech engine: the gateway accepts only the languages it has voices for and the
  # planner measures each line with the engine delivery speaks it with, so all three get this one
  # value (terraform/check.ts holds them equal). Google Cloud
  # Text-to-Speech in production (natural voices, word timings from the engine); espeak-ng, the
  # code's default, stays in the images as the offline engine for local runs and CI.
  speech_engine = "google-tts"
}

module "artifact_registry" {
  source     = "../artifact-registry"
  project_id = var.project_id
  location   = var.region
}

module "pubsub" {
  source         = "../pubsub"
  project_id     = var.project_id
  project_number = var.project_number
  catalogue_file = "${path.module}/../../../packages/contracts/catalogue.json"
}

module "firestore" {
  source     = "../firestore"
  project_id = var.project_id
  location   = var.firestore_location
}

module "storage" {
  source            = "../storage"
  project_id        = var.project_id
  name              = "${var.project_id}-aiprod-media"
  location          = var.region
  delete_after_days = var.media_retention_days
}

# `gcloud builds submit` uploads the repository here (--gcs-source-staging-dir, docs/deploy.md)
# for builds run as aiprod-deployer; a trigger connected to the repository needs none of it.
module "build_source" {
  source            = "../storage"
  project_id        = var.project_id
  name              = "${var.project_id}-aiprod-build-source"
  location          = var.region
  delete_after_days = 7
}

resource "google_storage_bucket_iam_member" "deployer_reads_build_source" {
  bucket = module.build_source.name
  role   = "roles/storage.objectViewer"
  member = module.iam.deployer_member
}

module "iam" {
  source              = "../iam"
  project_id          = var.project_id
  subscription_owners = module.pubsub.subscription_owners
  topic_publishers    = module.pubsub.topic_publishers
  bucket_name         = module.storage.name
  artifact_repository = module.artifact_registry.repository_id
  artifact_location   = module.artifact_registry.location
  workloads = {
    # Streams outputs and signs download URLs (as itself); writes only uploaded reference images
    # (POST /v1/assets, each under a new random key).
    "aiprod-gateway" = { service = "gateway", bucket_role = "roles/storage.objectUser", signs_urls = true }
    # Gemini director; stores the brief's reference images with the job (a redelivery rewrites
    # the same keys) and reads uploaded assets.
    "aiprod-planner"          = { service = "planner", bucket_role = "roles/storage.objectUser", vertex = true }
    "aiprod-qa"               = { service = "qa", bucket_role = "roles/storage.objectUser", vertex = true }
    "aiprod-delivery"         = { service = "delivery", bucket_role = "roles/storage.objectUser" }
    "aiprod-render-local"     = { service = "render", bucket_role = "roles/storage.objectUser" }
    "aiprod-render-runway"    = { service = "render", bucket_role = "roles/storage.objectUser" }
    "aiprod-render-veo"       = { service = "render", bucket_role = "roles/storage.objectUser", vertex = true }
    "aiprod-render-replicate" = { service = "render", bucket_role = "roles/storage.objectUser" }
  }
}

module "secrets" {
  source     = "../secrets"
  project_id = var.project_id
  secrets = {
    "aiprod-runway-api-key" = {
      description = "Runway API key (RUNWAY_API_KEY of aiprod-render-runway)."
      accessors   = { "aiprod-render-runway" = module.iam.members["aiprod-render-runway"] }
    }
    "aiprod-replicate-api-token" = {
      description = "Replicate API token (REPLICATE_API_TOKEN of aiprod-render-replicate)."
      accessors   = { "aiprod-render-replicate" = module.iam.members["aiprod-render-replicate"] }
    }
    "aiprod-review-link-secret" = {
      description = "HMAC key that signs review links (REVIEW_LINK_SECRET of aiprod-gateway); rotating it revokes every link."
      accessors   = { "aiprod-gateway" = module.iam.members["aiprod-gateway"] }
    }
    "aiprod-smoke-api-key" = {
      description = "AIPROD API key of the smoke-test tenant, used by Cloud Build's canary check."
      accessors   = { "aiprod-deployer" = module.iam.deployer_member }
    }
  }
}

# Dashboards, alert policies and SLOs, and the collector config every workload's sidecar mounts
# (docs/decisions/2026-12-monitoring-as-code.md; docs/runbook.md for each alert).
module "monitoring" {
  source                = "../monitoring"
  project_id            = var.project_id
  notification_channels = var.alert_notification_channels
  collector_readers     = module.iam.members
}

module "gateway" {
  source                   = "../cloud-run-service"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-gateway"
  service_account_email    = module.iam.emails["aiprod-gateway"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/gateway:${var.image_tag}"
  # Public at the Cloud Run layer: clients hold AIPROD API keys, not Google identities, and the
  # gateway authenticates every request itself (the cloud-run-service module explains).
  invoker_members     = ["allUsers"]
  min_instances       = var.gateway_min_instances
  max_instances       = var.gateway_max_instances
  deletion_protection = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT      = var.project_id
    STORAGE_KIND     = "gcs"
    STORAGE_BUCKET   = module.storage.name
    ENABLED_BACKENDS = "local,runway,veo,replicate"
    # What the planner translates with: without a translator, a further language needs the brief's words.
    PLANNER_TRANSLATOR = local.planner_translator
    # The languages a brief may ask for are the ones this engine has voices for.
    SPEECH_ENGINE = local.speech_engine
    # Cloud Run's front end appends the client's address to X-Forwarded-For; without this every
    # client would share the front end's address in the auth-failure limiter.
    TRUST_PROXY_HOPS = "1"
  }
  secret_env = {
    REVIEW_LINK_SECRET = module.secrets.ids["aiprod-review-link-secret"]
  }
}

module "planner" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-planner"
  service_account_email    = module.iam.emails["aiprod-planner"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/planner:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-planner"]
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT        = var.project_id
    STORAGE_KIND       = "gcs"
    STORAGE_BUCKET     = module.storage.name
    PLANNER_DIRECTOR   = local.planner_director
    PLANNER_TRANSLATOR = local.planner_translator
    ENABLED_BACKENDS   = "local,runway,veo,replicate"
    # The retired name, for planner images from before the rename (they read only this); the
    # new planner reads it only when ENABLED_BACKENDS is unset and refuses a disagreement. Remove
    # once every environment runs a planner that reads ENABLED_BACKENDS (docs/deploy.md).
    PLANNER_BACKENDS = "local,runway,veo,replicate"
    BACKEND_MODELS   = local.backend_models
    VERTEX_LOCATION  = var.gemini_location
    SPEECH_ENGINE    = local.speech_engine
  }
}

module "qa" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-qa"
  service_account_email    = module.iam.emails["aiprod-qa"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/qa:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-qa"]
  cpu                      = "2"
  memory                   = "2Gi"
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT     = var.project_id
    STORAGE_KIND    = "gcs"
    STORAGE_BUCKET  = module.storage.name
    QA_JUDGE        = "gemini"
    VERTEX_LOCATION = var.gemini_location
  }
}

module "delivery" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-delivery"
  service_account_email    = module.iam.emails["aiprod-delivery"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/delivery:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-delivery"]
  cpu                      = "2"
  memory                   = "4Gi"
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT    = var.project_id
    STORAGE_KIND   = "gcs"
    STORAGE_BUCKET = module.storage.name
    SPEECH_ENGINE  = local.speech_engine
  }
}

# One pool per render backend, all from the one render image; RENDER_BACKEND picks the backend
# and ENABLED_BACKENDS (as for the gateway and the planner) lists the pools deployed here.
module "render_local" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-render-local"
  service_account_email    = module.iam.emails["aiprod-render-local"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/render:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-render-local"]
  cpu                      = "2"
  memory                   = "2Gi"
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT      = var.project_id
    STORAGE_KIND     = "gcs"
    STORAGE_BUCKET   = module.storage.name
    RENDER_BACKEND   = "local"
    ENABLED_BACKENDS = "local,runway,veo,replicate"
    BACKEND_MODELS   = local.backend_models
  }
}

module "render_runway" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-render-runway"
  service_account_email    = module.iam.emails["aiprod-render-runway"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/render:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-render-runway"]
  memory                   = "1Gi"
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT      = var.project_id
    STORAGE_KIND     = "gcs"
    STORAGE_BUCKET   = module.storage.name
    RENDER_BACKEND   = "runway"
    ENABLED_BACKENDS = "local,runway,veo,replicate"
    BACKEND_MODELS   = local.backend_models
  }
  secret_env = {
    RUNWAY_API_KEY = module.secrets.ids["aiprod-runway-api-key"]
  }
}

module "render_veo" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-render-veo"
  service_account_email    = module.iam.emails["aiprod-render-veo"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/render:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-render-veo"]
  memory                   = "1Gi"
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT      = var.project_id
    STORAGE_KIND     = "gcs"
    STORAGE_BUCKET   = module.storage.name
    RENDER_BACKEND   = "veo"
    ENABLED_BACKENDS = "local,runway,veo,replicate"
    BACKEND_MODELS   = local.backend_models
    VERTEX_LOCATION  = var.veo_location
  }
}

module "render_replicate" {
  source                   = "../cloud-run-worker-pool"
  project_id               = var.project_id
  region                   = var.region
  name                     = "aiprod-render-replicate"
  service_account_email    = module.iam.emails["aiprod-render-replicate"]
  collector_config_secret  = module.monitoring.collector_config_secret
  collector_config_version = module.monitoring.collector_config_version
  image                    = "${local.images}/render:${var.image_tag}"
  instance_count           = var.pool_instances["aiprod-render-replicate"]
  memory                   = "1Gi"
  deletion_protection      = var.deletion_protection
  # Database, grants, secrets and the collector config first: a revision that cannot reach
  # them never becomes ready.
  depends_on = [module.iam, module.secrets, module.firestore, module.monitoring]
  env = {
    GCP_PROJECT      = var.project_id
    STORAGE_KIND     = "gcs"
    STORAGE_BUCKET   = module.storage.name
    RENDER_BACKEND   = "replicate"
    ENABLED_BACKENDS = "local,runway,veo,replicate"
    BACKEND_MODELS   = local.backend_models
  }
  secret_env = {
    REPLICATE_API_TOKEN = module.secrets.ids["aiprod-replicate-api-token"]
  }
}
