# Firestore: the composite indexes the queries need (the emulator checks none, production does)
# and TTL policies on the documents that expire (the code checks expiry on read, so a late TTL
# deletion is harmless).

resource "google_firestore_database" "default" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
}

locals {
  # GET /v1/jobs: a tenant's jobs newest first, optionally of one status (JobStore.listJobsForTenant).
  # Quotas: a tenant's unfinished jobs (countActiveJobs: tenantId == and status in [...]).
  # Sweepers: the overdue jobs of the states one service owns (overdueJobs: status in [...],
  # deadlineAt <=, ordered by deadlineAt).
  job_indexes = {
    tenant_created = [["tenantId", "ASCENDING"], ["createdAt", "DESCENDING"], ["__name__", "DESCENDING"]]
    tenant_status_created = [
      ["tenantId", "ASCENDING"], ["status", "ASCENDING"], ["createdAt", "DESCENDING"], ["__name__", "DESCENDING"]
    ]
    tenant_status   = [["tenantId", "ASCENDING"], ["status", "ASCENDING"]]
    status_deadline = [["status", "ASCENDING"], ["deadlineAt", "ASCENDING"]]
    # The retention sweeper reads jobs by retentionDueAt alone: Firestore's automatic single-field
    # index serves it (ordered by the field, then the document id).
  }
  # Documents with an `expiresAt` the platform no longer needs after it passes. A TTL policy is
  # per collection group: "handled" is the message ledger's handledMessages/{subscription}/handled
  # (one record per message a subscription acked, for `aiprod ops replay`; it expires with the
  # subscriptions' 7-day retention, past which a seek cannot redeliver the message). "estimates"
  # and "directorPlans" (the director's plans kept for the job made from an estimated brief) last
  # a day (docs/decisions/2026-12-estimates-through-the-planner.md). "jobs": an ended job's
  # expiresAt is its end + the tenant's recordsDays + 7 days, set by the retention sweeper, which
  # deletes the record first with its subcollections; TTL (document only) is the backstop. "audit"
  # is the audit trail, tenants/{tenantId}/audit, kept 400 days.
  ttl_collections = ["jobs", "idempotency", "renderCache", "rateLimits", "quotaCounters", "handled", "estimates", "directorPlans", "audit"]
}

resource "google_firestore_index" "jobs" {
  for_each    = local.job_indexes
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "jobs"
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

# shots, across all jobs: each render pool's sweep for attempts whose lease went stale
# (backend == its own, status in PENDING/REJECTED/RENDERING, least recently updated first).
resource "google_firestore_index" "shots_backend_status" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "shots"
  query_scope = "COLLECTION_GROUP"
  fields {
    field_path = "backend"
    order      = "ASCENDING"
  }
  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updatedAt"
    order      = "ASCENDING"
  }
}

# apiKeys: lookups by prefix within a tenant (admin key revoke/rotate).
resource "google_firestore_index" "api_keys_prefix_tenant" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "apiKeys"
  query_scope = "COLLECTION"
  fields {
    field_path = "prefix"
    order      = "ASCENDING"
  }
  fields {
    field_path = "tenantId"
    order      = "ASCENDING"
  }
}

# tenants/{tenantId}/audit: GET /v1/audit?jobId=…, newest first (without jobId the single-field
# index on `at` serves it).
resource "google_firestore_index" "audit_job_at" {
  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = "audit"
  query_scope = "COLLECTION"
  fields {
    field_path = "jobId"
    order      = "ASCENDING"
  }
  fields {
    field_path = "at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

resource "google_firestore_field" "ttl" {
  for_each   = toset(local.ttl_collections)
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.value
  field      = "expiresAt"
  ttl_config {}
}
