#!/usr/bin/env bash
# scripts/dev.sh: runs the sandbox, the whole product on this machine with a
# demo firm, in the foreground. Ctrl-C stops everything it started.
#
# Ports (each overridable): CRMSYNC_WEB_PORT=8080 (every function at /<Name>),
# CRMSYNC_GOOGLE_PORT=8090 (the fake Google Workspace), CRMSYNC_CRM_PORT=8070
# (the reference CRM's API; its key is CRMSYNC_SECRET_CRM_API_KEY, default
# sandbox-crm-key), CRMSYNC_PUBSUB_PORT=8085 (Pub/Sub emulator), CRMSYNC_FIRESTORE_PORT=8086
# (Firestore emulator). The emulators' state lives for the run only; logs go
# to .sandbox/logs/.
set -euo pipefail
# A shell that starts this script in the background (`scripts/dev.sh &` in
# another script) starts it with SIGINT ignored, and bash can neither trap
# nor reset a signal ignored at its start. Re-executing through
# `env --default-signal` restores it, so Ctrl-C (SIGINT) and SIGTERM both
# stop the sandbox however it was started.
if [ -z "${CRMSYNC_DEV_SIGNALS_RESET:-}" ] && env --default-signal=INT true 2>/dev/null; then
  export CRMSYNC_DEV_SIGNALS_RESET=1
  exec env --default-signal=INT "$0" "$@"
fi
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
started_ms=$(date +%s%3N)

web_port=${CRMSYNC_WEB_PORT:-8080}
google_port=${CRMSYNC_GOOGLE_PORT:-8090}
crm_port=${CRMSYNC_CRM_PORT:-8070}
pubsub_port=${CRMSYNC_PUBSUB_PORT:-8085}
firestore_port=${CRMSYNC_FIRESTORE_PORT:-8086}
for pair in "CRMSYNC_WEB_PORT=$web_port" "CRMSYNC_GOOGLE_PORT=$google_port" "CRMSYNC_CRM_PORT=$crm_port" "CRMSYNC_PUBSUB_PORT=$pubsub_port" "CRMSYNC_FIRESTORE_PORT=$firestore_port"; do
  v=${pair#*=}
  [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] && [ "$v" -le 65535 ] || die "${pair%%=*}=$v is not a port number (want 1-65535)."
done

require_go
require_emulators
require_free_port "$web_port" CRMSYNC_WEB_PORT "the functions"
require_free_port "$google_port" CRMSYNC_GOOGLE_PORT "the fake Google Workspace"
require_free_port "$crm_port" CRMSYNC_CRM_PORT "the reference CRM"
require_free_port "$pubsub_port" CRMSYNC_PUBSUB_PORT "the Pub/Sub emulator"
require_free_port "$firestore_port" CRMSYNC_FIRESTORE_PORT "the Firestore emulator"

state=.sandbox
mkdir -p "$state/logs" "$state/bin"
trap 'stop_children' EXIT
trap 'say ""; say "stopping the sandbox…"; exit 0' INT TERM

say "building the sandbox…"
go build -o "$state/bin/sandbox" ./shared/sandbox/cmd/sandbox

say "starting the Firestore and Pub/Sub emulators…"
start_firestore "$firestore_port" "$state/logs/firestore.log" || die "the Firestore emulator did not start"
start_pubsub "$pubsub_port" "$state/logs/pubsub.log" || die "the Pub/Sub emulator did not start"

export GOOGLE_CLOUD_PROJECT=${GOOGLE_CLOUD_PROJECT:-crmsync-sandbox}
export CRMSYNC_ENV=sandbox
export CRMSYNC_VERSION=${CRMSYNC_VERSION:-sandbox-$(git rev-parse --short HEAD 2>/dev/null || echo dev)}
export FIRESTORE_EMULATOR_HOST="127.0.0.1:$firestore_port"
export PUBSUB_EMULATOR_HOST="127.0.0.1:$pubsub_port"
export CRMSYNC_WEB_PORT=$web_port
export CRMSYNC_GOOGLE_PORT=$google_port
export CRMSYNC_CRM_PORT=$crm_port
export CRMSYNC_SECRET_CRM_API_KEY=${CRMSYNC_SECRET_CRM_API_KEY:-sandbox-crm-key}
export CRMSYNC_SANDBOX_STARTED_AT=$started_ms
unset FUNCTION_TARGET

setsid "$state/bin/sandbox" < /dev/null &
CHILD_PGIDS+=("$!")

# Any child ending ends the sandbox: say which, stop the rest.
set +e
wait -n
status=$?
set -e
say "a sandbox process exited (status $status); stopping everything. Logs: $state/logs/"
exit 1
