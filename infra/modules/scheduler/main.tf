# Cloud Scheduler: one job per kind, each POSTing {"kind": …} to the
# Dispatch function with an OIDC token, which fans out one job per user.

resource "google_cloud_scheduler_job" "job" {
  for_each         = var.jobs
  project          = var.project_id
  region           = var.region
  name             = "crmsync-${each.key}"
  description      = "crmsync ${each.key}: Dispatch publishes one job per user"
  schedule         = each.value
  time_zone        = var.time_zone
  attempt_deadline = "120s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
  }

  http_target {
    http_method = "POST"
    uri         = var.dispatch_uri
    body        = base64encode(jsonencode({ kind = each.key }))
    headers     = { "Content-Type" = "application/json" }
    oidc_token {
      service_account_email = var.service_account
      audience              = var.dispatch_uri
    }
  }
}
