variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "workloads" {
  type = map(object({
    service     = string
    bucket_role = optional(string)
    vertex      = optional(bool, false)
    signs_urls  = optional(bool, false)
  }))
  description = "Account id (= Cloud Run workload name, e.g. aiprod-render-veo) => its catalogue service, its role on the bucket's objects (null: none), whether it calls Vertex AI, whether it signs V4 URLs."
}

variable "subscription_owners" {
  type        = map(string)
  description = "Subscription => owning workload (pubsub module output subscription_owners)."
}

variable "topic_publishers" {
  type        = map(list(string))
  description = "Topic => catalogue services that publish it (pubsub module output topic_publishers)."
}

variable "bucket_name" {
  type        = string
  description = "The media bucket (storage module)."
}

variable "artifact_repository" {
  type        = string
  description = "Artifact Registry repository the deployer pushes to."
}

variable "artifact_location" {
  type        = string
  description = "Region of the Artifact Registry repository."
}
