# One Cloud Run worker pool: a Pub/Sub pull consumer with no URL (planner, QA, delivery and one
# pool per render backend; docs/decisions/2026-12-cloud-run-shape.md). Worker pools do not scale
# on requests: the pool runs var.instance_count instances (docs/decisions/2026-12-worker-pool-scaling.md).
# Terraform owns the configuration and the count; Cloud Build owns the image and the instance
# split between revisions (its canary), so both are ignored after the first apply.

resource "google_cloud_run_v2_worker_pool" "pool" {
  project             = var.project_id
  location            = var.region
  name                = var.name
  deletion_protection = var.deletion_protection
  launch_stage        = var.launch_stage
  labels              = merge({ app = "aiprod" }, var.labels)

  scaling {
    scaling_mode          = "MANUAL"
    manual_instance_count = var.instance_count
  }

  template {
    service_account = var.service_account_email

    containers {
      image = var.image

      resources {
        # Worker pool CPU is always allocated; only 1, 2, 4, 6 or 8 are accepted.
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      # Secrets only by reference: the value stays in Secret Manager, and only this pool's
      # account is granted access to it.
      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      # The worker's health server (service-runtime) answers /healthz on PORT (8080) once its
      # consumers are started; a revision whose env.ts fails never becomes ready.
      startup_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
      }
    }
  }

  instance_splits {
    type    = "INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    # Cloud Build deploys new images as a canary (an instance split between revisions), then
    # promotes; an apply must neither roll the image back nor undo a split in flight. Changing
    # var.image after the first apply has no effect: deploy through Cloud Build.
    ignore_changes = [
      template[0].containers[0].image,
      instance_splits,
      client,
      client_version,
    ]
  }
}
