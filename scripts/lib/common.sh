# Shared by scripts/test.sh and scripts/dev.sh: prerequisites, ports, and
# emulator processes that are always stopped, whole process group, on exit.
# Source it; it defines functions only.

# Every started child's process group, stopped by stop_children.
CHILD_PGIDS=()

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root runs a command as root (directly, or with sudo when available).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}

# apt_install PKG... installs Debian packages, updating the lists once.
APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}

require_go() {
  command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH: install Go 1.26 or newer (https://go.dev/doc/install)."
}

# require_java installs Java 17 from Debian's packages when it is missing.
require_java() {
  if ! command -v java >/dev/null 2>&1; then
    say "Java is missing; installing openjdk-17-jre-headless from Debian's packages…"
    apt_install openjdk-17-jre-headless || die "Java 17 is missing (the Firestore and Pub/Sub emulators need it): install it with 'apt-get install openjdk-17-jre-headless'."
  fi
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ -n "$major" ] && [ "$major" -ge 11 ] || die "Java $major is too old for the emulators: install Java 17 ('apt-get install openjdk-17-jre-headless')."
}

# require_chromium installs Debian's Chromium for the browser tests when it
# is missing.
require_chromium() {
  if ! command -v chromium >/dev/null 2>&1; then
    say "Chromium is missing; installing Debian's chromium for the browser tests…"
    apt_install chromium || die "Chromium is missing (the browser tests need it): install it with 'apt-get install chromium'."
  fi
}

# require_axe installs axe-core (the accessibility checker the browser tests
# run in Chromium) from the npm registry, pinned, into a cache outside the
# repository, and exports CRMSYNC_AXE_JS, the path of its script.
AXE_VERSION=4.14.1
require_axe() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/crmsync/axe-core-$AXE_VERSION"
  if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ]; then
    command -v npm >/dev/null 2>&1 || apt_install npm || die "npm is missing (the browser tests' accessibility check installs axe-core with it): install it with 'apt-get install npm'."
    say "installing axe-core $AXE_VERSION from the npm registry…"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "axe-core@$AXE_VERSION" >/dev/null || die "installing axe-core $AXE_VERSION from the npm registry failed"
  fi
  export CRMSYNC_AXE_JS="$dir/node_modules/axe-core/axe.min.js"
}

# require_emulators checks the Google Cloud CLI and its two emulator components.
require_emulators() {
  command -v gcloud >/dev/null 2>&1 || die "The Google Cloud CLI (gcloud) is missing: install google-cloud-cli with the emulator components (https://cloud.google.com/sdk/docs/install)."
  local root
  root=$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")
  [ -d "$root/platform/cloud-firestore-emulator" ] || die "The Firestore emulator is missing: install it with 'apt-get install google-cloud-cli-firestore-emulator' or 'gcloud components install cloud-firestore-emulator'."
  [ -d "$root/platform/pubsub-emulator" ] || die "The Pub/Sub emulator is missing: install it with 'apt-get install google-cloud-cli-pubsub-emulator' or 'gcloud components install pubsub-emulator'."
  require_java
}

# port_busy PORT succeeds when something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# require_free_port PORT VARIABLE WHAT fails with a message naming the port.
require_free_port() {
  if port_busy "$1"; then
    die "port $1 ($3) is already in use: stop whatever listens there, or choose another port with $2=<port>."
  fi
}

# free_port prints a port nothing listens on, below the system's ephemeral
# range: a port in that range can be taken by an outgoing connection at
# any moment, and the emulator's bind then fails.
free_port() {
  local p lo=20000 hi=32767 eph _
  if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r eph _ < /proc/sys/net/ipv4/ip_local_port_range
    if [ "$eph" -gt $((lo + 1000)) ]; then hi=$((eph - 1)); fi
  fi
  for _ in $(seq 1 50); do
    p=$(( lo + RANDOM % (hi - lo) ))
    port_busy "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free port"
}

# start_on_free_port VAR START LOG runs START (start_firestore or
# start_pubsub) on a free port, and on another if that one was taken in
# the meantime (three tries), and sets VAR to the port it answers on.
start_on_free_port() {
  local var=$1 start=$2 log=$3 p
  for _ in 1 2 3; do
    p=$(free_port)
    if "$start" "$p" "$log"; then
      printf -v "$var" '%s' "$p"
      return 0
    fi
  done
  return 1
}

# start_group LOG CMD... starts CMD in its own process group, output to LOG,
# and remembers the group so stop_children stops it and all its children.
# The child's pid is left in STARTED_PID.
start_group() {
  local log=$1; shift
  setsid "$@" >"$log" 2>&1 < /dev/null &
  STARTED_PID=$!
  CHILD_PGIDS+=("$STARTED_PID")
}

# wait_ready URL SECONDS NAME LOG waits until URL answers, failing with the
# end of LOG when the process died or the time ran out.
wait_ready() {
  local url=$1 secs=$2 name=$3 log=$4 pid=${5:-}
  local deadline=$(( $(date +%s) + secs ))
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited before it was ready; the end of its log ($log):"
      tail -n 20 "$log" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "$name did not answer at $url within ${secs}s; the end of its log ($log):"
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.3
  done
}

# start_firestore PORT LOG and start_pubsub PORT LOG start an emulator on
# 127.0.0.1:PORT and wait until it answers.
start_firestore() {
  start_group "$2" gcloud emulators firestore start --host-port="127.0.0.1:$1" --quiet
  wait_ready "http://127.0.0.1:$1/" 90 "the Firestore emulator" "$2" "$STARTED_PID"
}
start_pubsub() {
  start_group "$2" gcloud beta emulators pubsub start --host-port="127.0.0.1:$1" --quiet
  wait_ready "http://127.0.0.1:$1/" 90 "the Pub/Sub emulator" "$2" "$STARTED_PID"
}

# stop_children stops every started process group: TERM, then KILL.
stop_children() {
  local pg
  [ ${#CHILD_PGIDS[@]} -gt 0 ] || return 0
  for pg in "${CHILD_PGIDS[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for _ in $(seq 1 30); do
    local alive=""
    for pg in "${CHILD_PGIDS[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.2
  done
  for pg in "${CHILD_PGIDS[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  CHILD_PGIDS=()
}
