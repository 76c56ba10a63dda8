# No defaults: every environment root states each value, so what differs between staging and prod
# is visible in their main.tf, and a new input cannot silently take one environment's value.

variable "project_id" {
  type        = string
  description = "Google Cloud project id the platform is created in."
}

variable "project_number" {
  type        = string
  description = "Project number (names the Pub/Sub service agent that moves dead letters)."
}

variable "region" {
  type        = string
  description = "Region of Cloud Run, Artifact Registry and the media bucket, e.g. europe-west1."
}

variable "firestore_location" {
  type        = string
  description = "Firestore multi-region or region, e.g. eur3."
}

variable "image_tag" {
  type        = string
  description = "Tag (commit short SHA) of the images the bootstrap build pushed; used only when a workload is created, Cloud Build deploys later images."
}

variable "gemini_location" {
  type        = string
  description = "Vertex AI location for Gemini (planner director, QA judge)."
}

variable "veo_location" {
  type        = string
  description = "Vertex AI location for Veo renders."
}

variable "gateway_min_instances" {
  type        = number
  description = "Gateway instances kept warm."
}

variable "gateway_max_instances" {
  type        = number
  description = "Gateway instance ceiling."
}

variable "pool_instances" {
  type        = map(number)
  description = "Worker pool name => instance count, one entry per pool (manual scaling; docs/decisions/2026-12-worker-pool-scaling.md)."

  validation {
    condition = sort(keys(var.pool_instances)) == sort([
      "aiprod-planner", "aiprod-qa", "aiprod-delivery",
      "aiprod-render-local", "aiprod-render-runway", "aiprod-render-veo", "aiprod-render-replicate",
    ])
    error_message = "pool_instances needs exactly one count for each worker pool: aiprod-planner, aiprod-qa, aiprod-delivery, aiprod-render-{local,runway,veo,replicate}."
  }
  validation {
    condition     = alltrue([for n in values(var.pool_instances) : n >= 0 && floor(n) == n])
    error_message = "pool_instances counts are whole numbers, 0 or more."
  }
}

variable "media_retention_days" {
  type        = number
  description = "Backstop: any object older than this many days is deleted from the media bucket. Per-tenant retention is enforced by the delivery service's retention sweeper; below 410 days (the longest file retention a tenant may set plus 10) this cuts it short."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy Cloud Run services and pools from Terraform."
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channel ids (projects/<p>/notificationChannels/<id>) every alert policy notifies; empty: incidents open without notifying anyone."
}
