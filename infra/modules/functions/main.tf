# Cloud Functions gen2, one per function of functions/, each from its
# staged source tree and running as its own service account.

locals {
  invoker_bindings = merge([for name, f in var.functions : {
    for m in f.invokers : "${name}/${m}" => { function = name, member = m }
  }]...)
}

resource "google_storage_bucket_object" "source" {
  for_each = var.functions
  bucket   = var.bucket
  # The content hash in the name: changed code is a new object, which
  # makes Terraform update the function.
  name   = "${each.key}/${filemd5(each.value.source_zip)}.zip"
  source = each.value.source_zip
}

resource "google_cloudfunctions2_function" "function" {
  for_each = var.functions
  project  = var.project_id
  location = var.region
  name     = each.key
  labels   = { app = "crmsync" }

  build_config {
    runtime     = var.runtime
    entry_point = each.value.entry_point
    source {
      storage_source {
        bucket = var.bucket
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = each.value.service_account
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout_seconds
    max_instance_count               = each.value.max_instances
    min_instance_count               = 0
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    environment_variables            = each.value.env
  }
}

resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = local.invoker_bindings
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.function[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value.member
}
