# Thresholds have defaults here (the platform passes only the notification channels and who reads
# the collector config): they are the policy, the same in every environment. terraform/monitoring.ts
# reads these defaults to render the alert expressions for the local Prometheus, so a change here
# is a change there.

variable "project_id" {
  type        = string
  description = "Google Cloud project id the dashboards, alert policies, SLOs and collector config are created in."
}

variable "notification_channels" {
  type        = list(string)
  description = "Notification channel ids (projects/<p>/notificationChannels/<id>) every alert policy notifies; empty: alerts open incidents without notifying anyone."
  default     = []
}

variable "runbook_url" {
  type        = string
  description = "Where operators read docs/runbook.md (e.g. the repository's web view of it); each alert's documentation links to its section there."
  default     = "docs/runbook.md"
}

variable "collector_readers" {
  type        = map(string)
  description = "Workload name => IAM member (serviceAccount:...) of each Cloud Run workload whose collector sidecar mounts the collector config."
}

variable "oldest_unacked_bound_seconds" {
  type        = number
  description = "Alert when a consumer has held a message unacked for longer than this (seconds since publish). A render attempt may poll a vendor for minutes, so well above a render's length."
  default     = 1800
}

variable "backend_error_ratio" {
  type        = number
  description = "Alert when failed tries / finished tries of a render backend over 15 minutes exceed this ratio."
  default     = 0.25
  validation {
    condition     = var.backend_error_ratio > 0 && var.backend_error_ratio < 1
    error_message = "backend_error_ratio is a ratio strictly between 0 and 1."
  }
}

variable "backend_min_tries" {
  type        = number
  description = "The backend error-ratio alert needs at least this many finished tries in its 15-minute window, so one failed try on an idle backend does not page."
  default     = 5
}

variable "budget_burn_ratio" {
  type        = number
  description = "Alert when a capped tenant's spend this month exceeds this share of its monthly cap (the gateway refuses new jobs at 1)."
  default     = 0.8
}

variable "availability_objective" {
  type        = number
  description = "Gateway availability SLO: the share of requests answered without a 5xx over 28 days. The burn-rate alerts derive their thresholds from it."
  default     = 0.995
  validation {
    condition     = var.availability_objective > 0 && var.availability_objective < 1
    error_message = "availability_objective is a ratio strictly between 0 and 1."
  }
}

variable "latency_objective" {
  type        = number
  description = "Gateway latency SLO: the share of requests answered within 0.5 s over 28 days."
  default     = 0.99
}

variable "deadline_objective" {
  type        = number
  description = "Jobs SLO: the share of finished jobs (delivered or failed) delivered within their preset's deadline over 28 days."
  default     = 0.95
}

variable "circuit_open_seconds" {
  type        = number
  description = "Alert when a render pool's circuit breaker has not been closed at any moment for this long (open or half-open throughout)."
  default     = 300
}
