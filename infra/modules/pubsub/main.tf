# The Gmail notification topic (Gmail's push service may publish to it),
# the jobs topic, a dead-letter topic per subscription, and authenticated
# push subscriptions to the functions.

locals {
  topics = {
    "gmail-notifications" = "Gmail users.watch notifications ({emailAddress, historyId})"
    "jobs"                = "per-user jobs from the scheduler dispatch, previews and webhooks"
  }
  pubsub_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "topic" {
  for_each                   = local.topics
  project                    = var.project_id
  name                       = each.key
  labels                     = { app = "crmsync" }
  message_retention_duration = "86400s"
}

# Gmail publishes watch notifications as this Google-owned account.
resource "google_pubsub_topic_iam_member" "gmail_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.topic["gmail-notifications"].id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:gmail-api-push@system.gserviceaccount.com"
}

# The functions that publish jobs (Web, Dispatch, CalendarPush), granted on
# the topic itself, so the grant is made after the topic exists.
resource "google_pubsub_topic_iam_member" "jobs_publisher" {
  for_each = var.jobs_publishers
  project  = var.project_id
  topic    = google_pubsub_topic.topic["jobs"].id
  role     = "roles/pubsub.publisher"
  member   = each.value
}

resource "google_pubsub_topic" "dead_letter" {
  for_each                   = var.push
  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  labels                     = { app = "crmsync" }
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "push" {
  for_each                   = var.push
  project                    = var.project_id
  name                       = each.key
  topic                      = google_pubsub_topic.topic[each.value.topic].id
  ack_deadline_seconds       = each.value.ack_deadline_seconds
  message_retention_duration = "604800s"
  labels                     = { app = "crmsync" }

  push_config {
    push_endpoint = each.value.endpoint
    oidc_token {
      service_account_email = var.push_service_account
      audience              = each.value.endpoint
    }
  }

  retry_policy {
    minimum_backoff = "1s"
    maximum_backoff = "60s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = each.value.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires
  }
}

# A subscription to each dead-letter topic keeps what failed, for an
# operator to inspect and replay.
resource "google_pubsub_subscription" "dead_letter" {
  for_each                   = var.push
  project                    = var.project_id
  name                       = "${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  message_retention_duration = "604800s"
  labels                     = { app = "crmsync" }
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards undeliverable messages: it publishes
# to the dead-letter topics and acknowledges on the subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = var.push
  project  = var.project_id
  topic    = google_pubsub_topic.dead_letter[each.key].id
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = var.push
  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The service agent mints the push subscriptions' OIDC tokens.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.push_service_account}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}
