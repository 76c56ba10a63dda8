variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "location" {
  type        = string
  description = "Repository region (the Cloud Run region), e.g. europe-west1."
}

variable "repository_id" {
  type        = string
  description = "Repository name; Cloud Build and the roots use aiprod."
  default     = "aiprod"
}

variable "keep_recent" {
  type        = number
  description = "Most recent versions of each image kept regardless of age (roll-back targets)."
  default     = 20
}

variable "delete_after_days" {
  type        = number
  description = "Versions older than this (and not among the most recent) are deleted."
  default     = 90
}
