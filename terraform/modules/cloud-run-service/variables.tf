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
  description = "Service name, e.g. aiprod-gateway (docs/decisions/2026-12-cloud-run-shape.md)."
}

variable "service_account_email" {
  type        = string
  description = "The service's own runtime service account (from the iam module)."
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

variable "invoker_members" {
  type        = list(string)
  description = "Members granted roles/run.invoker on the service (allUsers for a public API that authenticates callers itself)."
  default     = []
}

variable "ingress" {
  type        = string
  description = "Ingress setting: INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  default     = "INGRESS_TRAFFIC_ALL"
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm (0 allows cold starts; billed while idle when above 0)."
  default     = 0
}

variable "max_instances" {
  type        = number
  description = "Upper bound on instances (caps cost and Firestore load)."
  default     = 10
}

variable "concurrency" {
  type        = number
  description = "Concurrent requests per instance (event streams count as requests)."
  default     = 80
}

variable "cpu" {
  type        = string
  description = "CPU limit per instance, e.g. \"1\"."
  default     = "1"
}

variable "memory" {
  type        = string
  description = "Memory limit per instance, e.g. \"512Mi\"."
  default     = "512Mi"
}

variable "cpu_always_allocated" {
  type        = bool
  description = "Keep CPU allocated outside requests (instance-based billing). Only for services doing background work."
  default     = false
}

variable "request_timeout_seconds" {
  type        = number
  description = "Longest request, up to 3600 (the gateway's event streams need their SSE_MAX_SECONDS)."
  default     = 3600
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to destroy the service from Terraform."
  default     = true
}

variable "labels" {
  type        = map(string)
  description = "Extra labels on the service."
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
