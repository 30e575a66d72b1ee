#!/usr/bin/env bash
# scripts/set-secrets.sh PROJECT: adds the values of the secrets Terraform
# created empty, so no secret ever passes through Terraform state. Run it
# once after the first `terraform apply`; run it again to replace the
# OAuth client secret or a CRM key.
#
#   oauth-client-secret    read from the prompt (the OAuth client's secret)
#   crm-api-key            read from the prompt (the CRM REST API's key for
#                          the sync engines)
#   crm-admin-key          read from the prompt (the CRM REST API's
#                          administrator key, for the admin page's Give and
#                          Withdraw; a different key)
#   token-encryption-key   a keyring of one new key "k1:<32 random bytes>",
#   signing-key            made here, only when the secret has no version
#                          yet. Rotate them with scripts/rotate-key.sh, never
#                          by replacing them: a replaced token key leaves
#                          every sealed refresh token unreadable.
#
# Domain-wide delegation needs no secret: the functions that act for users
# have Google sign as the crmsync-delegation service account (IAM
# Credentials signJwt), so no service-account key is ever made.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/set-secrets.sh PROJECT" >&2; exit 2; }
project=$1
command -v gcloud >/dev/null || { echo "error: the Google Cloud CLI (gcloud) is needed" >&2; exit 2; }

has_version() { gcloud secrets versions list "$1" --project "$project" --limit 1 --format='value(name)' 2>/dev/null | grep -q .; }
add() { gcloud secrets versions add "$1" --project "$project" --data-file=- >/dev/null && echo "added a version of $1"; }

read -r -s -p "OAuth client secret (empty to keep the current one): " v; echo
[ -z "$v" ] || printf '%s' "$v" | add oauth-client-secret
read -r -s -p "CRM API key (empty to keep the current one): " v; echo
[ -z "$v" ] || printf '%s' "$v" | add crm-api-key
read -r -s -p "CRM admin key (empty to keep the current one): " v; echo
[ -z "$v" ] || printf '%s' "$v" | add crm-admin-key
unset v

for ring in token-encryption-key signing-key; do
  if has_version "$ring"; then
    echo "$ring has a value; left as it is (scripts/rotate-key.sh rotates it)"
  else
    printf 'k1:%s\n' "$(head -c 32 /dev/urandom | base64 | tr -d '\n')" | add "$ring"
  fi
done

