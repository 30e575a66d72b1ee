#!/usr/bin/env bash
# scripts/bench.sh: runs the product's Go benchmarks and prints their
# figures; docs/performance.md records them with this command.
#
# BENCH selects benchmarks (a go test -bench pattern, default all);
# BENCHTIME sets each benchmark's duration (default 2s); extra arguments go
# to go test. Benchmarks that need Firestore run against an emulator this
# script starts on a free port (CRMSYNC_BENCH_CONTACTS sizes the CRM lookup
# benchmark, default 100,000 contacts).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
require_go
require_emulators
work=$(mktemp -d "${TMPDIR:-/tmp}/crmsync-bench.XXXXXX")
trap 'stop_children; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
start_on_free_port fs_port start_firestore "$work/firestore.log" || die "the Firestore emulator did not start"
export FIRESTORE_EMULATOR_HOST="127.0.0.1:$fs_port"
echo "# $(go version), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
go test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-2s}" -benchmem -timeout 60m "$@" ./shared/...
