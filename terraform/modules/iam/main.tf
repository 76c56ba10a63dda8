# One service account per Cloud Run service and worker pool, named as the workload
# (aiprod-render-veo@...), plus aiprod-deployer for Cloud Build. Each account gets only what its
# code does: pull its own subscriptions, publish the topics the catalogue says its service
# publishes, use Firestore, touch the bucket's objects if it stores files, call Vertex AI if it
# does, sign URLs as itself if it hands them out, and write its metrics and spans.

locals {
  project_member = { for name, w in var.workloads : name => "serviceAccount:${google_service_account.workload[name].email}" }

  # topic => [service] from the catalogue, expanded to every deployed workload of that service
  # (all render pools publish render.* for fallback, shot.rendered and job.finished).
  publisher_grants = {
    for pair in flatten([
      for topic, services in var.topic_publishers : [
        for name, w in var.workloads : { topic = topic, workload = name } if contains(services, w.service)
      ]
    ]) : "${pair.topic} ${pair.workload}" => pair
  }

  # Subscriptions whose owning workload is deployed here (an undeployed backend's pool has none).
  subscriber_grants = { for sub, owner in var.subscription_owners : sub => owner if contains(keys(var.workloads), owner) }
}

resource "google_service_account" "workload" {
  for_each     = var.workloads
  project      = var.project_id
  account_id   = each.key
  display_name = "AIPROD ${each.key} (Cloud Run)"
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "aiprod-deployer"
  display_name = "AIPROD deployer (Cloud Build)"
}

resource "google_pubsub_subscription_iam_member" "subscriber" {
  for_each     = local.subscriber_grants
  project      = var.project_id
  subscription = each.key
  role         = "roles/pubsub.subscriber"
  member       = local.project_member[each.value]
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publisher_grants
  project  = var.project_id
  topic    = each.value.topic
  role     = "roles/pubsub.publisher"
  member   = local.project_member[each.value.workload]
}

# Firestore grants only at project (or database-condition) level; every workload reads and
# writes jobs.
resource "google_project_iam_member" "datastore" {
  for_each = var.workloads
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = local.project_member[each.key]
}

# Every workload's collector sidecar writes its metrics (Managed Service for Prometheus) and spans
# (Cloud Trace) as the workload's own account; write-only roles, granted project-wide because
# neither API has a narrower resource to grant them on.
locals {
  telemetry_grants = {
    for pair in setproduct(keys(var.workloads), ["roles/monitoring.metricWriter", "roles/cloudtrace.agent"]) :
    "${pair[0]} ${pair[1]}" => { workload = pair[0], role = pair[1] }
  }
}

resource "google_project_iam_member" "telemetry" {
  for_each = local.telemetry_grants
  project  = var.project_id
  role     = each.value.role
  member   = local.project_member[each.value.workload]
}

# Only the workloads that call Gemini or Veo on Vertex AI.
resource "google_project_iam_member" "vertex" {
  for_each = { for name, w in var.workloads : name => w if w.vertex }
  project  = var.project_id
  role     = "roles/aiplatform.user"
  member   = local.project_member[each.key]
}

# Object access on the one bucket, per workload: readers (the gateway streams and signs) get
# objectViewer, writers objectUser (an upload retried under the same key replaces the object,
# which needs delete as well as create).
resource "google_storage_bucket_iam_member" "objects" {
  for_each = { for name, w in var.workloads : name => w if w.bucket_role != null }
  bucket   = var.bucket_name
  role     = each.value.bucket_role
  member   = local.project_member[each.key]
}

# V4 signed URLs without a key file: the client library signs through the IAM signBlob API as
# the account itself, which needs the token-creator role on that same account, and nowhere else.
resource "google_service_account_iam_member" "sign_as_self" {
  for_each           = { for name, w in var.workloads : name => w if w.signs_urls }
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.project_member[each.key]
}

# The deployer (Cloud Build): deploy revisions and splits, act as the runtime accounts when
# deploying, push images, snapshot subscriptions before a deploy, write its build logs. Its one
# secret (the smoke job's API key) is granted in the secrets module.
locals {
  deployer_member = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_project_iam_member" "deployer" {
  for_each = toset(["roles/run.developer", "roles/logging.logWriter"])
  project  = var.project_id
  role     = each.value
  member   = local.deployer_member
}

resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each           = var.workloads
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer_member
}

resource "google_artifact_registry_repository_iam_member" "deployer_writer" {
  project    = var.project_id
  location   = var.artifact_location
  repository = var.artifact_repository
  role       = "roles/artifactregistry.writer"
  member     = local.deployer_member
}

# Snapshot every consumed subscription before a deploy and seek back on roll-back, without
# pubsub.editor's power over topics and subscriptions. Snapshot rights are project-wide (a
# snapshot is a project resource); consume, which snapshot create and seek need on the source
# subscription, is granted per subscription, so the deployer (which runs the repository's tests)
# holds no project-wide right to pull or acknowledge messages.
resource "google_project_iam_custom_role" "snapshotter" {
  project     = var.project_id
  role_id     = "aiprodSnapshotter"
  title       = "AIPROD Pub/Sub snapshotter"
  description = "Create, list, seek to and delete Pub/Sub snapshots (pre-deploy replay points)."
  permissions = [
    "pubsub.snapshots.create",
    "pubsub.snapshots.delete",
    "pubsub.snapshots.get",
    "pubsub.snapshots.list",
    "pubsub.snapshots.seek",
    "pubsub.subscriptions.list",
  ]
}

resource "google_project_iam_member" "deployer_snapshots" {
  project = var.project_id
  role    = google_project_iam_custom_role.snapshotter.name
  member  = local.deployer_member
}

resource "google_project_iam_custom_role" "snapshot_source" {
  project     = var.project_id
  role_id     = "aiprodSnapshotSource"
  title       = "AIPROD snapshot source"
  description = "Snapshot a subscription and seek it (granted per subscription, never project-wide)."
  permissions = [
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.get",
  ]
}

resource "google_pubsub_subscription_iam_member" "deployer_snapshot_source" {
  for_each     = var.subscription_owners
  project      = var.project_id
  subscription = each.key
  role         = google_project_iam_custom_role.snapshot_source.id
  member       = local.deployer_member
}
