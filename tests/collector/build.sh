#!/usr/bin/env bash
# Build the OpenTelemetry Collector the Collector tests run (tests/collector/otelcol: core
# v0.165.0 / v1.71.0, contrib v0.165.1, every module pinned by go.sum), from the Go module
# proxy. The binary is cached by the hash of its sources, outside the work tree, so a fresh
# clone reuses it: ${XDG_CACHE_HOME:-~/.cache}/chatsnapshot/otelcol/<hash>/. It is linked as
# build/otelcol-chatsnapshot, where the tests look for it.
#
#   tests/collector/build.sh          build (or reuse) and link; prints the binary's path
#
# Without Go it says so and exits 0, so `make test` goes on and the Collector tests skip;
# with CI=true a missing Go is an error (CI must run them).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
src="$root/tests/collector/otelcol"
link="$root/build/otelcol-chatsnapshot"
if ! command -v go >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "Go not found: CI runs the Collector tests, which need Go 1.26+ to build the Collector" >&2
    exit 1
  fi
  echo "Go not found: the Collector tests are skipped (install Go 1.26+ to run them)" >&2
  rm -f "$link"
  exit 0
fi
hash="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-16)"
out="${XDG_CACHE_HOME:-$HOME/.cache}/chatsnapshot/otelcol/$hash"
if [ ! -x "$out/otelcol-chatsnapshot" ]; then
  echo "building the OpenTelemetry Collector v0.165.0 for the tests (about 2 minutes the first time)" >&2
  mkdir -p "$out"
  started=$(date +%s)
  (cd "$src" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$out/otelcol-chatsnapshot.tmp" .)
  mv "$out/otelcol-chatsnapshot.tmp" "$out/otelcol-chatsnapshot"
  echo "built in $(( $(date +%s) - started )) s: $out/otelcol-chatsnapshot" >&2
fi
mkdir -p "$root/build"
ln -sfn "$out/otelcol-chatsnapshot" "$link"
echo "$link"
