output "name" {
  description = "Bucket name (STORAGE_BUCKET)."
  value       = google_storage_bucket.media.name
}
