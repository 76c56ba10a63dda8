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
      name  = "app"
      image = var.image
      # Starts once the collector answers its startup probe, so the first spans and metrics
      # have somewhere to go.
      depends_on = ["collector"]

      resources {
        # Worker pool CPU is always allocated; only 1, 2, 4, 6 or 8 are accepted.
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
      }

      # The collector sidecar (below); the telemetry package pushes spans and metrics there.
      env {
        name  = "OTEL_EXPORTER_OTLP_ENDPOINT"
        value = "http://localhost:4318"
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

    # The OpenTelemetry collector sidecar, as Google documents for Cloud Run: the Google-Built
    # collector, its config (terraform/modules/monitoring/collector.yaml) mounted from Secret
    # Manager, OTLP/HTTP on localhost:4318 in, Managed Service for Prometheus and Cloud Trace out,
    # as this workload's service account. Declared after the application container, which stays
    # containers[0] (its image is Cloud Build's, see ignore_changes) and is named "app" (the name
    # a deploy of a multi-container revision selects with --container=app).
    containers {
      name  = "collector"
      image = var.collector_image
      args  = ["--config=/etc/otelcol-google/config.yaml"]

      resources {
        # A whole CPU: fractional CPU limits come with billing and concurrency restrictions on
        # Cloud Run. The collector's memory_limiter keeps it within the memory.
        limits = {
          cpu    = "1"
          memory = "256Mi"
        }
      }

      volume_mounts {
        name       = "otel-collector-config"
        mount_path = "/etc/otelcol-google"
      }

      # The health_check extension answers once the pipelines run; the application waits for it.
      startup_probe {
        http_get {
          path = "/"
          port = 13133
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
      }
    }

    volumes {
      name = "otel-collector-config"
      secret {
        secret = var.collector_config_secret
        # Pinned, so that a config change is a new revision (monitoring module, main.tf).
        items {
          version = var.collector_config_version
          path    = "config.yaml"
        }
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
