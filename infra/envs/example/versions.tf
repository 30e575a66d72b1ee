# Pinned: the provider release the plan test stands for (scripts/terraform-
# check.sh builds the provider from its source two days after the 8.0.0
# release, as the registry is out of reach there). The lock file records
# the version; the pipeline inits with -lockfile=readonly. Upgrade by
# changing it here, running `terraform init -upgrade` and the checks, and
# committing the lock file.
terraform {
  required_version = ">= 1.11, < 2.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "8.0.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
