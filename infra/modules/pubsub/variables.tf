variable "project_id" {
  description = "Google Cloud project ID."
  type        = string
}

variable "project_number" {
  description = "The project's number (gcloud projects describe P --format='value(projectNumber)'): names the Pub/Sub service agent, which forwards to the dead-letter topics and signs push tokens."
  type        = string
  validation {
    condition     = can(regex("^[0-9]+$", var.project_number))
    error_message = "project_number is the numeric project number."
  }
}

variable "push" {
  description = "Push subscriptions keyed by name: the topic, the function URL pushed to (also the OIDC audience), the ack deadline and the delivery attempts before dead-lettering."
  type = map(object({
    topic                 = string
    endpoint              = string
    ack_deadline_seconds  = number
    max_delivery_attempts = number
  }))
  validation {
    condition     = alltrue([for s in values(var.push) : s.max_delivery_attempts >= 5 && s.max_delivery_attempts <= 100])
    error_message = "max_delivery_attempts must be 5-100 (Pub/Sub's bounds)."
  }
  validation {
    condition     = alltrue([for s in values(var.push) : s.ack_deadline_seconds >= 10 && s.ack_deadline_seconds <= 600])
    error_message = "ack_deadline_seconds must be 10-600."
  }
}

variable "push_service_account" {
  description = "The service account push subscriptions sign OIDC tokens as (it holds run.invoker on the pushed functions)."
  type        = string
}

variable "jobs_publishers" {
  description = "Members that may publish to the jobs topic, keyed by function (e.g. web = \"serviceAccount:…\")."
  type        = map(string)
  default     = {}
}
