terraform {
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }

  # Remote state in a GCS bucket created once by hand (docs/deploy.md). Partial configuration:
  # the bucket and prefix are given at init, so no project's names live in git:
  #   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=aiprod/<env>"
  backend "gcs" {}
}
