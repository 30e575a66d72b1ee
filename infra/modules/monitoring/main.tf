# Monitoring of the product: log-based metrics from its structured logs,
# an alert policy for each way a user silently stops being synced (each
# with documentation that links its runbook section in docs/operations.md),
# and a dashboard. Every alert notifies var.notification_channels.

locals {
  # The functions' own logs: Cloud Run revisions, JSON payloads written by
  # package logging (message, severity and the fields of each line).
  logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^crmsync-\""

  # Log-based metrics. Counters count matching lines; the mail outcomes
  # are distributions of the counts each "mail: pass done" line carries.
  counters = {
    "pass_failures" = {
      description = "Passes that failed and were acknowledged, or will be redelivered (jobs, Gmail notifications)"
      filter      = "${local.logs} AND (jsonPayload.message=~\": not done; Pub/Sub will redeliver$\" OR jsonPayload.message=~\": failed; acknowledged$\")"
    }
    "renewal_failures" = {
      description = "Gmail watch renewals that failed (the watch lapses after 7 days)"
      filter      = "${local.logs} AND jsonPayload.message=~\"^jobs: \" AND jsonPayload.err=~\"^watch-renewal\""
    }
    "lost_access" = {
      description = "Users whose Google access was lost (they are asked to reconnect)"
      filter      = "${local.logs} AND (jsonPayload.message=\"Google access lost; the user must reconnect\" OR jsonPayload.message=~\"^acting for the user fails\")"
    }
    "configuration_errors" = {
      description = "The deployment's own configuration problems (an OAuth client, a key, delegation)"
      filter      = "${local.logs} AND jsonPayload.message=~\"^configuration problem: \""
    }
  }
  outcomes = ["posted", "failed", "unmatched"]

  doc = {
    dead_letters    = "dead-lettered-messages"
    pass_failures   = "passes-failing"
    renewals        = "watch-renewals-failing"
    rate_limits     = "google-rate-limits"
    lost_access     = "many-users-lost-access"
    configuration   = "configuration-errors"
    function_errors = "function-errors"
  }
}

resource "google_logging_metric" "counter" {
  for_each    = local.counters
  project     = var.project_id
  name        = "crmsync/${each.key}"
  description = each.value.description
  filter      = each.value.filter
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_logging_metric" "mail_outcome" {
  for_each        = toset(local.outcomes)
  project         = var.project_id
  name            = "crmsync/mail_${each.key}"
  description     = "Messages ${each.key} by e-mail posting passes"
  filter          = "${local.logs} AND jsonPayload.message=\"mail: pass done\" AND jsonPayload.${each.key}>0"
  value_extractor = "EXTRACT(jsonPayload.${each.key})"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }
}

# Each way a user silently stops being synced: one alert policy each,
# notifying the channels, with documentation that links its runbook
# section.
locals {
  log_metric = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/crmsync"
  alerts = {
    dead_letters = {
      name      = "dead-lettered messages waiting"
      condition = "a dead-lettered message older than ${var.dead_letter_max_age_minutes} minutes"
      filter    = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.labels.subscription_id=one_of(${join(",", [for s in var.dead_letter_subscriptions : "\"${s}\""])})"
      threshold = var.dead_letter_max_age_minutes * 60, duration = "0s", period = "300s", aligner = "ALIGN_MAX", reducer = null, by = []
      text      = "Jobs or Gmail notifications failed 20 times and wait in a dead-letter subscription: some users' passes did not run."
    }
    pass_failures = {
      name      = "passes failing for an hour"
      condition = "passes failed in every 10 minutes of the last hour"
      filter    = "${local.log_metric}/pass_failures\""
      threshold = 0, duration = "3600s", period = "600s", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", by = []
      text      = "Passes have failed without a break for an hour: users' mail, contacts or calendars are not syncing."
    }
    renewals = {
      name      = "Gmail watch renewals failing"
      condition = "a watch renewal failed"
      filter    = "${local.log_metric}/renewal_failures\""
      threshold = 0, duration = "0s", period = "3600s", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", by = []
      text      = "A Gmail watch could not be renewed; it lapses after 7 days, and then that user's labeled mail waits for the 10-minute sweep."
    }
    rate_limits = {
      name      = "Google answers 429 to the product"
      condition = "more than 50 answers of 429 from Gmail, People or Calendar in 10 minutes"
      filter    = "resource.type=\"consumed_api\" AND metric.type=\"serviceruntime.googleapis.com/api/request_count\" AND resource.labels.service=one_of(\"gmail.googleapis.com\",\"people.googleapis.com\",\"calendar-json.googleapis.com\") AND metric.labels.response_code=\"429\""
      threshold = 50, duration = "0s", period = "600s", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", by = ["resource.labels.service"]
      text      = "Google refuses the product's calls for quota: passes slow down and retry."
    }
    lost_access = {
      name      = "many users lost Google access"
      condition = "more than 3 users lost access within 10 minutes"
      filter    = "${local.log_metric}/lost_access\""
      threshold = 3, duration = "0s", period = "600s", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", by = []
      text      = "Several users lost Google access at once: more likely a change of the firm's (an OAuth client, a policy, delegation) than of the users'."
    }
    configuration = {
      name      = "configuration problem"
      condition = "a configuration problem was logged"
      filter    = "${local.log_metric}/configuration_errors\""
      threshold = 0, duration = "0s", period = "300s", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", by = []
      text      = "The deployment's own setup stops work for users (the OAuth client, a key, domain-wide delegation); nobody is disconnected, everything waits for the fix."
    }
    function_errors = {
      name      = "functions answering 5xx"
      condition = "more than 20 answers of 5xx from a function in 10 minutes"
      filter    = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\" AND resource.labels.service_name=one_of(${join(",", [for f in var.functions : "\"${f}\""])})"
      threshold = 20, duration = "0s", period = "600s", aligner = "ALIGN_SUM", reducer = "REDUCE_SUM", by = ["resource.labels.service_name"]
      text      = "A function answers 5xx: a function that cannot start answers 503, and Pub/Sub redelivers."
    }
  }
}

resource "google_monitoring_alert_policy" "alert" {
  for_each              = local.alerts
  project               = var.project_id
  display_name          = "crmsync: ${each.value.name}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  conditions {
    display_name = each.value.condition
    condition_threshold {
      filter          = each.value.filter
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = each.value.duration
      aggregations {
        alignment_period     = each.value.period
        per_series_aligner   = each.value.aligner
        cross_series_reducer = each.value.reducer
        group_by_fields      = each.value.by
      }
    }
  }
  documentation {
    content   = "${each.value.text} Runbook: ${var.runbook_url}#${local.doc[each.key]}"
    mime_type = "text/markdown"
  }
  depends_on = [google_logging_metric.counter]
}

resource "google_monitoring_dashboard" "main" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "crmsync"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, w in [
          {
            title = "Messages per outcome per hour"
            sets = [for o in local.outcomes : {
              filter = "metric.type=\"logging.googleapis.com/user/crmsync/mail_${o}\" AND resource.type=\"cloud_run_revision\""
              align  = "ALIGN_DELTA", reduce = "REDUCE_SUM", period = "3600s"
            }]
          },
          {
            title = "Pass latency (GmailPush and Jobs, 95th percentile)"
            sets = [{
              filter = "metric.type=\"run.googleapis.com/request_latencies\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=one_of(\"crmsync-gmailpush\",\"crmsync-jobs\")"
              align  = "ALIGN_PERCENTILE_95", reduce = "REDUCE_MAX", period = "300s"
            }]
          },
          {
            title = "Queue age (oldest unacknowledged message)"
            sets = [{
              filter = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\""
              align  = "ALIGN_MAX", reduce = "REDUCE_MAX", period = "300s"
            }]
          },
          {
            title = "Google API calls by answer (quota use)"
            sets = [{
              filter = "metric.type=\"serviceruntime.googleapis.com/api/request_count\" AND resource.type=\"consumed_api\" AND resource.labels.service=one_of(\"gmail.googleapis.com\",\"people.googleapis.com\",\"calendar-json.googleapis.com\")"
              align  = "ALIGN_RATE", reduce = "REDUCE_SUM", period = "300s"
            }]
          },
          ] : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = w.title
            xyChart = {
              dataSets = [for s in w.sets : {
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = s.filter
                    aggregation = { alignmentPeriod = s.period, perSeriesAligner = s.align, crossSeriesReducer = s.reduce }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
}
