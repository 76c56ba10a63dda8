# The Docker repository `aiprod` that Cloud Build pushes gateway, planner, render, qa and delivery
# images to (tagged with the commit's short SHA).

resource "google_artifact_registry_repository" "images" {
  project                = var.project_id
  location               = var.location
  repository_id          = var.repository_id
  format                 = "DOCKER"
  description            = "AIPROD service images, pushed by Cloud Build."
  labels                 = { app = "aiprod" }
  cleanup_policy_dry_run = false

  # Keep the last releases of every image (for roll back), whatever their age...
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_recent
    }
  }

  # ...and delete the rest once old, untagged layers first. KEEP wins over DELETE.
  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "604800s"
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.delete_after_days * 86400}s"
    }
  }
}
