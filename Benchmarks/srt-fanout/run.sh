#!/usr/bin/env bash
# Fan-out: one publisher at 8 Mbit/s to 50, 100 and 200 readers through srt-relay and through a plain C fan-out over
# the same libsrt (fanout.c, the floor), side by side in one run; then 50 readers with one more stopped. Prints the
# table Docs/benchmarks.md records and writes every trial to Docs/data/srt-fanout.csv.
#
# Usage: Benchmarks/srt-fanout/run.sh [--readers 50,100,200] [--mbits 8] [--seconds 10] [--repetitions 3]
#        [--stalled-readers 50] [--pull] [--csv PATH]
# With --pull it compares srt-relay with the stream published to it against srt-relay as an edge pulling the stream
# from an origin relay (--pull), the origin's CPU not counted.
# Release builds only. Everything talks to 127.0.0.1. SCRATCH_PATH picks the Swift build folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$root/scripts/install-deps.sh" gcc python3

scratch=${SCRATCH_PATH:-.build}
(cd "$root" && swift build -c release --scratch-path "$scratch" --product srt-relay >&2)
relay="$(cd "$root" && swift build -c release --scratch-path "$scratch" --show-bin-path)/srt-relay"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -Wall -Wextra -o "$out/fanout" "$here/fanout.c" $(pkg-config --cflags --libs srt)
gcc -O2 -Wall -Wextra -pthread -o "$out/load" "$here/load.c" $(pkg-config --cflags --libs srt)

libsrt=$(srt-live-transmit -version 2>&1 | grep -m1 -o 'SRT Library version: [0-9.]*')
echo "== SRT fan-out: $(nproc) cores, $(uname -r), $libsrt, load average $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$root/Docs/data"
python3 "$here/run.py" --relay "$relay" --fanout "$out/fanout" --load "$out/load" \
    --csv "$root/Docs/data/srt-fanout.csv" "$@"
