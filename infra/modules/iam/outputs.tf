output "function_emails" {
  description = "Each function's service account e-mail, by function name."
  value       = { for k, sa in google_service_account.function : k => sa.email }
}

output "pubsub_push_email" {
  description = "The service account Pub/Sub push subscriptions sign OIDC tokens as."
  value       = google_service_account.pubsub_push.email
}

output "scheduler_email" {
  description = "The service account Cloud Scheduler jobs sign OIDC tokens as."
  value       = google_service_account.scheduler.email
}

output "delegation_client_id" {
  description = "The client ID to authorize for domain-wide delegation in the Admin console."
  value       = google_service_account.delegation.unique_id
}

output "delegation_email" {
  description = "The delegation service account's e-mail (DELEGATION_SERVICE_ACCOUNT of the functions that act for users)."
  value       = google_service_account.delegation.email
}

output "build_service_account" {
  description = "Resource name of the account Cloud Build builds the functions as."
  value       = google_service_account.build.id
}
