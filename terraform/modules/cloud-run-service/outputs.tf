output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.service.name
}

output "uri" {
  description = "The service's HTTPS URL (the smoke job and docs/deploy.md use it)."
  value       = google_cloud_run_v2_service.service.uri
}
