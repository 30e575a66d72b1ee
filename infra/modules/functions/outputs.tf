output "uris" {
  description = "Each function's Cloud Run URL, by name."
  value       = { for k, f in google_cloudfunctions2_function.function : k => f.service_config[0].uri }
}
