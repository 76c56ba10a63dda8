variable "project_id" {
  type        = string
  description = "The Google Cloud project."
}

variable "location" {
  type        = string
  description = "Firestore location, e.g. eur3 or europe-west1."
}
