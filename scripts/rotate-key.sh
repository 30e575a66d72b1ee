#!/usr/bin/env bash
# scripts/rotate-key.sh PROJECT SECRET add|promote|retire KEY_ID
#
# Rotates a keyring secret (token-encryption-key or signing-key) without
# making anything it sealed or signed unreadable. Each step adds one new
# version of the secret; no key is ever printed.
#
#   add KEY_ID      a new random key, as the last line: every instance
#                   learns to read it, nothing uses it yet
#   promote KEY_ID  that key becomes the first line: it seals and signs
#                   everything new; a grant read with an older key is sealed
#                   again with it
#   retire KEY_ID   that (older) key is removed
#
# Wait between the steps until every instance has read the new version
# (docs/operations.md, "Rotating a key", says how long and how to check).
# A bare key stored before keyrings is line "1".
set -euo pipefail
usage() { echo "usage: scripts/rotate-key.sh PROJECT token-encryption-key|signing-key add|promote|retire KEY_ID" >&2; exit 2; }
[ $# -eq 4 ] || usage
project=$1 secret=$2 step=$3 id=$4
case "$secret" in token-encryption-key|signing-key) ;; *) echo "error: $secret is not a keyring secret" >&2; usage ;; esac
case "$step" in add|promote|retire) ;; *) usage ;; esac
[[ "$id" =~ ^[A-Za-z0-9-]{1,24}$ ]] || { echo "error: key id '$id': want 1 to 24 letters, digits or -" >&2; exit 2; }
command -v gcloud >/dev/null || { echo "error: the Google Cloud CLI (gcloud) is needed" >&2; exit 2; }

current=$(gcloud secrets versions access latest --secret="$secret" --project="$project") || {
  echo "error: could not read $secret (has it a version? scripts/set-secrets.sh makes the first)" >&2; exit 1; }

# One "ID:KEY" per line, comments and blanks dropped, a bare key as "1".
ring=$(printf '%s\n' "$current" | awk '
  { sub(/^[ \t]+/, ""); sub(/[ \t\r]+$/, "") }
  /^$/ || /^#/ { next }
  index($0, ":") == 0 { $0 = "1:" $0 }
  { print }')
[ -n "$ring" ] || { echo "error: $secret holds no key" >&2; exit 1; }
ids=$(printf '%s\n' "$ring" | cut -d: -f1)
has() { printf '%s\n' "$ids" | grep -qx -- "$1"; }
first=$(printf '%s\n' "$ids" | head -n1)

case "$step" in
  add)
    has "$id" && { echo "error: $secret has a key $id already" >&2; exit 1; }
    ring=$(printf '%s\n%s:%s' "$ring" "$id" "$(head -c 32 /dev/urandom | base64 | tr -d '\n')") ;;
  promote)
    has "$id" || { echo "error: $secret has no key $id (add it first)" >&2; exit 1; }
    ring=$(printf '%s\n' "$ring" | awk -F: -v id="$id" '$1 == id { print; next } { rest = rest $0 "\n" } END { printf "%s", rest }') ;;
  retire)
    has "$id" || { echo "error: $secret has no key $id" >&2; exit 1; }
    [ "$id" != "$first" ] || { echo "error: $id is the primary key of $secret; promote another key first" >&2; exit 1; }
    ring=$(printf '%s\n' "$ring" | awk -F: -v id="$id" '$1 != id') ;;
esac

printf '%s\n' "$ring" | gcloud secrets versions add "$secret" --project="$project" --data-file=- >/dev/null
echo "$secret: added a version with keys $(printf '%s\n' "$ring" | cut -d: -f1 | paste -sd' ') (the first one seals and signs)"
case "$step" in
  add) echo "next: wait until every instance has read it (docs/operations.md), then: scripts/rotate-key.sh $project $secret promote $id" ;;
  promote) echo "next: wait until every grant is sealed again (docs/operations.md), then retire the old key" ;;
  retire) echo "done: key $id is gone; anything only it sealed or signed can no longer be read" ;;
esac
