output "subscriptions" {
  description = "Work subscription name => owning service (catalogue service name)."
  value = {
    for name, s in local.subscriptions : name => s.service
  }
}

output "subscription_owners" {
  description = "Every subscription a workload pulls (work and dead-letter watch) => owning workload, e.g. aiprod-render-veo. Drives the per-subscription roles/pubsub.subscriber grants."
  # The values come from the catalogue (known when planning); the grants made from them must
  # still wait for the subscriptions to exist.
  depends_on = [google_pubsub_subscription.subscription, google_pubsub_subscription.dead_letter_watch]
  value = merge(
    local.owner,
    { for name, s in local.subscriptions : s.deadLetterWatchSubscription => local.owner[name] },
  )
}

output "subscription_names" {
  description = "Every subscription this module creates (work, dead-letter hold and watch), for the deployer's pre-deploy snapshots."
  value = concat(
    keys(local.subscriptions),
    [for s in local.subscriptions : s.deadLetterHoldSubscription],
    [for s in local.subscriptions : s.deadLetterWatchSubscription],
  )
}

output "topic_publishers" {
  description = "Topic name => the catalogue services that publish to it. Drives the per-topic roles/pubsub.publisher grants."
  depends_on  = [google_pubsub_topic.topic]
  value       = { for name, t in local.topics : name => t.publishers }
}
