# Cloud Functions gen2, one per function of functions/, each from its
# staged source tree, built by the build service account into the
# product's own Artifact Registry repository, and running as its own
# service account.
#
# No function is opened with an allUsers binding: organizations with
# Google's secure-by-default policies refuse it (domain-restricted
# sharing). A function that must take unauthenticated callers (the
# browser-facing Web function, Google Calendar's webhook, the reference
# CRM's API) has Cloud Run's invoker IAM check disabled on its service
# instead, the supported way under that policy
# (https://cloud.google.com/run/docs/authenticating/public), and checks its
# callers itself (session and CSRF, channel token, API key). The Cloud
# Functions API has no field for it, so a gcloud call makes the change
# after each deployment of such a function.

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
    runtime           = var.runtime
    entry_point       = each.value.entry_point
    service_account   = var.build_service_account
    docker_repository = var.docker_repository
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
    ingress_settings                 = each.value.ingress
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

# The invoker check off for the public functions, after every deployment
# of them (update_time changes with each): gcloud run services update
# --no-invoker-iam-check on the function's service, which Cloud Functions
# names after the function. Needs gcloud where Terraform runs (Cloud
# Shell, or the pipeline's image) and roles/run.admin for the deployer.
resource "terraform_data" "invoker_check_disabled" {
  for_each = { for name, f in var.functions : name => f if f.public }
  input = join(" ", [
    "gcloud", "run", "services", "update", each.key,
    "--project=${var.project_id}", "--region=${var.region}", "--no-invoker-iam-check", "--quiet",
  ])
  triggers_replace = {
    service     = google_cloudfunctions2_function.function[each.key].service_config[0].service
    update_time = google_cloudfunctions2_function.function[each.key].update_time
  }
  provisioner "local-exec" {
    command = self.input
  }
}
