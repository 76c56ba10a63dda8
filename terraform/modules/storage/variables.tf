variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "name" {
  type        = string
  description = "Bucket name (globally unique), e.g. <project>-aiprod-media."
}

variable "location" {
  type        = string
  description = "Bucket location; the Cloud Run region keeps reads and writes local, e.g. europe-west1."
}

variable "nearline_after_days" {
  type        = number
  description = "Move objects to Nearline after this many days."
  default     = 30
}

variable "delete_after_days" {
  type        = number
  description = "Delete objects (clips, frames, finished videos) after this many days: the platform's media retention."
  default     = 365
  validation {
    condition     = var.delete_after_days >= 30
    error_message = "delete_after_days must be at least 30 (longer than the render cache and the signed-URL lifetime)."
  }
}

variable "soft_delete_days" {
  type        = number
  description = "Days a deleted object can still be restored (0 to 90)."
  default     = 7
}

variable "labels" {
  type        = map(string)
  description = "Extra labels on the bucket."
  default     = {}
}
