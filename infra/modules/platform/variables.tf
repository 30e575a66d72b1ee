variable "project_id" {
  description = "Google Cloud project ID the product runs in."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of Firestore (a regional location such as us-east1, or a multi-region nam5/eur3), the functions and the staging bucket."
  type        = string
}

variable "firestore_location" {
  description = "Firestore location: nam5, eur3 or a region."
  type        = string
}

variable "firestore_deletion_policy" {
  description = "What destroying this configuration does to the Firestore database: ABANDON (keep the data, the default) or DELETE."
  type        = string
  default     = "ABANDON"
  validation {
    condition     = contains(["ABANDON", "DELETE"], var.firestore_deletion_policy)
    error_message = "firestore_deletion_policy must be ABANDON or DELETE."
  }
}

variable "disable_apis_on_destroy" {
  description = "Whether destroying this configuration disables the APIs it enabled. Off by default: other workloads in the project may use them."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "How many days each daily Firestore backup is kept (1 to 98: Firestore keeps backups at most 14 weeks)."
  type        = number
  default     = 14
  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 98
    error_message = "backup_retention_days must be from 1 to 98."
  }
}
