#!/usr/bin/env bash
# Runs the Swift benchmarks and, in the same run, the reference implementations they are compared with;
# prints the side-by-side figures that Docs/benchmarks.md records. Usage: Benchmarks/run.sh [benchmark filter]
set -euo pipefail
cd "$(dirname "$0")"
../scripts/install-deps.sh golang-go golang-github-cenkalti-backoff-dev python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

filter=${1:-.*}
swift package --allow-writing-to-package-directory benchmark --format text --no-progress --filter "$filter" \
    | tee "$out/swift.txt"

# Only the backoff benchmark has a Go counterpart: a filter that leaves it out compares nothing.
if ! [[ "Backoff.next: exponential + full jitter" =~ $filter ]]; then
    echo
    echo "no backoff benchmark in this run: nothing to compare with Go"
    exit 0
fi

echo
echo "== cenkalti/backoff v4 (Go $(go version | awk '{print $3}')), same machine, same run"
(cd go/cenkalti && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$out/gocache" \
    go test -bench . -benchmem -count 5) | tee "$out/go.txt"

echo
python3 compare.py "$out/swift.txt" "$out/go.txt"
