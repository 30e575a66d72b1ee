#!/usr/bin/env bash
# scripts/stage-all.sh OUTDIR: stages every function (scripts/stage.sh) and
# zips each tree to OUTDIR/NAME.zip, deterministically (sorted entries, fixed
# timestamps), so unchanged code gives the same zip, the same MD5, the same
# object name, and Terraform leaves the function alone.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/stage-all.sh OUTDIR" >&2; exit 2; }
# OUTDIR is relative to where the command is run, as a user reads it.
mkdir -p "$1"
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for dir in functions/*/; do
  name=$(basename "$dir")
  scripts/stage.sh "$name" "$work/$name" >/dev/null
  python3 - "$work/$name" "$out/$name.zip" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
paths = []
for root, _, files in os.walk(src):
    for f in files:
        paths.append(os.path.relpath(os.path.join(root, f), src))
with zipfile.ZipFile(dst + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(paths):
        info = zipfile.ZipInfo(p, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(src, p), "rb") as fh:
            z.writestr(info, fh.read())
os.replace(dst + ".tmp", dst)
PY
  echo "staged $name → $out/$name.zip"
done
