variable "project_id" {
  type        = string
  description = "Google Cloud project id of the prod environment."
}

variable "project_number" {
  type        = string
  description = "Project number (names the Pub/Sub service agent that moves dead letters)."
}

variable "region" {
  type        = string
  description = "Region of Cloud Run, Artifact Registry and the bucket."
  default     = "europe-west1"
}

variable "firestore_location" {
  type        = string
  description = "Firestore multi-region or region."
  default     = "eur3"
}

variable "image_tag" {
  type        = string
  description = "Tag (commit short SHA) of the images the bootstrap build pushed; used only when a workload is created, Cloud Build deploys later images."
}

variable "gemini_location" {
  type        = string
  description = "Vertex AI location for Gemini (planner director, QA judge)."
  default     = "europe-west1"
}

variable "veo_location" {
  type        = string
  description = "Vertex AI location for Veo renders."
  default     = "us-central1"
}

variable "gateway_min_instances" {
  type        = number
  description = "Gateway instances kept warm."
  default     = 1
}

variable "gateway_max_instances" {
  type        = number
  description = "Gateway instance ceiling."
  default     = 20
}

variable "pool_instances" {
  type        = map(number)
  description = "Worker pool name => instance count (manual scaling; docs/decisions/2026-12-worker-pool-scaling.md)."
  default = {
    "aiprod-planner"          = 2
    "aiprod-qa"               = 2
    "aiprod-delivery"         = 2
    "aiprod-render-local"     = 1
    "aiprod-render-runway"    = 2
    "aiprod-render-veo"       = 2
    "aiprod-render-replicate" = 1
  }
}

variable "media_retention_days" {
  type        = number
  description = "Days clips, frames and finished videos are kept in the bucket."
  default     = 365
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy Cloud Run services and pools from Terraform."
  default     = true
}
