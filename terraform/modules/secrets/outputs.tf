output "ids" {
  description = "Secret id => secret id, for secret_key_ref (depending on it orders the secret before the workload)."
  value       = { for id, s in google_secret_manager_secret.secret : id => s.secret_id }
}
