#!/usr/bin/env python3
"""Fan-out: one publisher to many readers through srt-relay and through the C floor (fanout.c), side by side.

For each reader count, each server in turn (the order alternating between repetitions): start the server, run
load.c (the readers, then a paced publisher), and read the server's CPU (user + system, all threads, from
/proc/PID/stat) from the publisher's connection to the end of the load. Then the same with one more reader,
srt-live-transmit, stopped (SIGSTOP) while it is connected: the others' delivery and latency against the run
without it. Prints the tables of Docs/benchmarks.md and writes every trial to a CSV file.
"""
import argparse
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relay_command(args, port, extra=()):
    return [args.relay, "--listen", f"127.0.0.1:{port}", "--record", "none", "--max-connections", "1000",
            "--max-readers", "1000", "--status-interval", "0", "--latency", "120", *extra]


def start_server(kind, args, port, origin_port=None):
    if kind == "srt-relay":
        command = relay_command(args, port)
    elif kind == "srt-relay edge":
        # Pulls the stream from the origin on origin_port for its readers.
        command = relay_command(args, port, ["--pull", f"*=srt://127.0.0.1:{origin_port}"])
    else:
        command = [args.fanout, str(port), "120"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # listening well within this; both print it, neither is read here
    return server


def trial(kind, readers, args, stalled):
    port = free_port()
    # An edge's publisher goes to an origin relay (not measured); every other server takes it itself.
    origin_port = free_port() if kind == "srt-relay edge" else None
    origin = start_server("srt-relay", args, origin_port) if origin_port else None
    server = start_server(kind, args, port, origin_port)
    stopped = None
    try:
        if stalled:
            stopped = subprocess.Popen(
                ["srt-live-transmit", "-q", "-a:no", f"srt://127.0.0.1:{port}?streamid=read:bench", "file://con"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            stopped.send_signal(signal.SIGSTOP)
        load = subprocess.Popen([args.load, str(port), str(readers), str(args.mbits), str(args.seconds), "120"]
                                + ([str(origin_port)] if origin_port else []),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        start = None
        for line in load.stderr:
            if line.strip() == "publishing":
                start = cpu_seconds(server.pid)
                break
        output, _ = load.communicate(timeout=args.seconds + 60)
        end = cpu_seconds(server.pid)
        result = json.loads(output.strip().splitlines()[-1])
        result.update(server=kind, stalled=stalled, cpu_s=end - (start if start is not None else end))
        return result
    finally:
        if stopped:
            stopped.send_signal(signal.SIGCONT)
            stopped.kill()
            stopped.wait()
        for process in [server] + ([origin] if origin else []):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True)
    parser.add_argument("--fanout", required=True)
    parser.add_argument("--load", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--readers", default="50,100,200")
    parser.add_argument("--mbits", type=float, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--stalled-readers", type=int, default=50)
    # The edge comparison: the stream published to the relay itself, against pulled from an origin (--pull).
    parser.add_argument("--pull", action="store_true")
    args = parser.parse_args()
    kinds = ["srt-relay", "srt-relay edge"] if args.pull else ["fanout.c", "srt-relay"]
    rows = []
    # --stalled-readers 0 leaves the stalled-reader plan out.
    plans = [(int(n), False) for n in args.readers.split(",")]
    plans += [(args.stalled_readers, True)] if args.stalled_readers > 0 else []
    for readers, stalled in plans:
        for repetition in range(args.repetitions):
            order = kinds if repetition % 2 == 0 else kinds[::-1]
            for kind in order:
                row = trial(kind, readers, args, stalled)
                row.update(repetition=repetition, load=os.getloadavg()[0])
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    with open(args.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)

    def median(values):
        return statistics.median(values) if values else float("nan")

    base = kinds[0]
    print(f"| readers | server | every reader got every message | CPU s | CPU ms per reader | CPU ÷ {base} |"
          " latency p50 / p99 ms |")
    print("| ---: | --- | --- | ---: | ---: | ---: | --- |")
    for readers, stalled in plans:
        floor = None
        for kind in kinds:
            trials = [r for r in rows if r["server"] == kind and r["readers"] == readers and r["stalled"] == stalled]
            cpu = median([r["cpu_s"] for r in trials])
            whole = all(r["fewest"] == r["sent"] and r["gaps"] == 0 for r in trials)
            if kind == base:
                floor = cpu
            ratio = "" if kind == base else f"**{cpu / floor:.2f}**"
            label = f"{readers}" + (" + 1 stopped" if stalled else "")
            print(f"| {label} | {kind} | {'yes' if whole else 'no'} ({min(r['fewest'] for r in trials)} of "
                  f"{trials[0]['sent']}) | {cpu:.2f} | {cpu / readers * 1000:.1f} | {ratio} | "
                  f"{median([r['latency_p50_ms'] for r in trials]):.1f} / "
                  f"{median([r['latency_p99_ms'] for r in trials]):.1f} |")
            if args.pull and kind != base:
                # What the pull costs the edge, in readers: the extra CPU over the published stream's per reader.
                print(f"the pull costs the edge {(cpu - floor) / (floor / readers):.2f} readers' worth of CPU "
                      "(medians)")
                # The same per repetition, whose two trials ran back to back under the same load: the machine's
                # drift between repetitions, larger than the pull's cost, cancels out of each difference.
                costs = []
                for repetition in range(args.repetitions):
                    pair = {r["server"]: r["cpu_s"] for r in rows
                            if r["repetition"] == repetition and r["readers"] == readers and r["stalled"] == stalled}
                    if base in pair and kind in pair and pair[base] > 0:
                        costs.append((pair[kind] - pair[base]) / (pair[base] / readers))
                if len(costs) >= 2:
                    quartiles = statistics.quantiles(costs, n=4)
                    print(f"paired by repetition: the pull costs {median(costs):.2f} readers' worth "
                          f"(median of {len(costs)} pairs, quartiles {quartiles[0]:.2f} to {quartiles[2]:.2f}, "
                          f"range {min(costs):.2f} to {max(costs):.2f})")

if __name__ == "__main__":
    main()
