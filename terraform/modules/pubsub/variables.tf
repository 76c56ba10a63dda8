variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "project_number" {
  type        = string
  description = "Project number (for the Pub/Sub service agent)."
}

variable "catalogue_file" {
  type        = string
  description = "Path of the exported topic catalogue (packages/contracts/catalogue.json)."
}

variable "work_message_retention" {
  type        = string
  description = "How long work subscriptions keep acknowledged messages for replay by seek (Pub/Sub allows 10m to 7d)."
  default     = "604800s"
}
