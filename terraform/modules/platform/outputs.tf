output "gateway_url" {
  description = "The gateway's HTTPS URL (clients, and Cloud Build's smoke job)."
  value       = module.gateway.uri
}

output "deployer_email" {
  description = "Service account Cloud Build runs as (cloudbuild.yaml / the build trigger)."
  value       = module.iam.deployer_email
}

output "bucket" {
  description = "The media bucket."
  value       = module.storage.name
}

output "subscriptions" {
  description = "Every Pub/Sub subscription, for Cloud Build's pre-deploy snapshots."
  value       = module.pubsub.subscription_names
}
