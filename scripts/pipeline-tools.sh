#!/usr/bin/env bash
# scripts/pipeline-tools.sh TOOL...: installs, on a Debian-based build image,
# the tools a cloudbuild.yaml step needs that its image lacks. Each comes
# from its publisher's signed apt repository, at a pinned version where the
# version matters:
#
#   cloud-sdk   google-cloud-cli with the Firestore and Pub/Sub emulators
#               (packages.cloud.google.com), for scripts/test.sh on the Go image
#   terraform   Terraform $TERRAFORM_VERSION (apt.releases.hashicorp.com), for
#               plan and apply on the Cloud SDK image (the apply runs gcloud
#               too: see infra/modules/functions)
#   python3     Debian's python3, for scripts/stage-all.sh's deterministic zips
#
# A tool already on PATH is left alone. Needs root (build steps run as root).
set -euo pipefail
TERRAFORM_VERSION=${TERRAFORM_VERSION:-1.11.4}
[ $# -gt 0 ] || { echo "usage: scripts/pipeline-tools.sh cloud-sdk|terraform|python3..." >&2; exit 2; }

apt_ready=""
apt_get() {
  if [ -z "$apt_ready" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg >/dev/null
    apt_ready=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# add_repo NAME KEY_URL LINE: a signed apt source (the key dearmored into
# /usr/share/keyrings/NAME.gpg, named by signed-by).
add_repo() {
  apt_get ca-certificates
  curl -fsSL "$2" | gpg --dearmor --yes -o "/usr/share/keyrings/$1.gpg"
  echo "deb [signed-by=/usr/share/keyrings/$1.gpg] $3" > "/etc/apt/sources.list.d/$1.list"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
}

for tool in "$@"; do
  case "$tool" in
    cloud-sdk)
      if ! command -v gcloud >/dev/null 2>&1; then
        add_repo cloud.google https://packages.cloud.google.com/apt/doc/apt-key.gpg \
          "https://packages.cloud.google.com/apt cloud-sdk main"
      fi
      apt_get google-cloud-cli google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator
      ;;
    terraform)
      if ! terraform version 2>/dev/null | grep -q "^Terraform v$TERRAFORM_VERSION\$"; then
        . /etc/os-release
        add_repo hashicorp https://apt.releases.hashicorp.com/gpg \
          "https://apt.releases.hashicorp.com $VERSION_CODENAME main"
        apt_get "terraform=$TERRAFORM_VERSION-*"
      fi
      ;;
    python3)
      command -v python3 >/dev/null 2>&1 || apt_get python3
      ;;
    *)
      echo "scripts/pipeline-tools.sh: unknown tool $tool (cloud-sdk, terraform or python3)" >&2
      exit 2
      ;;
  esac
  echo "pipeline-tools: $tool ready"
done
