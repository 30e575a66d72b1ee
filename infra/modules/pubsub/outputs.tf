output "topic_ids" {
  description = "Topic IDs by name."
  value       = { for k, t in google_pubsub_topic.topic : k => t.id }
}

output "gmail_topic" {
  description = "The topic Gmail watches publish to."
  value       = google_pubsub_topic.topic["gmail-notifications"].id
}
