variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "region" {
  type        = string
  description = "Cloud Run region, e.g. europe-west1."
}

variable "name" {
  type        = string
  description = "Worker pool name, e.g. aiprod-render-veo (docs/decisions/2026-12-cloud-run-shape.md)."
}

variable "service_account_email" {
  type        = string
  description = "The pool's own runtime service account (from the iam module)."
}

variable "image" {
  type        = string
  description = "Container image for the first revision; later images are deployed by Cloud Build (ignored here after creation)."
}

variable "env" {
  type        = map(string)
  description = "Plain environment variables (never secrets: use secret_env)."
  default     = {}
}

variable "secret_env" {
  type        = map(string)
  description = "Environment variable name => Secret Manager secret id, mounted as the latest version."
  default     = {}
}

variable "instance_count" {
  type        = number
  description = "Instances the pool runs (manual scaling). Each pulls with the service's flow control, so capacity = instances x per-process concurrency."
  validation {
    condition     = var.instance_count >= 0 && var.instance_count <= 100
    error_message = "instance_count must be between 0 and 100."
  }
}

variable "cpu" {
  type        = string
  description = "CPU per instance: 1, 2, 4, 6 or 8."
  default     = "1"
}

variable "memory" {
  type        = string
  description = "Memory per instance, e.g. \"1Gi\"."
  default     = "512Mi"
}

variable "launch_stage" {
  type        = string
  description = "Cloud Run launch stage for the resource; null uses the provider's default (set BETA if the API still requires it for worker pools in your project)."
  default     = null
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy the pool from Terraform."
  default     = true
}

variable "labels" {
  type        = map(string)
  description = "Extra labels on the pool."
  default     = {}
}

variable "collector_config_secret" {
  type        = string
  description = "Secret Manager secret id of the OpenTelemetry collector config (monitoring module output collector_config_secret), mounted into the collector sidecar."
}

variable "collector_config_version" {
  type        = string
  description = "Secret Manager version number of the collector config (monitoring module output collector_config_version). A number, never \"latest\": a config change then makes a new revision instead of reaching new instances of running ones."
  validation {
    condition     = can(regex("^[0-9]+$", var.collector_config_version))
    error_message = "collector_config_version is a version number, not \"latest\" or an alias."
  }
}

variable "collector_image" {
  type        = string
  description = "Google-Built OpenTelemetry Collector image for the sidecar, pinned to a release."
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/otelcol-google:0.159.0"
}
