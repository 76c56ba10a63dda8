output "collector_config_secret" {
  description = "Secret Manager secret id holding the collector config (collector.yaml), for the Cloud Run modules' collector sidecar."
  value       = google_secret_manager_secret.collector_config.secret_id
}

output "collector_config_version" {
  description = "The collector config's Secret Manager version number, for the Cloud Run modules to mount (never \"latest\")."
  value       = google_secret_manager_secret_version.collector_config.version
}

output "dashboards" {
  description = "Dashboard file => dashboard id."
  value       = { for f, d in google_monitoring_dashboard.dashboard : f => d.id }
}
