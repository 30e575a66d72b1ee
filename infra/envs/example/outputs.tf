output "web_url" {
  description = "The setup pages: users sign in here."
  value       = local.web_url
}

output "oauth_redirect_uris" {
  description = "Authorized redirect URIs to register on the OAuth client (Google Cloud console > APIs & Services > Credentials)."
  value       = ["${local.web_url}/auth/callback", "${local.web_url}/connect/callback"]
}

output "delegation_client_id" {
  description = "Client ID to authorize for domain-wide delegation in the Admin console (Security > API controls > Domain-wide delegation)."
  value       = module.iam.delegation_client_id
}

output "delegation_scopes" {
  description = "Scopes to authorize for that client ID: gmail.send for the system sender; the rest only for office-level impersonation."
  value = [
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/contacts",
    "https://www.googleapis.com/auth/calendar",
  ]
}

output "delegation_service_account" {
  description = "The delegation service account (keyless: Web, GmailPush and Jobs have Google sign as it)."
  value       = module.iam.delegation_email
}

output "gmail_topic" {
  description = "The topic Gmail watches publish to."
  value       = module.pubsub.gmail_topic
}

output "function_urls" {
  description = "Each function's Cloud Run URL."
  value       = module.functions.uris
}

output "sidepanel_deployment" {
  description = "The Gmail side panel's deployment resource: paste it into Google Workspace Marketplace SDK > Alternate runtimes > Create new deployment, or gcloud workspace-add-ons deployments create (docs/deploy.md)."
  value = jsonencode({
    oauthScopes = [
      "https://www.googleapis.com/auth/gmail.addons.execute",
      "https://www.googleapis.com/auth/gmail.addons.current.message.metadata",
      "https://www.googleapis.com/auth/userinfo.email",
    ]
    addOns = {
      common = {
        name            = var.crm_name
        logoUrl         = "https://fonts.gstatic.com/s/i/googlematerialicons/contact_mail/v6/black-24dp/1x/gm_contact_mail_black_24dp.png"
        homepageTrigger = { runFunction = "${local.sidepanel_url}/homepage" }
      }
      gmail = { contextualTriggers = [{ unconditional = {}, onTriggerFunction = "${local.sidepanel_url}/message" }] }
    }
  })
}
