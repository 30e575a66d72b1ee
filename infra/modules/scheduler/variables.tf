variable "project_id" {
  description = "Google Cloud project ID."
  type        = string
}

variable "region" {
  description = "Region of the scheduler jobs."
  type        = string
}

variable "dispatch_uri" {
  description = "The Dispatch function's URL (also the OIDC audience)."
  type        = string
}

variable "service_account" {
  description = "The service account the jobs sign OIDC tokens as (it holds run.invoker on Dispatch)."
  type        = string
}

variable "time_zone" {
  description = "Time zone of the schedules."
  type        = string
  default     = "Etc/UTC"
}

variable "jobs" {
  description = "Job kind → cron schedule. The kinds are those of shared/jobs."
  type        = map(string)
  validation {
    condition     = alltrue([for k in keys(var.jobs) : contains(["mail-sweep", "watch-renewal", "contact-sync", "calendar-sync", "system-mail"], k)])
    error_message = "Job kinds are mail-sweep, watch-renewal, contact-sync, calendar-sync and system-mail."
  }
}
