variable "project_id" {
  type        = string
  description = "Google Cloud project id."
}

variable "secrets" {
  type = map(object({
    description = string
    accessors   = map(string)
  }))
  description = "Secret id => what it holds and who may read it (label => member, e.g. aiprod-render-runway => serviceAccount:...); nobody else is granted access."
}
