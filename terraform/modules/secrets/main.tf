# Secret Manager secrets and who may read them. Terraform creates the secrets and the access
# grants, never the values: a value in Terraform would sit in the state file. Versions are added
# by hand (terraform/README.md):
#   printf %s "$KEY" | gcloud secrets versions add aiprod-runway-api-key --data-file=-
# Cloud Run resolves `latest` when an instance starts.

resource "google_secret_manager_secret" "secret" {
  for_each  = var.secrets
  project   = var.project_id
  secret_id = each.key
  labels    = { app = "aiprod" }
  # What the secret holds and who reads it, for an operator browsing Secret Manager.
  annotations = { description = each.value.description }

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  # Keyed by the accessor's label, not its member: account emails are unknown until the accounts
  # exist, and for_each keys must be known when planning.
  for_each = {
    for pair in flatten([
      for id, s in var.secrets : [for label, member in s.accessors : { id = id, label = label, member = member }]
    ]) : "${pair.id} ${pair.label}" => pair
  }
  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.id].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
