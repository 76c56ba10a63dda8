# One Cloud Run service with an HTTPS front door: today only the gateway (see
# docs/decisions/2026-12-cloud-run-shape.md). Terraform owns its configuration; Cloud Build owns
# its image and its traffic split (canary by tag, then promote), so both are ignored after the
# first apply.

resource "google_cloud_run_v2_service" "service" {
  project             = var.project_id
  location            = var.region
  name                = var.name
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = merge({ app = "aiprod" }, var.labels)

  template {
    service_account = var.service_account_email
    # The longest request Cloud Run lets run: the gateway's event streams last up to its
    # SSE_MAX_SECONDS. On scale-in Cloud Run sends SIGTERM and kills the instance 10 s later (fixed
    # by the platform): the gateway stops accepting, ends its streams (clients resume with
    # Last-Event-ID) and exits within that window.
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      name  = "app"
      image = var.image
      # Starts once the collector answers its startup probe, so the first spans and metrics
      # have somewhere to go.
      depends_on = ["collector"]

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # false = CPU always allocated (billed while idle): only when asked, e.g. for background
        # work between requests. The gateway does none, so it defaults to request-time CPU.
        cpu_idle          = !var.cpu_always_allocated
        startup_cpu_boost = true
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

      # Secrets only by reference: the value stays in Secret Manager, and only this service's
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

      # No traffic until /healthz answers (env.ts validated, clients built).
      startup_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 30
      }

      liveness_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 15
        timeout_seconds   = 3
        failure_threshold = 4
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

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    # Cloud Build deploys new images (with its canary tag and split) after the first apply; an
    # apply must not roll a release back or reset a canary in flight. Changing var.image after the
    # first apply therefore has no effect: deploy through Cloud Build.
    ignore_changes = [
      template[0].containers[0].image,
      traffic,
      client,
      client_version,
    ]
  }
}

# Who may call the service at the Cloud Run layer. For the gateway this is allUsers: its clients
# are tenants' programs holding AIPROD API keys (or OIDC tokens of the tenant's own issuer), not
# Google identities, and the gateway authenticates every /v1 request itself. Only the gateway is
# public; the worker pools have no URL at all.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = google_cloud_run_v2_service.service.location
  name     = google_cloud_run_v2_service.service.name
  role     = "roles/run.invoker"
  member   = each.value
}
