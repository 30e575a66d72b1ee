output "alert_policies" {
  description = "The alert policies' display names."
  value       = [for p in google_monitoring_alert_policy.alert : p.display_name]
}
