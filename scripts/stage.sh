#!/usr/bin/env bash
# scripts/stage.sh NAME OUTDIR: builds the deployable source tree of one
# Cloud Function.
#
# Cloud Functions' Go buildpack compiles the package at the root of the
# uploaded source. The repository root holds no Go code, so this writes a
# tree whose root package (function.go) blank-imports functions/NAME, whose
# init registers the function, and the framework's functions package, plus go.mod, go.sum and the non-test sources
# of exactly the module packages the function imports, with the files they
# embed (//go:embed: the Web function's templates). Deploy it with
# FUNCTION_TARGET set to the registered name (see functions/NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: scripts/stage.sh NAME OUTDIR (NAME is a folder of functions/)" >&2; exit 2; }
name=$1 out=$2
[ -d "functions/$name" ] || { echo "error: functions/$name does not exist; functions are: $(ls functions | tr '\n' ' ')" >&2; exit 2; }
module=$(go list -m)

rm -rf "$out"
mkdir -p "$out"
cp go.mod go.sum "$out/"
go list -deps -f '{{if .Module}}{{if eq .Module.Path "'"$module"'"}}{{.Dir}}|{{join .EmbedFiles " "}}{{end}}{{end}}' "./functions/$name" |
while IFS='|' read -r dir embeds; do
  [ -n "$dir" ] || continue
  rel=${dir#"$PWD"/}
  mkdir -p "$out/$rel"
  for f in "$dir"/*.go; do
    case "$f" in *_test.go) ;; *) cp "$f" "$out/$rel/" ;; esac
  done
  for f in $embeds; do
    mkdir -p "$(dirname "$out/$rel/$f")"
    cp "$dir/$f" "$out/$rel/$f"
  done
done
# The buildpack generates the main that serves the function from what this
# root package imports: only a root that itself imports the framework's
# functions package gets the main that looks the function up by
# FUNCTION_TARGET among the registered ones (the declarative signature);
# any other root gets a main that calls function.<FUNCTION_TARGET>, which
# this package does not have (GoogleCloudPlatform/buildpacks,
# cmd/go/functions_framework/lib, createMainGoFile).
cat > "$out/function.go" <<GO
// Package function is the source root Cloud Functions builds: importing
// functions/$name registers its function with the Functions Framework, and
// importing the framework's functions package tells Google's buildpack to
// serve it by FUNCTION_TARGET.
package function

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "$module/functions/$name"
)
GO
echo "staged functions/$name in $out"
