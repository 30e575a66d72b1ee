#!/usr/bin/env bash
# scripts/test.sh: runs every test of the product.
#
# Starts the Firestore and Pub/Sub emulators on free ports, checks formatting,
# go vet and staticcheck, runs `go test -race ./...` against the emulators, checks the
# Terraform, and stops the emulators on every exit path. Exits non-zero on
# any failure. Works with CI=true and no terminal.
#
# Environment: GO_TEST_FLAGS adds flags to go test (e.g. "-run TestLease -v").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

began=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/crmsync-test.XXXXXX")
cleanup() { stop_children; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

require_go
require_emulators
require_chromium
require_axe

say "== gofmt"
unformatted=$(gofmt -l functions shared scripts 2>/dev/null || true)
[ -z "$unformatted" ] || die "gofmt would change these files (run 'gofmt -w .'): $unformatted"

say "== go vet"
go vet ./...

say "== staticcheck"
# Pinned, and installed here: a fresh machine has only the module proxy.
staticcheck_version=v0.8.2
if ! command -v staticcheck >/dev/null || ! staticcheck -version 2>/dev/null | grep -q "${staticcheck_version#v}"; then
  GOBIN="$work/bin" go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
  export PATH="$work/bin:$PATH"
fi
staticcheck ./...

say "== starting the emulators"
start_on_free_port fs_port start_firestore "$work/firestore.log" || die "the Firestore emulator did not start"
start_on_free_port ps_port start_pubsub "$work/pubsub.log" || die "the Pub/Sub emulator did not start"
export FIRESTORE_EMULATOR_HOST="127.0.0.1:$fs_port"
export PUBSUB_EMULATOR_HOST="127.0.0.1:$ps_port"
export CRMSYNC_REQUIRE_EMULATORS=1
say "Firestore emulator on $FIRESTORE_EMULATOR_HOST, Pub/Sub emulator on $PUBSUB_EMULATOR_HOST"

say "== go test -race"
# shellcheck disable=SC2086
go test -race -count=1 -timeout 45m ${GO_TEST_FLAGS:-} ./...

say "== terraform"
if [ -n "${CRMSYNC_SKIP_TERRAFORM:-}" ]; then
  echo "SKIP terraform checks: CRMSYNC_SKIP_TERRAFORM is set (the pipeline plans with the real provider)"
else
  scripts/terraform-check.sh
fi

say "== all tests passed in $(( $(date +%s) - began ))s"
