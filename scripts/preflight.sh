#!/usr/bin/env bash
# scripts/preflight.sh TFVARS: checks, before the first `terraform apply`,
# that the project in TFVARS (an environment's terraform.tfvars) can take
# the deployment, and says what is missing and how to fix it. It only
# reads (gcloud describe/list/get calls); it changes nothing.
#
# Checks: gcloud and its signed-in account; the project (exists, active,
# billing on, inside an organization, project_number right); the deployer's
# roles; the APIs Terraform needs before it can enable the others; the
# organization policies that would refuse parts of the plan (domain-
# restricted sharing and Gmail's push publisher, the invoker check, ingress,
# resource locations, VPC connector, default-service-account grants); the
# OAuth client ID's project; what only the console shows (consent screen).
#
# Exit status: 0 when nothing blocks the apply (warnings may remain),
# 1 when something does, 2 on bad usage.
set -uo pipefail

[ $# -eq 1 ] || { echo "usage: scripts/preflight.sh path/to/terraform.tfvars" >&2; exit 2; }
tfvars=$1
[ -r "$tfvars" ] || { echo "preflight: cannot read $tfvars" >&2; exit 2; }

blocked=0
ok() { printf '  ok    %s\n' "$1"; }
warn() { printf '  WARN  %s\n' "$1"; [ $# -lt 2 ] || printf '        fix: %s\n' "$2"; }
block() { printf '  BLOCK %s\n' "$1"; [ $# -lt 2 ] || printf '        fix: %s\n' "$2"; blocked=1; }
section() { printf '\n%s\n' "$1"; }

# tfvar NAME prints a string variable of TFVARS (NAME = "value").
tfvar() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$tfvars" | head -1; }

project=$(tfvar project_id)
number=$(tfvar project_number)
region=$(tfvar region)
region=${region:-us-east1}
firestore_location=$(tfvar firestore_location)
firestore_location=${firestore_location:-nam5}
domain=$(tfvar domain)
client_id=$(tfvar oauth_client_id)
[ -n "$project" ] || { echo "preflight: $tfvars has no project_id" >&2; exit 2; }

echo "Preflight of $tfvars (project $project, region $region)"

section "gcloud"
if ! command -v gcloud >/dev/null 2>&1; then
  block "gcloud is not installed" "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), or use Cloud Shell"
  echo; echo "preflight: blocked"; exit 1
fi
command -v python3 >/dev/null 2>&1 || { block "python3 is missing (this script reads gcloud's JSON with it)" "apt-get install python3"; echo; echo "preflight: blocked"; exit 1; }
account=$(gcloud config get-value account 2>/dev/null)
if [ -z "$account" ]; then
  block "no account is signed in to gcloud" "gcloud auth login"
  echo; echo "preflight: blocked"; exit 1
fi
ok "signed in as $account"
# The apply also needs Application Default Credentials (Terraform's provider).
if gcloud auth application-default print-access-token >/dev/null 2>&1; then
  ok "Application Default Credentials present (Terraform uses them)"
else
  block "no Application Default Credentials: Terraform cannot call Google" "gcloud auth application-default login"
fi

# json EXPR: evaluates a Python expression over the JSON on stdin (as j);
# prints nothing when the input is not JSON.
json() { python3 -c "import json,sys
try: j=json.load(sys.stdin)
except Exception: sys.exit(0)
r=$1
print('\n'.join(r) if isinstance(r,list) else ('' if r is None else r))" 2>/dev/null; }

section "project"
if ! desc=$(gcloud projects describe "$project" --format=json 2>&1); then
  block "project $project cannot be read: $(echo "$desc" | head -1)" "create it (gcloud projects create $project --organization=ORG_ID) or fix project_id"
  echo; echo "preflight: blocked"; exit 1
fi
state=$(echo "$desc" | json "j.get('lifecycleState','')")
[ "$state" = "ACTIVE" ] && ok "project $project is active" || block "project $project is $state" "restore it or choose another project"
real_number=$(echo "$desc" | json "j.get('projectNumber','')")
if [ "$real_number" = "$number" ]; then
  ok "project_number $number matches"
else
  block "project_number in $tfvars is '$number'; the project's is $real_number" "set project_number = \"$real_number\""
fi
org=$(gcloud projects get-ancestors "$project" --format=json 2>/dev/null | json "[a['id'] for a in j if a.get('type')=='organization']")
if [ -n "$org" ]; then
  ok "inside organization $org"
else
  block "the project is not inside an organization: an Internal OAuth consent screen (only the firm's accounts) needs one" "create the project under the Workspace organization (gcloud projects move $project --organization=ORG_ID)"
fi
billing=$(gcloud billing projects describe "$project" --format=json 2>/dev/null | json "str(j.get('billingEnabled',''))")
case "$billing" in
  True) ok "billing is enabled" ;;
  False) block "billing is not enabled (Cloud Functions, Cloud Build and Firestore need it)" "gcloud billing projects link $project --billing-account=ACCOUNT_ID" ;;
  *) warn "billing could not be read (the Cloud Billing API may be off, or you lack billing.resourceAssociations.list)" "check Billing in the console" ;;
esac

section "your roles on $project"
roles=$(gcloud projects get-iam-policy "$project" --format=json 2>/dev/null |
  json "sorted({b['role'] for b in j.get('bindings',[]) for m in b.get('members',[]) if m.split(':',1)[-1].lower()=='${account,,}'})")
if echo "$roles" | grep -qx 'roles/owner'; then
  ok "roles/owner (enough to apply)"
else
  missing=""
  for r in roles/resourcemanager.projectIamAdmin roles/iam.serviceAccountAdmin roles/iam.serviceAccountUser \
    roles/cloudfunctions.admin roles/run.admin roles/pubsub.admin roles/datastore.owner roles/secretmanager.admin \
    roles/storage.admin roles/cloudscheduler.admin roles/serviceusage.serviceUsageAdmin roles/artifactregistry.admin; do
    echo "$roles" | grep -qx "$r" || missing="$missing $r"
  done
  if [ -z "$missing" ]; then
    ok "the roles the apply needs"
  else
    warn "you hold neither roles/owner nor:$missing (roles through groups or the folder are not seen here)" \
      "ask for them on the project, or apply from the pipeline's service account (docs/deploy.md)"
  fi
fi

section "APIs"
enabled=$(gcloud services list --enabled --project="$project" --format='value(config.name)' 2>/dev/null)
for api in serviceusage.googleapis.com cloudresourcemanager.googleapis.com; do
  if echo "$enabled" | grep -qx "$api"; then
    ok "$api is on"
  else
    block "$api is off: Terraform needs it to enable the other APIs and to grant roles" "gcloud services enable $api --project=$project"
  fi
done
later=""
for api in gmail.googleapis.com people.googleapis.com calendar-json.googleapis.com pubsub.googleapis.com \
  firestore.googleapis.com secretmanager.googleapis.com cloudfunctions.googleapis.com run.googleapis.com \
  cloudbuild.googleapis.com artifactregistry.googleapis.com eventarc.googleapis.com cloudscheduler.googleapis.com \
  iamcredentials.googleapis.com iam.googleapis.com storage.googleapis.com; do
  echo "$enabled" | grep -qx "$api" || later="$later ${api%%.*}"
done
[ -z "$later" ] && ok "every API the product uses is on" || ok "Terraform will enable:$later"

section "organization policies"
# policy CONSTRAINT prints the effective policy's rules as JSON lines.
policy() { gcloud org-policies describe "$1" --project="$project" --effective --format=json 2>/dev/null; }
enforced() { json "any(r.get('enforce') for r in j.get('spec',{}).get('rules',[]))"; }
restricted() { json "any(r.get('values') or r.get('denyAll') for r in j.get('spec',{}).get('rules',[]))"; }

drs_legacy=$(policy iam.allowedPolicyMemberDomains | restricted)
drs_managed=$(policy iam.managed.allowedPolicyMembers | enforced)
if [ "$drs_legacy" = "True" ] || [ "$drs_managed" = "True" ]; then
  which=iam.allowedPolicyMemberDomains
  [ "$drs_managed" = "True" ] && which=iam.managed.allowedPolicyMembers
  block "domain-restricted sharing ($which) will refuse Gmail's publisher grant to gmail-api-push@system.gserviceaccount.com" \
    "an organization policy admin makes the exception Gmail's push guide describes (docs/deploy.md, 'The Gmail push exception'): allow it on this project for the first apply, then delete the override"
else
  ok "domain-restricted sharing does not block Gmail's publisher grant"
fi
if [ "$(policy run.managed.requireInvokerIam | enforced)" = "True" ]; then
  block "run.managed.requireInvokerIam is enforced: the Web function and the Calendar webhook cannot take browsers and Google's webhook" \
    "ask an organization policy admin for an exception on this project for run.managed.requireInvokerIam"
else
  ok "Cloud Run's invoker check may be turned off for the public functions"
fi
ingress=$(policy cloudfunctions.allowedIngressSettings | json "[v for r in j.get('spec',{}).get('rules',[]) for v in (r.get('values') or {}).get('allowedValues',[])]")
run_ingress=$(policy run.allowedIngress | json "[v for r in j.get('spec',{}).get('rules',[]) for v in (r.get('values') or {}).get('allowedValues',[])]")
if { [ -n "$ingress" ] && ! echo "$ingress" | grep -qx 'ALLOW_ALL'; } || { [ -n "$run_ingress" ] && ! echo "$run_ingress" | grep -qx 'all'; }; then
  block "an ingress policy allows only [$(echo $ingress $run_ingress)]: the Web function must take browsers (ALLOW_ALL)" \
    "ask for an exception on this project, or front Web with a load balancer (not covered by this module)"
else
  ok "ingress settings are not restricted"
fi
if [ "$(policy cloudfunctions.requireVPCConnector | enforced)" = "True" ]; then
  block "cloudfunctions.requireVPCConnector is enforced: the functions have no VPC connector" "ask for an exception on this project"
else
  ok "no VPC connector required"
fi
locations=$(policy gcp.resourceLocations | json "[v for r in j.get('spec',{}).get('rules',[]) for v in (r.get('values') or {}).get('allowedValues',[])]")
if [ -n "$locations" ]; then
  warn "resource locations are restricted to: $(echo $locations)" \
    "make sure region ($region) and firestore_location ($firestore_location) are among them"
else
  ok "resource locations are not restricted"
fi
if [ "$(policy iam.disableServiceAccountKeyCreation | enforced)" = "True" ]; then
  ok "service-account keys are disabled (the product makes none: delegation is keyless)"
fi
if [ "$(policy iam.automaticIamGrantsForDefaultServiceAccounts | enforced)" = "True" ]; then
  ok "default service accounts get no automatic grants (the functions are built by their own build account)"
fi

section "OAuth client and consent screen"
if [ -z "$client_id" ]; then
  block "$tfvars has no oauth_client_id" "create a Web application client (docs/deploy.md, step 3) and set oauth_client_id"
elif [ "${client_id%%-*}" = "$real_number" ]; then
  ok "oauth_client_id belongs to this project"
else
  block "oauth_client_id $client_id is not this project's (its number is ${client_id%%-*}, the project's $real_number)" \
    "create the client in $project (Google Auth Platform › Clients)"
fi
warn "the consent screen cannot be read with gcloud: check it by hand" \
  "Google Auth Platform › Audience: Internal; Branding: authorized domain ${domain:-your domain}, and the support e-mail; Data access: the scopes of docs/deploy.md"

echo
if [ "$blocked" -ne 0 ]; then
  echo "preflight: blocked — fix each BLOCK above, then run this again"
  exit 1
fi
echo "preflight: nothing blocks the apply"
