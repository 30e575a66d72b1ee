# The project's platform: the APIs the product uses, its Firestore
# database with the composite indexes and TTL policies the store needs,
# the secrets (created empty: their values are added by
# scripts/set-secrets.sh, never through Terraform state), the bucket the
# functions' staged sources are uploaded to and the Artifact Registry
# repository their built images go to.

locals {
  apis = toset([
    "gmail.googleapis.com",
    "people.googleapis.com",
    "calendar-json.googleapis.com",
    "pubsub.googleapis.com",
    "firestore.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudfunctions.googleapis.com",
    "run.googleapis.com",
    "cloudbuild.googleapis.com",
    "artifactregistry.googleapis.com",
    "eventarc.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iamcredentials.googleapis.com",
    "iam.googleapis.com",
    "storage.googleapis.com",
    # IAM bindings on the project are made through Resource Manager.
    "cloudresourcemanager.googleapis.com",
  ])

  secrets = {
    "oauth-client-secret"  = "The OAuth client's secret (Google Cloud console, APIs & Services > Credentials)."
    "token-encryption-key" = "Keyring (lines of ID:base64 of 32 random bytes, primary first) sealing users' refresh tokens."
    "signing-key"          = "Keyring (lines of ID:base64 of 32 random bytes, primary first) signing sessions and CSRF tokens."
    "crm-api-key"          = "The CRM REST API's key for the sync engines (acts for a named CRM user)."
    "crm-admin-key"        = "The CRM REST API's administrator key (import, users, the integration right)."
  }

  # Documents that expire carry expireAt; the TTL policy deletes them.
  ttl_collections = toset(["leases", "ledger", "oauthStates", "previews", "addressClaims", "outbox"])
}

resource "google_project_service" "apis" {
  for_each                   = local.apis
  project                    = var.project_id
  service                    = each.key
  disable_on_destroy         = var.disable_apis_on_destroy
  disable_dependent_services = false
}

resource "google_firestore_database" "main" {
  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  deletion_policy         = var.firestore_deletion_policy
  delete_protection_state = var.firestore_deletion_policy == "DELETE" ? "DELETE_PROTECTION_DISABLED" : "DELETE_PROTECTION_ENABLED"
  # Any moment of the last 7 days can be read back or restored
  # (docs/operations.md, "Restoring").
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  depends_on                        = [google_project_service.apis]
}

# A backup of the whole database every day, kept var.backup_retention_days.
resource "google_firestore_backup_schedule" "daily" {
  project   = var.project_id
  database  = google_firestore_database.main.name
  retention = "${var.backup_retention_days * 86400}s"
  daily_recurrence {}
}

# The reference CRM's change feed: one collection's changes after a
# sequence number, optionally one owner's or one set's; and its pending (unnumbered)
# entries oldest first, which a reader numbers before it reads.
# A user's recent mail outcomes, newest first (the settings page).
resource "google_firestore_index" "ledger_by_scope" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "ledger"
  query_scope = "COLLECTION"
  fields {
    field_path = "scope"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updatedAt"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "changes_by_collection" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "changes"
  query_scope = "COLLECTION"
  fields {
    field_path = "Collection"
    order      = "ASCENDING"
  }
  fields {
    field_path = "Seq"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "changes_by_owner" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "changes"
  query_scope = "COLLECTION"
  fields {
    field_path = "Collection"
    order      = "ASCENDING"
  }
  fields {
    field_path = "Owner"
    order      = "ASCENDING"
  }
  fields {
    field_path = "Seq"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "changes_by_set" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "changes"
  query_scope = "COLLECTION"
  fields {
    field_path = "Collection"
    order      = "ASCENDING"
  }
  fields {
    field_path   = "Sets"
    array_config = "CONTAINS"
  }
  fields {
    field_path = "Seq"
    order      = "ASCENDING"
  }
}

resource "google_firestore_index" "changes_pending" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "changes"
  query_scope = "COLLECTION"
  fields {
    field_path = "Collection"
    order      = "ASCENDING"
  }
  fields {
    field_path = "Seq"
    order      = "ASCENDING"
  }
  fields {
    field_path = "Stamp"
    order      = "ASCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }
}

resource "google_firestore_field" "ttl" {
  for_each   = local.ttl_collections
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.key
  field      = "expireAt"
  ttl_config {}
  # Nothing queries expireAt: exempt it from indexing (an index on a
  # timestamp written in order is a write hotspot).
  index_config {}
}

resource "google_secret_manager_secret" "secrets" {
  for_each  = local.secrets
  project   = var.project_id
  secret_id = each.key
  labels    = { app = "crmsync" }
  annotations = {
    purpose = each.value
  }
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-crmsync-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}

# The functions' images. The product's own repository (not Cloud
# Functions' default gcf-artifacts) so the build service account can be
# given write access to it alone; old images are cleaned up.
resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "crmsync-functions"
  description   = "Images of the crmsync functions, built from their staged sources."
  format        = "DOCKER"
  labels        = { app = "crmsync" }
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
  depends_on = [google_project_service.apis]
}
