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
    redeploys). invokers are the service accounts given roles/run.invoker on
    the function's Cloud Run service. public turns Cloud Run's invoker IAM
    check off for a function that checks its callers itself (never an
    allUsers binding). ingress is ALLOW_ALL, or ALLOW_INTERNAL_ONLY for a
    function that only Pub/Sub push and Cloud Scheduler of the same project
    call (Cloud Run counts them as internal).
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
    public          = bool
    ingress         = string
  }))
  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_seconds >= 1 && f.timeout_seconds <= 3600])
    error_message = "timeout_seconds must be 1-3600 (HTTP functions of gen2)."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : alltrue([for m in f.invokers : !contains(["allUsers", "allAuthenticatedUsers"], m)])])
    error_message = "No allUsers or allAuthenticatedUsers invoker: secure-by-default organizations refuse them; set public = true instead."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY"], f.ingress)])
    error_message = "ingress is ALLOW_ALL or ALLOW_INTERNAL_ONLY."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : !(f.public && f.ingress != "ALLOW_ALL")])
    error_message = "A public function is called from the internet: its ingress is ALLOW_ALL."
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

variable "build_service_account" {
  description = "Resource name (projects/P/serviceAccounts/EMAIL) of the service account Cloud Build builds the functions as."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository (projects/P/locations/R/repositories/NAME) the built images go to."
  type        = string
}
