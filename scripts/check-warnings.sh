#!/usr/bin/env bash
# Builds everything and fails if the build fails or has any compiler warning in the project's own files.
# (SwiftPM's -warnings-as-errors conflicts with the -suppress-warnings it passes to dependencies.)
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The build's own status, taken before any filter can hide it (a linker, manifest or dependency error).
status=0
swift build --build-tests "$@" > "$log" 2>&1 || status=$?
grep -E "error:|warning:|Compiling|Build" "$log" | grep -v "^\[" || true
if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "swift build failed with status $status" >&2
    exit "$status"
fi
root=$(pwd)
if grep -E "^$root/(Sources|Adapters|Tests|Examples)/.*: (warning|error):" "$log"; then
    echo "the build has warnings in the project's files (above)" >&2
    exit 1
fi
