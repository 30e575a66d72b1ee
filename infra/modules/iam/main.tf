# One service account per function, holding only what that function
# needs: Firestore access and the secrets it reads (publishing to the jobs
# topic is granted on the topic, by the pubsub module). Plus the identities of Pub/Sub push and Cloud Scheduler (they
# sign the OIDC tokens the functions' Cloud Run services check), and the
# delegation service account (domain-wide delegation for the system sender
# and office-level impersonation; keyless, see delegation_signer), and the
# build service account Cloud Build builds the functions as (new projects
# leave Cloud Build's default account without these rights).

locals {
  role_bindings = merge([for name, f in var.functions : {
    for r in f.roles : "${name}/${r}" => { function = name, role = r }
  }]...)
  secret_bindings = merge([for name, f in var.functions : {
    for s in f.secrets : "${name}/${s}" => { function = name, secret = s }
  }]...)
}

resource "google_service_account" "function" {
  for_each     = var.functions
  project      = var.project_id
  account_id   = "crmsync-${each.key}"
  display_name = "crmsync ${each.key} function"
}

resource "google_project_iam_member" "function" {
  for_each = local.role_bindings
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "function" {
  for_each  = local.secret_bindings
  project   = var.project_id
  secret_id = var.secret_ids[each.value.secret]
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}

resource "google_service_account" "pubsub_push" {
  project      = var.project_id
  account_id   = "crmsync-pubsub-push"
  display_name = "crmsync Pub/Sub push (OIDC identity of push subscriptions)"
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "crmsync-scheduler"
  display_name = "crmsync Cloud Scheduler (OIDC identity of scheduler jobs)"
}

resource "google_service_account" "delegation" {
  project      = var.project_id
  account_id   = "crmsync-delegation"
  display_name = "crmsync domain-wide delegation (system sender, office-level impersonation)"
  description  = "Authorize its client ID in the Admin console. It has no key: the functions that act for users have Google sign as it (IAM Credentials signJwt)."
}

# The functions that act for users through domain-wide delegation may have
# Google sign assertions as the delegation account: keyless, so no
# service-account key exists (secure-by-default organizations forbid them).
resource "google_service_account_iam_member" "delegation_signer" {
  for_each           = toset(var.delegation_signers)
  service_account_id = google_service_account.delegation.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Cloud Build builds the functions as this account, with the rights Google
# documents for a custom build service account
# (https://cloud.google.com/run/docs/configuring/services/build-service-account),
# each on the one resource it needs: write the build logs, read the staged
# sources, push to the functions' image repository.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "crmsync-build"
  display_name = "crmsync function builds (Cloud Build)"
}

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = var.sources_bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.build.email}"
}

resource "google_artifact_registry_repository_iam_member" "build_images" {
  project    = var.project_id
  location   = var.region
  repository = var.docker_repository
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}
