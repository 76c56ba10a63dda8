# Topics, subscriptions and dead-letter topics, exactly as the catalogue declares them
# (packages/contracts/catalogue.json, written by `pnpm catalogue:export`). The local platform
# provisions the emulator from the same catalogue, so the two never drift apart.

locals {
  catalogue     = jsondecode(file(var.catalogue_file))
  topics        = { for t in local.catalogue.topics : t.name => t }
  subscriptions = { for s in local.catalogue.subscriptions : s.name => s }
  # The Cloud Run workload (and service account) that pulls a subscription: the service, or for
  # render the pool of the subscription's backend (aiprod-render-veo).
  owner = {
    for name, s in local.subscriptions : name => (
      try(s.backend, null) == null ? "aiprod-${s.service}" : "aiprod-${s.service}-${s.backend}"
    )
  }
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics
  project  = var.project_id
  name     = each.key
  labels   = { app = "aiprod" }
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.subscriptions
  project  = var.project_id
  name     = each.value.deadLetterTopic
  labels   = { app = "aiprod", kind = "dead-letter" }
}

resource "google_pubsub_subscription" "subscription" {
  for_each             = local.subscriptions
  project              = var.project_id
  name                 = each.key
  topic                = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds = each.value.policy.ackDeadlineSeconds
  labels               = { app = "aiprod", service = each.value.service }

  # Acked messages stay for replay: before a deploy Cloud Build snapshots every subscription, and
  # a bad release is undone by seeking back to the snapshot (or to a time within the window).
  retain_acked_messages      = true
  message_retention_duration = var.work_message_retention

  # Never expire: a subscription with no pull for 31 days (a quiet backend) would otherwise be
  # deleted, and its messages with it.
  expiration_policy {
    ttl = ""
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.policy.maxDeliveryAttempts
  }

  retry_policy {
    minimum_backoff = "${each.value.policy.minimumBackoffSeconds}s"
    maximum_backoff = "${each.value.policy.maximumBackoffSeconds}s"
  }
}

# Letters wait here for an operator; nothing consumes this subscription.
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each                   = local.subscriptions
  project                    = var.project_id
  name                       = each.value.deadLetterHoldSubscription
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  # Nobody pulls this one, so it would expire after 31 quiet days without this.
  expiration_policy {
    ttl = ""
  }
}

# The owning service reads this one to mark the job FAILED (dead_lettered).
resource "google_pubsub_subscription" "dead_letter_watch" {
  for_each             = local.subscriptions
  project              = var.project_id
  name                 = each.value.deadLetterWatchSubscription
  topic                = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds = 30

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's own service agent must be able to move letters to the dead-letter topics and to
# acknowledge them on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.subscriptions
  project  = var.project_id
  topic    = google_pubsub_topic.dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = local.subscriptions
  project      = var.project_id
  subscription = google_pubsub_subscription.subscription[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
