output "emails" {
  description = "Workload name => its service account email."
  value       = { for name, sa in google_service_account.workload : name => sa.email }
}

output "members" {
  description = "Workload name => serviceAccount:<email>, for IAM grants elsewhere (secrets)."
  value       = local.project_member
}

output "deployer_email" {
  description = "The Cloud Build service account (cloudbuild.yaml runs as it)."
  value       = google_service_account.deployer.email
}

output "deployer_member" {
  description = "serviceAccount:<deployer email>."
  value       = local.deployer_member
}
