#!/usr/bin/env bash
# scripts/terraform-check.sh: checks infra/ offline: terraform fmt, validate,
# and a plan of the example environment (-refresh=false, a fake access
# token) whose JSON the Go test infra/plan_test.go checks for the security
# properties (OIDC on every push and tick, Gmail's publisher binding, no allUsers, internal ingress, the build account, no
# basic roles, no secret values, content-named sources, TTL policies), and
# infra/operations_test.go for the operations (point-in-time recovery, the
# daily backup, alerts that link their runbook sections). TF_TEST_FLAGS
# adds flags to that go test (e.g. "-run TestPlanOperations -v").
#
# The Google provider is built from the Go module proxy (about 5 minutes on
# a 2-core machine) into $CRMSYNC_CACHE (default ~/.cache/crmsync) and used
# through a CLI configuration with dev_overrides; `terraform get` installs
# the local modules, so nothing is fetched from the Terraform registry.
# Prints a SKIP line, and succeeds, where terraform is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v terraform >/dev/null 2>&1; then
  echo "SKIP terraform checks: terraform is not installed on this machine"
  exit 0
fi
provider_version=v1.20.1-0.20260828184646-f3721fb45fa3
cache=${CRMSYNC_CACHE:-$HOME/.cache/crmsync}/tfprovider-$provider_version
if [ ! -x "$cache/terraform-provider-google" ]; then
  echo "building the Google provider $provider_version into $cache (about 5 minutes, once)…"
  mkdir -p "$cache"
  GOBIN="$cache" GOFLAGS=-mod=mod go install "github.com/hashicorp/terraform-provider-google@$provider_version"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "hashicorp/google" = "$cache"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" GOOGLE_OAUTH_ACCESS_TOKEN=fake TF_IN_AUTOMATION=1

echo "terraform fmt -check"
terraform fmt -check -recursive infra
scripts/stage-all.sh "$work/functions" >/dev/null
env=infra/envs/example
terraform -chdir="$env" get -no-color >/dev/null
echo "terraform validate ($env)"
terraform -chdir="$env" validate -no-color >/dev/null
echo "terraform plan -refresh=false ($env)"
terraform -chdir="$env" plan -refresh=false -input=false -no-color -var-file=example.tfvars \
  -var "sources_dir=$work/functions" -out="$work/plan.bin" >"$work/plan.txt" ||
  { cat "$work/plan.txt"; exit 1; }
grep -E '^Plan:' "$work/plan.txt"
terraform -chdir="$env" show -json "$work/plan.bin" >"$work/plan.json"
CRMSYNC_TF_PLAN="$work/plan.json" CRMSYNC_TF_SOURCES="$work/functions" go test -count=1 ${TF_TEST_FLAGS:-} ./infra/
