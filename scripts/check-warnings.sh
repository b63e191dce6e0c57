#!/usr/bin/env bash
# Builds everything and fails on any compiler warning in the project's own files.
# (SwiftPM's -warnings-as-errors conflicts with the -suppress-warnings it passes to dependencies.)
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build --build-tests "$@" 2>&1 | tee "$log" | grep -E "error:|warning:|Compiling|Build" | grep -v "^\[" || true
if [ "${PIPESTATUS[0]}" -ne 0 ]; then exit 1; fi
root=$(pwd)
if grep -E "^$root/(Sources|Adapters|Tests)/.*: (warning|error):" "$log"; then
    echo "the build has warnings in the project's files (above)" >&2
    exit 1
fi
