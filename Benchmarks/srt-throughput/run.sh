#!/usr/bin/env bash
# SRT live-mode throughput and CPU: srt-live-transmit and the library's SRTServer (srt-drain) receive the same paced
# stream on loopback, alternately, in one run; prints the table Docs/benchmarks.md records, writes every trial to
# Docs/data/srt-throughput.csv and draws Docs/images/srt-throughput.svg.
#
# Usage: Benchmarks/srt-throughput/run.sh [--rates 50,200,500] [--seconds 10] [--repetitions 5]
#        Benchmarks/srt-throughput/run.sh --record [...]   srt-live-transmit writing a file against srt-relay
#                                                          recording: Docs/data/srt-record.csv, no plot
# Needs root to raise net.core.rmem_max/wmem_max (restored on exit). SCRATCH_PATH picks the Swift build folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$root/scripts/install-deps.sh" gcc python3

record=false
if [ "${1:-}" = "--record" ]; then
    record=true
    shift
fi
scratch=${SCRATCH_PATH:-.build}
if $record; then
    (cd "$root" && swift build -c release --scratch-path "$scratch" --product srt-relay >&2)
    relay="$(cd "$root" && swift build -c release --scratch-path "$scratch" --show-bin-path)/srt-relay"
else
    (cd "$root/Benchmarks" && swift build -c release --scratch-path "$scratch" --product srt-drain >&2)
    drain="$(cd "$root/Benchmarks" && swift build -c release --scratch-path "$scratch" --show-bin-path)/srt-drain"
fi

out=$(mktemp -d)
gcc -O2 -Wall -Wextra -o "$out/sender" "$here/sender.c" $(pkg-config --cflags --libs srt)

# libsrt asks for a 12 MB UDP receive buffer (SRTO_UDP_RCVBUF's default, 8192 x 1500 B), and the kernel caps it at
# rmem_max (Linux's default is 208 KiB): raise the cap for the run, so both receivers get the same 12 MB whatever the
# machine's setting, and put it back afterwards.
old_rmem=$(sysctl -n net.core.rmem_max)
old_wmem=$(sysctl -n net.core.wmem_max)
restore() {
    sysctl -qw net.core.rmem_max="$old_rmem" net.core.wmem_max="$old_wmem"
    rm -rf "$out"
}
trap restore EXIT
# A signal ends the script through its EXIT trap, which bash skips when a signal kills it outright.
trap 'exit 130' INT TERM
sysctl -qw net.core.rmem_max=33554432 net.core.wmem_max=33554432

# Read whole, then searched: grep -m1 on the pipe could end srt-live-transmit with SIGPIPE, which pipefail reports.
version_text=$(srt-live-transmit -version 2>&1 || true)
libsrt=$(grep -m1 -o 'SRT Library version: [0-9.]*' <<<"$version_text")
mkdir -p "$root/Docs/data" "$root/Docs/images"
if $record; then
    # The recordings go to disk, not to a memory file system: a workdir under the build folder.
    echo "== SRT recording: $(nproc) cores, $(uname -r), $libsrt, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    disk=$(mktemp -d "$root/.build-record.XXXXXX")
    trap 'restore; rm -rf "$disk"' EXIT
    python3 "$here/run.py" --record --sender "$out/sender" --relay "$relay" \
        --csv "$root/Docs/data/srt-record.csv" --workdir "$disk" "$@"
else
    echo "== SRT throughput: $(nproc) cores, $(uname -r), $libsrt, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 "$here/run.py" --sender "$out/sender" --drain "$drain" --csv "$root/Docs/data/srt-throughput.csv" \
        --workdir "$out" "$@"
    python3 "$here/plot.py" "$root/Docs/data/srt-throughput.csv" "$root/Docs/images/srt-throughput.svg"
fi
