#!/usr/bin/env bash
# Runs `swift test --skip-build` with the given arguments and fails when the tests fail or when no test ran at all
# (a filter that matches nothing would otherwise pass without testing anything).
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then exit "$status"; fi
# Swift Testing's summary: "Test run with N tests in M suites passed".
if ! grep -Eq "Test run with [1-9][0-9]* tests? " "$log"; then
    echo "no test ran for: swift test $*" >&2
    exit 1
fi
