# The whole product in one project: `terraform apply` with the variables
# of terraform.tfvars.example. See docs/deploy.md for the console steps
# that cannot be automated and the order of a first deployment.

locals {
  # cloudfunctions.net URLs are known before the functions exist, so the
  # functions can be told each other's public URLs without a cycle.
  base    = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  web_url = "${local.base}/crmsync-web"
  # Pushes and ticks call these URLs with identity tokens for them; the
  # functions accept exactly these audiences from exactly those callers.
  gmailpush_url = "${local.base}/crmsync-gmailpush"
  jobs_url      = "${local.base}/crmsync-jobs"
  dispatch_url  = "${local.base}/crmsync-dispatch"
  sidepanel_url = "${local.base}/crmsync-sidepanel"
  # The Gmail add-on's system identity (Google Workspace add-ons sign
  # their requests to the SidePanel function with it).
  addon_sa      = "service-${var.project_number}@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
  push_sa       = "crmsync-pubsub-push@${var.project_id}.iam.gserviceaccount.com"
  scheduler_sa  = "crmsync-scheduler@${var.project_id}.iam.gserviceaccount.com"
  crm_url       = var.deploy_reference_crm ? "${local.base}/crmsync-crmapi/" : var.crm_url
  system_sender = var.system_sender != "" ? var.system_sender : "crm-sync@${var.domain}"
  # Each function reads only what it uses: the engines the OAuth client,
  # the token keyring and the CRM's sync key; Web also the session signing
  # keyring and the CRM's admin key (the admin page gives and withdraws
  # the integration right).
  engine_secrets = ["oauth-client-secret", "token-encryption-key", "crm-api-key"]
  web_secrets    = concat(local.engine_secrets, ["signing-key", "crm-admin-key"])

  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    CRMSYNC_ENV          = "production"
    CRMSYNC_VERSION      = var.release
    LOG_LEVEL            = var.log_level
  }
  # The most instances that call Gmail at once: Web, GmailPush, Jobs and
  # SidePanel at their max_instances below (the plan test checks the sum).
  # They share the project's Gmail limit evenly.
  gmail_instances = 120
  engine_env = merge(local.common_env, {
    GMAIL_USER_UNITS_PER_MINUTE    = tostring(var.gmail_user_units_per_minute)
    GMAIL_PROJECT_UNITS_PER_MINUTE = tostring(var.gmail_project_units_per_minute)
    GMAIL_INSTANCES                = tostring(local.gmail_instances)
    # Domain-wide delegation is keyless: the function's identity has
    # Google sign as this account.
    DELEGATION_SERVICE_ACCOUNT = "crmsync-delegation@${var.project_id}.iam.gserviceaccount.com"
    CRM_URL                    = local.crm_url
    WEB_URL                    = local.web_url
    SYSTEM_SENDER              = local.system_sender
    CALENDAR_WEBHOOK_URL       = "${local.base}/crmsync-calendarpush"
  })

  # Per function: its folder under functions/, registered name, identity's
  # needs, and sizing. Sizing, briefly: pushes and jobs hold a per-user
  # lease, so concurrency is bounded by work, not requests; MIME parsing of
  # large messages needs memory in GmailPush and Jobs; timeouts cover the
  # Pub/Sub ack deadlines (GmailPush 5 min, Jobs 10 min).
  functions = merge({
    "crmsync-web" = {
      folder = "web", entry_point = "Web", memory = "512Mi", cpu = "1", timeout_seconds = 60, max_instances = 10, concurrency = 40,
      roles  = ["roles/datastore.user"], secrets = local.web_secrets, publishes_jobs = true, env = local.engine_env, invokers = [], public = true, ingress = "ALLOW_ALL"
    }
    "crmsync-gmailpush" = {
      folder = "gmailpush", entry_point = "GmailPush", memory = "1Gi", cpu = "1", timeout_seconds = 300, max_instances = 50, concurrency = 8,
      roles  = ["roles/datastore.user"], secrets = local.engine_secrets, publishes_jobs = false, invokers = ["push"], public = false, ingress = "ALLOW_INTERNAL_ONLY",
      env    = merge(local.engine_env, { OIDC_AUDIENCES = local.gmailpush_url, OIDC_INVOKERS = local.push_sa, OIDC_CHECKED_BY_PLATFORM = "true" })
    }
    "crmsync-jobs" = {
      folder = "jobs", entry_point = "Jobs", memory = "1Gi", cpu = "1", timeout_seconds = 600, max_instances = 50, concurrency = 4,
      roles  = ["roles/datastore.user"], secrets = local.engine_secrets, publishes_jobs = false, invokers = ["push"], public = false, ingress = "ALLOW_INTERNAL_ONLY",
      env    = merge(local.engine_env, { OIDC_AUDIENCES = local.jobs_url, OIDC_INVOKERS = local.push_sa, OIDC_CHECKED_BY_PLATFORM = "true" })
    }
    "crmsync-dispatch" = {
      folder = "dispatch", entry_point = "Dispatch", memory = "256Mi", cpu = "1", timeout_seconds = 120, max_instances = 2, concurrency = 1,
      roles  = ["roles/datastore.user"], secrets = [], publishes_jobs = true, invokers = ["scheduler"], public = false, ingress = "ALLOW_INTERNAL_ONLY",
      env    = merge(local.common_env, { OIDC_AUDIENCES = local.dispatch_url, OIDC_INVOKERS = local.scheduler_sa, OIDC_CHECKED_BY_PLATFORM = "true" })
    }
    "crmsync-calendarpush" = {
      folder = "calendarpush", entry_point = "CalendarPush", memory = "256Mi", cpu = "1", timeout_seconds = 30, max_instances = 10, concurrency = 40,
      roles  = ["roles/datastore.user"], secrets = [], publishes_jobs = true, env = local.common_env, invokers = [], public = true, ingress = "ALLOW_ALL"
    }
    "crmsync-sidepanel" = {
      folder = "sidepanel", entry_point = "SidePanel", memory = "512Mi", cpu = "1", timeout_seconds = 60, max_instances = 10, concurrency = 20,
      roles  = ["roles/datastore.user"], secrets = local.engine_secrets, publishes_jobs = false, invokers = ["addon"], public = false, ingress = "ALLOW_ALL",
      env = merge(local.engine_env, { SIDEPANEL_URL = local.sidepanel_url, OIDC_AUDIENCES = local.sidepanel_url, OIDC_INVOKERS = local.addon_sa,
      OIDC_CHECKED_BY_PLATFORM = "true" })
    }
    "crmsync-health" = {
      folder = "health", entry_point = "Health", memory = "256Mi", cpu = "1", timeout_seconds = 10, max_instances = 2, concurrency = 80,
      roles  = ["roles/datastore.user"], secrets = [], publishes_jobs = false, env = local.common_env, invokers = [], public = false, ingress = "ALLOW_ALL"
    }
    }, var.deploy_reference_crm ? {
    "crmsync-crmapi" = {
      folder = "crmapi", entry_point = "CRMAPI", memory = "512Mi", cpu = "1", timeout_seconds = 60, max_instances = 10, concurrency = 40,
      roles  = ["roles/datastore.user"], secrets = ["crm-api-key", "crm-admin-key"], publishes_jobs = false, env = local.common_env, invokers = [], public = true, ingress = "ALLOW_ALL"
    }
  } : {})

  # Invoker names above, as IAM members. Public functions have no invoker
  # binding: Cloud Run's invoker check is off for them (see the functions
  # module), and they check their callers themselves.
  invoker_members = {
    push      = "serviceAccount:${module.iam.pubsub_push_email}"
    scheduler = "serviceAccount:${module.iam.scheduler_email}"
    # Gmail calls the side panel as the project's add-on identity.
    addon = "serviceAccount:${local.addon_sa}"
  }
}

module "platform" {
  source                    = "../../modules/platform"
  project_id                = var.project_id
  region                    = var.region
  firestore_location        = var.firestore_location
  firestore_deletion_policy = "ABANDON"
  backup_retention_days     = var.backup_retention_days
}

module "monitoring" {
  source                    = "../../modules/monitoring"
  count                     = var.monitoring_enabled ? 1 : 0
  project_id                = var.project_id
  notification_channels     = var.notification_channels
  runbook_url               = var.runbook_url
  dead_letter_subscriptions = ["gmail-push-dead-letter", "jobs-push-dead-letter"]
  functions                 = [for k, f in local.functions : k]
  depends_on                = [module.platform]
}

module "iam" {
  source     = "../../modules/iam"
  project_id = var.project_id
  functions = { for k, f in local.functions : trimprefix(k, "crmsync-") => {
    roles = f.roles, secrets = f.secrets
  } }
  secret_ids         = module.platform.secret_ids
  delegation_signers = ["web", "gmailpush", "jobs", "sidepanel"]
  region             = var.region
  sources_bucket     = module.platform.sources_bucket
  docker_repository  = module.platform.docker_repository_name
  # Service accounts and bindings are made once the IAM and Resource
  # Manager APIs are on.
  depends_on = [module.platform]
}

module "functions" {
  source     = "../../modules/functions"
  project_id = var.project_id
  region     = var.region
  bucket     = module.platform.sources_bucket
  # Built as the build account into the product's image repository.
  build_service_account = module.iam.build_service_account
  docker_repository     = module.platform.docker_repository
  functions = { for k, f in local.functions : k => {
    entry_point     = f.entry_point
    source_zip      = "${var.sources_dir}/${f.folder}.zip"
    service_account = module.iam.function_emails[trimprefix(k, "crmsync-")]
    memory          = f.memory
    cpu             = f.cpu
    timeout_seconds = f.timeout_seconds
    max_instances   = f.max_instances
    concurrency     = f.concurrency
    env             = f.env
    invokers        = [for i in f.invokers : local.invoker_members[i]]
    public          = f.public
    ingress         = f.ingress
  } }

  # A function starts once the topics it publishes to, and its grants on
  # them, exist.
  depends_on = [module.platform, module.pubsub]
}

module "pubsub" {
  source               = "../../modules/pubsub"
  project_id           = var.project_id
  project_number       = var.project_number
  push_service_account = module.iam.pubsub_push_email
  push = {
    "gmail-push" = { topic = "gmail-notifications", endpoint = local.gmailpush_url, ack_deadline_seconds = 300, max_delivery_attempts = 20 }
    "jobs-push"  = { topic = "jobs", endpoint = local.jobs_url, ack_deadline_seconds = 600, max_delivery_attempts = 20 }
  }
  jobs_publishers = { for k, f in local.functions : trimprefix(k, "crmsync-") => "serviceAccount:${module.iam.function_emails[trimprefix(k, "crmsync-")]}" if f.publishes_jobs }
  # The push endpoints are the functions' predictable URLs: nothing is
  # pushed before a user connects, long after the functions are up.
  depends_on = [module.platform]
}

module "scheduler" {
  source          = "../../modules/scheduler"
  project_id      = var.project_id
  region          = var.region
  dispatch_uri    = local.dispatch_url
  service_account = module.iam.scheduler_email
  jobs            = var.schedules
  depends_on      = [module.platform, module.functions]
}

# The tenant the Web function admits: the firm's domain and admins. It is
# a Firestore document; later edits happen on the administration page.
resource "google_firestore_document" "tenant" {
  project     = var.project_id
  database    = module.platform.database
  collection  = "tenants"
  document_id = replace(var.domain, ".", "-")
  fields = jsonencode({
    name          = { stringValue = var.domain }
    crmName       = { stringValue = var.crm_name }
    oauthClientId = { stringValue = var.oauth_client_id }
    domains       = { arrayValue = { values = [{ stringValue = var.domain }] } }
    admins        = { arrayValue = { values = [for a in var.admin_emails : { stringValue = lower(a) }] } }
    authMode      = { stringValue = "user_oauth" }
    version       = { integerValue = "1" }
  })
  lifecycle {
    # The administration page owns the tenant after the first apply.
    ignore_changes = [fields]
  }
}
