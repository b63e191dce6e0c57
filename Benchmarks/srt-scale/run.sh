#!/usr/bin/env bash
# SRT connection scale and accept rate, all on 127.0.0.1; Docs/benchmarks.md records what it prints.
#
# 1. Connection scale: CONNECTIONS callers (callers.c, one local UDP port) each stream MESSAGES messages of 1316 bytes
#    at RATE per second into one SRTServer (srt-scale-server scale): every one accepted, loss per connection, the
#    server's threads and resident memory at baseline, all accepted, while streaming, and at the end. Then the same
#    callers into receiver.c, the same work in plain libsrt, for what libsrt costs by itself.
# 2. Accept rate: connector.c makes ACCEPT_CONNECTIONS connections with ACCEPT_CONCURRENCY handshakes in flight,
#    against accept_loop.c (a blocking srt_accept loop) at libsrt's flow window and at the adapter's, and against
#    srt-scale-server accept, in rotating order, ACCEPT_REPETITIONS times each; medians, the ratios, and bootstrap
#    intervals of the ratios within repetitions.
#
# Usage: Benchmarks/srt-scale/run.sh [scale|accept|all]
# Environment: SCRATCH (SwiftPM scratch path, default .build), CONNECTIONS (1000), MESSAGES (300), RATE (10),
# ACCEPT_CONNECTIONS (2000), ACCEPT_CONCURRENCY (32), ACCEPT_REPETITIONS (11), KEEP=1 keeps the raw outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case $what in scale | accept | all) ;; *)
    echo "usage: $0 [scale|accept|all]" >&2
    exit 2
    ;;
esac
connections=${CONNECTIONS:-1000}
messages=${MESSAGES:-300}
rate=${RATE:-10}
accept_connections=${ACCEPT_CONNECTIONS:-2000}
accept_concurrency=${ACCEPT_CONCURRENCY:-32}
repetitions=${ACCEPT_REPETITIONS:-11}
scratch=${SCRATCH:-.build}
../scripts/install-deps.sh gcc python3

out=$(mktemp -d)
pids=()
cleanup() {
    # Only what this script started and has not reaped yet, by pid.
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "raw outputs kept in $out"; else rm -rf "$out"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (release)"
swift build -c release --scratch-path "$scratch" --product srt-scale-server 2>&1 | tail -1
server="$(swift build -c release --scratch-path "$scratch" --show-bin-path)/srt-scale-server"
for program in callers receiver accept_loop connector; do
    gcc -O2 -Wall -Wextra -Werror -o "$out/$program" "srt-scale/$program.c" $(pkg-config --cflags --libs srt)
done
echo "machine: $(nproc) cores, $(uname -sr), libsrt $(pkg-config --modversion srt); load average at start:$(cut -d' ' -f1-3 /proc/loadavg | sed 's/^/ /')"

# Waits (at most 30 s) for "READY port=P" in file $1 and prints P.
ready_port() {
    for _ in $(seq 300); do
        if grep -q '^READY port=' "$1"; then
            sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$1"
            return 0
        fi
        sleep 0.1
    done
    echo "no READY line in $1" >&2
    return 1
}

# Drops pid $1 from the list the EXIT trap kills (once reaped, its number may be reused).
forget() {
    local kept=() pid
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
    pids=("${kept[@]}")
}

# Waits for pid $1 to exit, at most $2 seconds; kills it after that. Returns its status.
wait_bounded() {
    local pid=$1 limit=$2
    for _ in $(seq $((limit * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null && echo "pid $pid still running after ${limit} s: killed" >&2
    local status=0
    wait "$pid" || status=$?
    forget "$pid"
    return $status
}

# Runs one scale measurement: server command "$@" (prints READY port=P), callers.c against it; outputs in $out/$label.*
scale_run() {
    local label=$1
    shift
    "$@" >"$out/$label.server" 2>"$out/$label.server-err" &
    local server_pid=$!
    pids+=("$server_pid")
    local port
    port=$(ready_port "$out/$label.server")
    local callers_status=0 server_status=0
    # In the background and waited for, so that a signal to this script reaches its trap at once.
    "$out/callers" "$port" "$connections" "$messages" "$rate" >"$out/$label.callers" 2>"$out/$label.callers-err" &
    local callers_pid=$!
    pids+=("$callers_pid")
    wait_bounded "$callers_pid" $((stream_seconds + 150)) || callers_status=$?
    wait_bounded "$server_pid" 120 || server_status=$?
    echo "$label: server exit status $server_status, callers $callers_status" \
        "(0: all connected and accepted, nothing lost; for SRTServer also its own threads constant)"
    grep -hv '^$' "$out/$label.server-err" "$out/$label.callers-err" | head -5 || true
}

if [ "$what" != accept ]; then
    echo
    echo "== connection scale: $connections callers × $messages messages at $rate/s, into SRTServer, then into the C receiver"
    stream_seconds=$(python3 -c "print(int($messages / $rate))")
    scale_run scale-swift "$server" scale "$connections" "$messages" $((stream_seconds + 90))
    scale_run scale-c "$out/receiver" "$connections" "$messages"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 srt-scale/report.py scale "$out/scale-swift.server" "$out/scale-swift.callers" \
        "$out/scale-c.server" "$out/scale-c.callers"
fi

if [ "$what" != scale ]; then
    echo
    echo "== accept rate: $accept_connections connections, $accept_concurrency in flight, $repetitions repetitions each, rotating"
    for repetition in $(seq "$repetitions"); do
        # Each side first, second and last in turn, forwards and backwards, so that a drift of the machine's load
        # does not favour one side.
        case $((repetition % 6)) in
            1) order="c window swift" ;; 2) order="swift window c" ;; 3) order="window swift c" ;;
            4) order="c swift window" ;; 5) order="swift c window" ;; *) order="window c swift" ;;
        esac
        for side in $order; do
            result="$out/accept-$side-$repetition"
            if [ "$side" = c ]; then
                "$out/accept_loop" "$accept_connections" 1024 >"$result.server" 2>"$result.server-err" &
            elif [ "$side" = window ]; then
                # The adapter's flow window: its receive buffer in packets (SRTSocketOptions).
                "$out/accept_loop" "$accept_connections" 1024 8192 >"$result.server" 2>"$result.server-err" &
            else
                "$server" accept "$accept_connections" 1024 >"$result.server" 2>"$result.server-err" &
            fi
            server_pid=$!
            pids+=("$server_pid")
            port=$(ready_port "$result.server")
            "$out/connector" "$port" "$accept_connections" "$accept_concurrency" >"$result.connector" 2>"$result.connector-err" &
            connector_pid=$!
            pids+=("$connector_pid")
            wait_bounded "$server_pid" 90 || echo "$side server, repetition $repetition: exit status $?" >&2
            # The connector reports once every caller connected; give it a moment, then stop it.
            for _ in $(seq 50); do
                grep -q '^CONNECTOR' "$result.connector" && break
                sleep 0.1
            done
            kill "$connector_pid" 2>/dev/null || true
            wait "$connector_pid" 2>/dev/null || true
            forget "$connector_pid"
        done
    done
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 srt-scale/report.py accept "$out" "$repetitions"
fi
