variable "project_id" {
  description = "Google Cloud project ID the product runs in."
  type        = string
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channel IDs (projects/P/notificationChannels/N) every alert notifies. Empty: alerts open incidents in the console only."
  type        = list(string)
  default     = []
}

variable "runbook_url" {
  description = "Where docs/operations.md is read (each alert links its section): the repository's copy of it."
  type        = string
}

variable "dead_letter_subscriptions" {
  description = "The dead-letter subscriptions whose backlog is watched."
  type        = list(string)
}

variable "dead_letter_max_age_minutes" {
  description = "A dead-lettered message older than this opens an alert."
  type        = number
  default     = 30
  validation {
    condition     = var.dead_letter_max_age_minutes >= 5
    error_message = "dead_letter_max_age_minutes must be at least 5."
  }
}

variable "functions" {
  description = "The Cloud Run services of the functions (their names), whose 5xx answers are watched."
  type        = list(string)
}
