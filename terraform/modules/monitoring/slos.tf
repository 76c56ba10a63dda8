# Service level objectives. Cloud Monitoring SLOs take monitoring filters, not PromQL, so each
# selects the very series the PromQL dashboards and burn-rate alerts query, under the metric type
# Managed Service for Prometheus gives them: prometheus.googleapis.com/<name>/<kind>, where <name>
# is the Prometheus name (counters with _total) and <kind> is counter, histogram or gauge
# (docs/decisions/2026-12-monitoring-as-code.md).

locals {
  gmp = "resource.type = \"prometheus_target\""
  # The gateway's requests its SLOs count: all but Cloud Run's startup and liveness probes
  # (/healthz) and the readiness checks (/readyz), which arrive on every instance whatever the
  # traffic (diluting the error ratio when traffic is low) and answer 503 while an instance
  # drains. The request metric labels them with their path (services/gateway/src/request-metrics.ts).
  # The same selection as local.gateway_requests, the burn-rate alerts' PromQL.
  gateway_requests_filter = "metric.labels.route != \"/healthz\" metric.labels.route != \"/readyz\""
  # 28 days: four whole weeks, so every window holds the same weekdays.
  slo_days = 28
}

resource "google_monitoring_custom_service" "gateway" {
  project      = var.project_id
  service_id   = "aiprod-gateway"
  display_name = "AIPROD gateway"
  user_labels  = { app = "aiprod" }
}

resource "google_monitoring_custom_service" "jobs" {
  project      = var.project_id
  service_id   = "aiprod-jobs"
  display_name = "AIPROD jobs (brief to delivered video)"
  user_labels  = { app = "aiprod" }
}

resource "google_monitoring_slo" "gateway_availability" {
  project             = var.project_id
  service             = google_monitoring_custom_service.gateway.service_id
  slo_id              = "gateway-availability"
  display_name        = "Gateway requests answered without a 5xx"
  goal                = var.availability_objective
  rolling_period_days = local.slo_days
  user_labels         = { app = "aiprod" }

  request_based_sli {
    good_total_ratio {
      bad_service_filter   = "${local.gmp} metric.type = \"prometheus.googleapis.com/aiprod_http_requests_total/counter\" ${local.gateway_requests_filter} metric.labels.code = starts_with(\"5\")"
      total_service_filter = "${local.gmp} metric.type = \"prometheus.googleapis.com/aiprod_http_requests_total/counter\" ${local.gateway_requests_filter}"
    }
  }
}

resource "google_monitoring_slo" "gateway_latency" {
  project             = var.project_id
  service             = google_monitoring_custom_service.gateway.service_id
  slo_id              = "gateway-latency"
  display_name        = "Gateway requests answered within 0.5 s"
  goal                = var.latency_objective
  rolling_period_days = local.slo_days
  user_labels         = { app = "aiprod" }

  request_based_sli {
    # The share of the histogram's counts at or under 0.5 s, a bucket bound of the catalogue's
    # request buckets, so the cut is exact.
    distribution_cut {
      distribution_filter = "${local.gmp} metric.type = \"prometheus.googleapis.com/aiprod_http_request_duration_seconds/histogram\" ${local.gateway_requests_filter}"
      range {
        max = 0.5
      }
    }
  }
}

resource "google_monitoring_slo" "jobs_within_deadline" {
  project             = var.project_id
  service             = google_monitoring_custom_service.jobs.service_id
  slo_id              = "jobs-within-deadline"
  display_name        = "Jobs delivered within their preset's deadline"
  goal                = var.deadline_objective
  rolling_period_days = local.slo_days
  user_labels         = { app = "aiprod" }

  request_based_sli {
    # Of the jobs that finished delivered or failed (a cancellation is the client's choice, not
    # ours), those delivered with production time within the preset's deadline.
    good_total_ratio {
      good_service_filter  = "${local.gmp} metric.type = \"prometheus.googleapis.com/aiprod_jobs_finished_total/counter\" metric.labels.status = \"DELIVERED\" metric.labels.within_deadline = \"true\""
      total_service_filter = "${local.gmp} metric.type = \"prometheus.googleapis.com/aiprod_jobs_finished_total/counter\" metric.labels.status = one_of(\"DELIVERED\", \"FAILED\")"
    }
  }
}
