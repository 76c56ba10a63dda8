# Operations as code: dashboards, alert policies and SLOs in Cloud Monitoring, and the config of
# the OpenTelemetry collector that runs beside every Cloud Run workload and lands the services'
# OTLP metrics in Google Cloud Managed Service for Prometheus (and their spans in Cloud Trace).
# Every dashboard and alert query is PromQL over the metric catalogue
# (packages/observability/src/metrics-catalogue.ts), so the same expressions run against the
# local Prometheus; SLOs use Cloud Monitoring filters over the same series
# (docs/decisions/2026-12-monitoring-as-code.md). terraform/monitoring.ts reads this module for
# the tests and the local stack.

# One dashboard per file in dashboards/: the JSON is the Dashboard message of the Monitoring
# dashboards API, edited as JSON (export from the console, then tidy) and checked against
# Google's published proto by terraform/monitoring.test.ts.
resource "google_monitoring_dashboard" "dashboard" {
  for_each       = fileset("${path.module}/dashboards", "*.json")
  project        = var.project_id
  dashboard_json = file("${path.module}/dashboards/${each.value}")
}

# The collector's config, as Google documents for Cloud Run: a Secret Manager secret mounted into
# the sidecar as a file. It is configuration, not a credential (it names no key and the collector
# authenticates as the workload's service account); the secret is only Cloud Run's way to mount
# a file. terraform/check.ts allows this one version because its data is this committed file.
resource "google_secret_manager_secret" "collector_config" {
  project   = var.project_id
  secret_id = "aiprod-otel-collector-config"
  labels    = { app = "aiprod" }
  annotations = {
    description = "OpenTelemetry collector config (terraform/modules/monitoring/collector.yaml) mounted by every workload's collector sidecar."
  }

  replication {
    auto {}
  }
}

# A change to collector.yaml makes a new version, and the workloads mount that version by number
# (collector_config_version), so the change reaches them as a new revision, which must pass its
# startup probes before it gets traffic, never as "latest" read by new instances of revisions
# already running. Replaced versions are left in place, not destroyed: the revisions before
# still mount them (a rollback, a canary split, instances they start later).
resource "google_secret_manager_secret_version" "collector_config" {
  secret          = google_secret_manager_secret.collector_config.id
  secret_data     = file("${path.module}/collector.yaml")
  deletion_policy = "ABANDON"
}

resource "google_secret_manager_secret_iam_member" "collector_config" {
  # Keyed by workload name: account emails are unknown until the accounts exist.
  for_each  = var.collector_readers
  project   = var.project_id
  secret_id = google_secret_manager_secret.collector_config.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}
