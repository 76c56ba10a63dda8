terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

module "pubsub" {
  source         = "../../modules/pubsub"
  project_id     = var.project_id
  project_number = var.project_number
  catalogue_file = "${path.root}/../../../packages/contracts/catalogue.json"
}

module "firestore" {
  source     = "../../modules/firestore"
  project_id = var.project_id
  location   = var.firestore_location
}
