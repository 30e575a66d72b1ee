variable "project_id" {
  description = "Google Cloud project ID."
  type        = string
}

variable "functions" {
  description = "The functions, keyed by name, with the project roles and secrets each needs."
  type = map(object({
    roles   = list(string)
    secrets = list(string)
  }))
  validation {
    condition = alltrue([for f in values(var.functions) : alltrue([for r in f.roles :
    !contains(["roles/owner", "roles/editor", "roles/viewer"], r)])])
    error_message = "No function identity may hold a basic role (owner, editor, viewer)."
  }
}

variable "secret_ids" {
  description = "Secret Manager secret IDs by name."
  type        = map(string)
}


variable "delegation_signers" {
  description = "Functions (names of var.functions) that act for users through domain-wide delegation: they get roles/iam.serviceAccountTokenCreator on the delegation account."
  type        = list(string)
  default     = []
}

variable "region" {
  description = "Region of the image repository."
  type        = string
}

variable "sources_bucket" {
  description = "Bucket of the staged function sources (the build account reads it)."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository ID of the functions' images (the build account writes it)."
  type        = string
}
