# Copy to terraform.tfvars and fill in.
project_id      = "acme-crm-sync"
project_number  = "123456789012"
region          = "us-east1"
domain          = "acme.example"
admin_emails    = ["it-admin@acme.example"]
oauth_client_id = "123456789012-abcdefghijklmnop.apps.googleusercontent.com"
crm_name        = "SmartOffice"
crm_url         = "https://crm.acme.example/api/"
