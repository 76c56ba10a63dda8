output "gateway_url" {
  description = "The gateway's HTTPS URL (clients, and Cloud Build's smoke job)."
  value       = module.platform.gateway_url
}

output "deployer_email" {
  description = "Service account Cloud Build runs as (cloudbuild.yaml / the build trigger)."
  value       = module.platform.deployer_email
}

output "bucket" {
  description = "The media bucket."
  value       = module.platform.bucket
}

output "subscriptions" {
  description = "Every Pub/Sub subscription, for Cloud Build's pre-deploy snapshots."
  value       = module.platform.subscriptions
}
