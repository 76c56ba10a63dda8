# The one bucket for clips, QA frames and finished videos (keys tenants/<t>/jobs/<j>/...).
# Private: clients get time-limited V4 signed URLs from the gateway, never public objects.

resource "google_storage_bucket" "media" {
  project                     = var.project_id
  name                        = var.name
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = merge({ app = "aiprod" }, var.labels)

  # No versioning: every object is written under a deterministic key (job, shot, attempt) and a
  # rewrite is the same bytes again, so old versions would only cost money. Accidental deletes
  # are covered by soft delete instead.
  versioning {
    enabled = false
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_days * 86400
  }

  # Uploads interrupted by a restart leave parts behind.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # Old renders are rarely read again; the render cache (RENDER_CACHE_TTL_SECONDS, 7 days by
  # default) reuses only recent clips.
  lifecycle_rule {
    condition {
      age = var.nearline_after_days
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  # A backstop only: the retention sweeper deletes each tenant's files by its own retention (days
  # after the job ended); this deletes whatever is older than any tenant may keep a file.
  lifecycle_rule {
    condition {
      age = var.delete_after_days
    }
    action {
      type = "Delete"
    }
  }
}
