variable "project_id" {
  type = string
}

variable "project_number" {
  type = string
}

variable "region" {
  type    = string
  default = "europe-west1"
}

variable "firestore_location" {
  type        = string
  default     = "eur3"
  description = "Firestore multi-region or region."
}
