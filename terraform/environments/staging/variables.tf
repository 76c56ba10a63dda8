# Only what each installation chooses and git must not hold; every size of the staging environment
# is in main.tf.

variable "project_id" {
  type        = string
  description = "Google Cloud project id of the staging environment."
}

variable "project_number" {
  type        = string
  description = "Project number of that project (names the Pub/Sub service agent that moves dead letters)."
}

variable "image_tag" {
  type        = string
  description = "Tag (commit short SHA) of the images the bootstrap build pushed; used only when a workload is created, Cloud Build deploys later images."
}

variable "region" {
  type        = string
  description = "Region of Cloud Run, Artifact Registry and the media bucket."
  default     = "europe-west1"
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Notification channel ids the alert policies notify (created once in the console or with gcloud; they hold addresses and tokens git must not)."
  default     = []
}
