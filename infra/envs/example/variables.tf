variable "project_id" {
  description = "Google Cloud project ID to deploy into, e.g. \"acme-crm-sync\"."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "project_number" {
  description = "The project's number: gcloud projects describe PROJECT --format='value(projectNumber)'."
  type        = string
  validation {
    condition     = can(regex("^[0-9]+$", var.project_number))
    error_message = "project_number is numeric."
  }
}

variable "region" {
  description = "Region of the functions, scheduler and staging bucket, e.g. us-east1."
  type        = string
  default     = "us-east1"
}

variable "firestore_location" {
  description = "Firestore location: a multi-region (nam5, eur3) or a region."
  type        = string
  default     = "nam5"
}

variable "domain" {
  description = "The firm's Workspace e-mail domain, e.g. \"acme.example\"."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.domain))
    error_message = "domain is an e-mail domain such as acme.example."
  }
}

variable "admin_emails" {
  description = "Addresses of the firm's admins of this product (they reach the administration page)."
  type        = list(string)
  validation {
    condition     = length(var.admin_emails) > 0 && alltrue([for a in var.admin_emails : can(regex("^[^@ ]+@[^@ ]+$", a))])
    error_message = "admin_emails needs at least one e-mail address."
  }
}

variable "oauth_client_id" {
  description = "Client ID of the firm's OAuth client (Web application) for sign-in and connecting Google; create it first with the redirect URIs of docs/deploy.md."
  type        = string
  validation {
    condition     = can(regex("\\.apps\\.googleusercontent\\.com$", var.oauth_client_id))
    error_message = "oauth_client_id ends with .apps.googleusercontent.com."
  }
}

variable "crm_name" {
  description = "The CRM's name as users see it; the Gmail labels are named after it (NAME, NAMEPosted, NAMEFailed, NAMEUnmatched)."
  type        = string
  default     = "CRM"
}

variable "crm_url" {
  description = "Base URL of the CRM REST API (docs/crm-api.md), e.g. https://crm.acme.example/api/. Leave empty with deploy_reference_crm = true to use the reference CRM."
  type        = string
  default     = ""
  validation {
    condition     = var.crm_url == "" || can(regex("^https://", var.crm_url))
    error_message = "crm_url must be an https URL."
  }
}

variable "deploy_reference_crm" {
  description = "Deploy the reference CRM (the CRMAPI function on Firestore) and use it as the CRM."
  type        = bool
  default     = false
}

variable "system_sender" {
  description = "Mailbox of the firm that sends setup confirmations, preview reports and reconnect requests (through domain-wide delegation with gmail.send). Default: crm-sync@DOMAIN."
  type        = string
  default     = ""
}

variable "sources_dir" {
  description = "Folder of the staged function zips (scripts/stage-all.sh writes them)."
  type        = string
  default     = "../../../.build/functions"
}

variable "release" {
  description = "Release shown by the Health function (CRMSYNC_VERSION)."
  type        = string
  default     = "dev"
}

variable "schedules" {
  description = "Cron schedules of the scheduler jobs. contact-sync is the contact sync period (the description's default: every 15 minutes); calendar-sync is the fallback pass behind Calendar push channels and also renews the channels before they expire; system-mail sends the system e-mail Gmail did not take at once (its daily sending limit)."
  type        = map(string)
  default = {
    "mail-sweep"    = "*/10 * * * *"
    "watch-renewal" = "17 3 * * *"
    "contact-sync"  = "*/15 * * * *"
    "calendar-sync" = "*/5 * * * *"
    "system-mail"   = "*/10 * * * *"
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the functions: debug, info, warn or error."
  type        = string
  default     = "info"
  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level is debug, info, warn or error."
  }
}

variable "gmail_user_units_per_minute" {
  description = "Gmail's per-user limit for this project, in quota units a minute (the quota page: 6,000 for projects created since 1 May 2026; 15,000 for older ones that keep their quota). Every user's calls are paced to it."
  type        = number
  default     = 6000
  validation {
    condition     = var.gmail_user_units_per_minute >= 60
    error_message = "gmail_user_units_per_minute must be at least 60."
  }
}

variable "gmail_project_units_per_minute" {
  description = "Gmail's per-project limit, in quota units a minute (the quota page: 1,200,000). It is shared evenly by the instances that can call Gmail at once (Web, GmailPush and Jobs at their max_instances)."
  type        = number
  default     = 1200000
  validation {
    condition     = var.gmail_project_units_per_minute >= 60
    error_message = "gmail_project_units_per_minute must be at least 60."
  }
}

variable "backup_retention_days" {
  description = "How many days each daily Firestore backup is kept (1 to 98)."
  type        = number
  default     = 14
}

variable "monitoring_enabled" {
  description = "Create the log-based metrics, alert policies and dashboard (docs/operations.md)."
  type        = bool
  default     = true
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel IDs every alert notifies (create one for the admins' e-mail in the console, or with google_monitoring_notification_channel). Empty: incidents show in the console only."
  type        = list(string)
  default     = []
}

variable "runbook_url" {
  description = "Where the admins read docs/operations.md (your copy of the repository); each alert links its section."
  type        = string
  default     = "docs/operations.md"
}
