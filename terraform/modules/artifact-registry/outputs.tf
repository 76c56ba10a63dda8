output "repository_id" {
  description = "Repository name."
  value       = google_artifact_registry_repository.images.repository_id
}

output "location" {
  description = "Repository region."
  value       = google_artifact_registry_repository.images.location
}

output "image_prefix" {
  description = "Prefix of the image URLs: <region>-docker.pkg.dev/<project>/<repository>."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}
