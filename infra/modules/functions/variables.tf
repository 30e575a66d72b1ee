variable "project_id" {
  description = "Google Cloud project ID."
  type        = string
}

variable "region" {
  description = "Region the functions run in."
  type        = string
}

variable "bucket" {
  description = "Bucket the staged sources are uploaded to."
  type        = string
}

variable "functions" {
  description = <<-EOT
    The functions keyed by deployed name. source_zip is the zip of the tree
    scripts/stage.sh wrote (its MD5 names the uploaded object, so changed code
    redeploys). invokers are the members given roles/run.invoker on the
    function's Cloud Run service ("allUsers" for the browser-facing Web
    function and the Calendar webhook, which check their own credentials).
  EOT
  type = map(object({
    entry_point     = string
    source_zip      = string
    service_account = string
    memory          = string
    cpu             = string
    timeout_seconds = number
    max_instances   = number
    concurrency     = number
    env             = map(string)
    invokers        = list(string)
  }))
  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_seconds >= 1 && f.timeout_seconds <= 3600])
    error_message = "timeout_seconds must be 1-3600 (HTTP functions of gen2)."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.concurrency == 1 || tonumber(f.cpu) >= 1])
    error_message = "A function serving more than one request at a time needs at least 1 CPU."
  }
}

variable "runtime" {
  description = "The Go runtime (the module needs Go 1.26)."
  type        = string
  default     = "go126"
}
