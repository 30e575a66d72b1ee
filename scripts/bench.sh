#!/usr/bin/env bash
# scripts/bench.sh: runs the product's Go benchmarks and prints their
# figures; docs/performance.md records them with this command.
#
# BENCHTIME sets each benchmark's duration (default 2s); extra arguments go
# to go test (e.g. -bench Gmail).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
require_go
echo "# $(go version), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
go test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-2s}" -benchmem "$@" ./shared/...
