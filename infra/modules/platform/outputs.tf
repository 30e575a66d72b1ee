output "secret_ids" {
  description = "Secret Manager secret IDs by name (values are added outside Terraform)."
  value       = { for k, s in google_secret_manager_secret.secrets : k => s.id }
}

output "sources_bucket" {
  description = "Bucket the staged function sources are uploaded to."
  value       = google_storage_bucket.sources.name
}

output "database" {
  description = "The Firestore database name."
  value       = google_firestore_database.main.name
}

output "docker_repository" {
  description = "The functions' Artifact Registry repository (projects/P/locations/R/repositories/NAME)."
  value       = google_artifact_registry_repository.functions.id
}

output "docker_repository_name" {
  description = "The functions' Artifact Registry repository ID."
  value       = google_artifact_registry_repository.functions.repository_id
}
