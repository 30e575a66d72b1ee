output "job_names" {
  description = "Scheduler job names by kind."
  value       = { for k, j in google_cloud_scheduler_job.job : k => j.name }
}
