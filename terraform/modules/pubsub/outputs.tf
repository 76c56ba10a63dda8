output "subscriptions" {
  description = "Subscription names by owning service, for the services' IAM bindings."
  value = {
    for name, s in local.subscriptions : name => s.service
  }
}
