#!/usr/bin/env python3
"""SRT live-mode throughput and CPU: srt-live-transmit against the library's SRTServer, same sender, same run.

Usage (run.sh builds the programs, raises the kernel's UDP buffer limits and calls this):
  run.py --sender PATH --drain PATH --csv OUT.csv [--rates 50,200,500] [--seconds 10] [--repetitions 5]
  run.py --record --sender PATH --relay PATH --csv OUT.csv [...]

With --record the two receivers write the stream to disk: srt-live-transmit to a file (`file://con`, its standard
output sent to the file) and srt-relay recording it (`--output DIR`, everything else default, its fsync rules
included), stopped with SIGTERM once it has closed the recording. Delivered is then what is on disk: the file read
back, 1316-byte messages with consecutive sequence numbers from 0.

For every repetition and rate, both receivers run one after the other (their order alternates between
repetitions), each fed by the same paced C sender (sender.c): MESSAGES = a multiple of 1,000 minus one messages of
1316 bytes, about --seconds long. Each trial's figures:

  delivered   messages handed to the application. srt-drain counts them and checks the sequence numbers;
              srt-live-transmit writes a libsrt statistics line after every 1,000th message it reads (`-s:1000`),
              so its count is 1,000 x lines - 1: exact when nothing is lost (the last line comes with the last
              message), a lower bound otherwise.
  loss        sent - delivered.
  Mbit/s      delivered payload bits / the sender's sending time.
  CPU s/GB    the receiver's user+system CPU time from the moment it listens (before the caller connects) to its
              exit (wait4's rusage minus /proc/PID/stat at the start), per 10^9 payload bytes delivered.
"""
import argparse
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PAYLOAD = 1316
STATS_EVERY = 1000
LATENCY_MS = 120
TICKS = os.sysconf("SC_CLK_TCK")


def udp_bound(port):
    """Whether some socket is bound to UDP `port` on 127.0.0.1 (from /proc/net/udp)."""
    with open("/proc/net/udp", encoding="ascii") as f:
        next(f)
        for line in f:
            local = line.split()[1]
            if local == f"0100007F:{port:04X}":
                return True
    return False


def receive_buffer(port):
    """The kernel receive buffer limit of the UDP socket on `port` (`ss -m`, rb), to show both sides got the same."""
    out = subprocess.run(["ss", "-Hunam", f"sport = :{port}"], capture_output=True, text=True).stdout
    for part in out.replace("(", ",").replace(")", ",").split(","):
        if part.startswith("rb"):
            return int(part[2:])
    return -1


def cpu_seconds_now(pid):
    """User + system CPU seconds of the whole process so far (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def thread_group(name):
    """A thread's role from its name: libsrt numbers its queue threads per multiplexer, Swift's pool threads are
    libdispatch workers ("...default-qos")."""
    if name.startswith("SRT:"):
        return name.rstrip("0123456789").removesuffix(":w")
    if "qos" in name:
        return "Swift pool"
    return name if name == "srt-reactor" else "main"


def thread_sample(pid):
    """{role: [CPU seconds, voluntary context switches]} over the threads of `pid` now; {} once it is gone."""
    sample = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            base = f"/proc/{pid}/task/{tid}"
            with open(f"{base}/comm", encoding="utf-8") as f:
                role = thread_group(f.read().strip())
            with open(f"{base}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"{base}/status", encoding="ascii") as f:
                switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
            entry = sample.setdefault(role, [0.0, 0])
            entry[0] += (int(fields[11]) + int(fields[12])) / TICKS
            entry[1] += switches
    except (OSError, StopIteration, ValueError):
        return {}
    return sample


class ThreadSampler(threading.Thread):
    """Samples the receiver's threads every 200 ms while the sender runs, and keeps the last complete sample: the
    per-thread split of the CPU time (threads that ended before are not in it; libsrt's live ones are)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.last, self.done = pid, {}, threading.Event()

    def run(self):
        while not self.done.wait(0.2):
            sample = thread_sample(self.pid)
            if sample:
                self.last = sample


def wait_exit(pid, timeout):
    """Waits (bounded) for our child `pid`; returns its rusage CPU seconds, or None after killing it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _, usage = os.wait4(pid, os.WNOHANG)
        if done == pid:
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.wait4(pid, 0)
    return None


def free_port(start):
    port = start
    while udp_bound(port):
        port += 1
    return port


def messages_on_disk(paths):
    """How many whole messages the files hold, in order, with consecutive sequence numbers from 0 (the sender's); a
    message out of sequence ends the count, so a hole, a duplicate or a torn write shows as fewer."""
    expected = 0
    for path in sorted(paths):
        with open(path, "rb") as f:
            while True:
                message = f.read(PAYLOAD)
                if len(message) < PAYLOAD or int.from_bytes(message[:8], "big") != expected:
                    return expected
                expected += 1
    return expected


def recordings(directory):
    return [os.path.join(base, name) for base, _, names in os.walk(directory) for name in names]


def wait_for_line(path, needle, timeout):
    """Whether `needle` appears in the file at `path` within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, encoding="utf-8", errors="replace") as f:
            if needle in f.read():
                return True
        time.sleep(0.05)
    return False


def trial(kind, rate, messages, args, port, workdir):
    """One receiver, one sender run; returns a dict of figures."""
    stats_path = os.path.join(workdir, f"slt-{port}.csv")
    output_path = os.path.join(workdir, f"slt-{port}.ts")
    record_dir = os.path.join(workdir, f"relay-{port}")
    stdout = subprocess.PIPE
    if kind == "srt-relay":
        os.mkdir(record_dir)
        command = [args.relay, "--listen", f"127.0.0.1:{port}", "--output", record_dir, "--latency",
                   str(LATENCY_MS), "--json"]
    elif kind == "srt-live-transmit":
        command = [
            "srt-live-transmit", "-a:no", f"-c:{PAYLOAD}", f"-s:{STATS_EVERY}", "-f", "-pf:csv",
            f"-statsout:{stats_path}",
            f"srt://127.0.0.1:{port}?mode=listener&latency={LATENCY_MS}&payloadsize={PAYLOAD}",
            "file://con",
        ]
        # Recording: its standard output is the file; otherwise it is thrown away.
        stdout = open(output_path, "wb") if args.record else subprocess.DEVNULL
    else:
        command = [args.drain, str(port), str(LATENCY_MS)]
    # A file, not a pipe: a receiver that logged more than a pipe holds would block on it and stall the stream.
    log_path = os.path.join(workdir, f"receiver-{port}.log")
    with open(log_path, "w", encoding="utf-8") as log:
        # srt-relay's JSON lines go to the log as well: the trial waits there for the recording's close.
        receiver = subprocess.Popen(command, stdout=log if kind == "srt-relay" else stdout, stderr=log,
                                    text=stdout is subprocess.PIPE)
    if stdout not in (subprocess.PIPE, subprocess.DEVNULL):
        stdout.close()
    try:
        deadline = time.monotonic() + 10
        while not udp_bound(port):
            if time.monotonic() > deadline or receiver.poll() is not None:
                raise RuntimeError(f"{kind} did not listen on port {port}")
            time.sleep(0.01)
        cpu_start = cpu_seconds_now(receiver.pid)
        rcvbuf = receive_buffer(port)
        load = os.getloadavg()[0]
        sampler = ThreadSampler(receiver.pid)
        sampler.start()
        sent = subprocess.run(
            [args.sender, "127.0.0.1", str(port), str(rate), str(messages), str(LATENCY_MS), "publish:bench"],
            capture_output=True, text=True, timeout=args.seconds * 3 + 30, check=True,
        )
        sender = json.loads(sent.stdout.strip().splitlines()[-1])
        sampler.done.set()
        sampler.join()
        if kind == "srt-relay":
            # The relay outlives its publishers: stopped once it has closed the recording (its fsync included).
            if not wait_for_line(log_path, '"event":"connection-closed"', 15):
                raise RuntimeError("srt-relay did not close the recording within 15 s of the sender's end")
            receiver.send_signal(signal.SIGTERM)
        cpu_total = wait_exit(receiver.pid, 15)
        # wait4 reaped it: tell Popen, so that it does not wait for the pid again.
        receiver.returncode = 0
        output = receiver.stdout.read() if receiver.stdout else ""
    except BaseException:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
        with open(log_path, encoding="utf-8", errors="replace") as log:
            print(f"  {kind} said: {log.read()[-2000:]}", file=sys.stderr)
        raise
    if cpu_total is None:
        raise RuntimeError(f"{kind} did not exit after the sender closed")
    os.unlink(log_path)
    on_disk = ""
    if args.record:
        files = recordings(record_dir) if kind == "srt-relay" else [output_path]
        on_disk = sum(os.path.getsize(path) for path in files)
        delivered_on_disk = messages_on_disk(files)
        for path in files:
            os.unlink(path)
        if kind == "srt-relay":
            shutil.rmtree(record_dir, ignore_errors=True)
    if kind == "srt-relay":
        delivered, drops, losses = delivered_on_disk, "", ""
    elif kind == "srt-live-transmit":
        with open(stats_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        delivered = len(rows) * STATS_EVERY - 1 if rows else 0
        last = rows[-1] if rows else {}
        drops, losses = int(last.get("pktRcvDrop", -1)), int(last.get("pktRcvLoss", -1))
        os.unlink(stats_path)
        if args.record:
            delivered = delivered_on_disk
    else:
        drained = json.loads(output.strip().splitlines()[-1])
        check_sequence(drained, sender)
        delivered = drained["messages"]
        drops, losses = drained["pktRcvDrop"], drained["pktRcvLoss"]
    cpu = cpu_total - cpu_start
    gigabytes = delivered * PAYLOAD / 1e9
    return {
        "rate_mbps": rate,
        "receiver": kind,
        "sent": sender["messages"],
        "delivered": delivered,
        "loss": sender["messages"] - delivered,
        "srt_rcv_drop": drops,
        "srt_rcv_loss": losses,
        "retransmitted": sender["pktRetrans"],
        "send_seconds": round(sender["seconds"], 4),
        "throughput_mbps": round(delivered * PAYLOAD * 8 / sender["seconds"] / 1e6, 2),
        "cpu_seconds": round(cpu, 3),
        "cpu_s_per_gb": round(cpu / gigabytes, 3) if gigabytes else "",
        "bytes_on_disk": on_disk,
        "udp_rcvbuf": rcvbuf,
        "load_1min": round(load, 2),
        "threads": ";".join(f"{role}={cpu:.2f}s/{switches}" for role, (cpu, switches) in sorted(sampler.last.items())
                            if cpu > 0),
    }


def check_sequence(drained, sender):
    """srt-drain's sequence gaps can only come from messages it did not get; say so if they do not."""
    undelivered = sender["messages"] - drained["messages"]
    if drained["missing"] > undelivered or drained["backwards"]:
        print(f"  warning: srt-drain saw {drained['missing']} skipped and {drained['backwards']} backward sequence "
              f"numbers for {undelivered} undelivered messages", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sender", required=True)
    parser.add_argument("--drain", help="the library's receiver (srt-drain), for the throughput comparison")
    parser.add_argument("--relay", help="srt-relay, for the recording comparison (--record)")
    parser.add_argument("--record", action="store_true",
                        help="srt-live-transmit writing a file against srt-relay recording, instead of srt-drain")
    parser.add_argument("--csv", required=True)
    parser.add_argument("--rates", default="50,200,500")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--port", type=int, default=9870)
    parser.add_argument("--workdir", default=None,
                        help="for the receivers' logs and statistics (default: a temporary folder, removed at the end)")
    args = parser.parse_args()
    if (args.record and not args.relay) or (not args.record and not args.drain):
        parser.error("--record needs --relay; otherwise --drain is needed")
    rates = [int(r) for r in args.rates.split(",")]
    workdir = args.workdir or tempfile.mkdtemp(prefix="srt-throughput-")
    try:
        measure(args, rates, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(args, rates, workdir):
    """Runs every trial, writes the CSV and prints the summary."""
    kinds = ["srt-live-transmit", "srt-relay" if args.record else "srt-drain"]
    results = []
    port = args.port
    for repetition in range(1, args.repetitions + 1):
        for rate in rates:
            per_second = rate * 1e6 / 8 / PAYLOAD
            # A multiple of 1,000 minus one: srt-live-transmit's last statistics line then comes with the last message.
            messages = max(1, round(per_second * args.seconds / STATS_EVERY)) * STATS_EVERY - 1
            order = kinds if repetition % 2 else list(reversed(kinds))
            for kind in order:
                port = free_port(port + 1)
                row = trial(kind, rate, messages, args, port, workdir)
                row["repetition"] = repetition
                results.append(row)
                print(f"  {repetition} {rate:>4} Mbit/s {kind:<18} {row['throughput_mbps']:>8} Mbit/s "
                      f"loss {row['loss']:>5}  CPU {row['cpu_seconds']:.2f} s = {row['cpu_s_per_gb']} s/GB  "
                      f"load {row['load_1min']}", flush=True)
    fields = ["repetition", "rate_mbps", "receiver", "sent", "delivered", "loss", "srt_rcv_drop", "srt_rcv_loss",
              "retransmitted", "send_seconds", "throughput_mbps", "cpu_seconds", "cpu_s_per_gb", "bytes_on_disk",
              "udp_rcvbuf", "load_1min", "threads"]
    with open(args.csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(results)
    summarize(results, rates, kinds)


def summarize(results, rates, kinds):
    """Medians per rate and receiver, and SRTServer's ratios to srt-live-transmit against the goal."""
    print()
    print("| rate | receiver | Mbit/s | loss (msgs) | CPU s/GB | throughput ratio | CPU ratio |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for rate in rates:
        medians = {}
        for kind in kinds:
            rows = [r for r in results if r["rate_mbps"] == rate and r["receiver"] == kind]
            medians[kind] = (
                statistics.median(r["throughput_mbps"] for r in rows),
                statistics.median(r["loss"] for r in rows),
                statistics.median(r["cpu_s_per_gb"] for r in rows),
            )
        base = medians["srt-live-transmit"]
        for kind, (mbps, loss, cpu) in medians.items():
            ratio = "" if kind == "srt-live-transmit" else f"{mbps / base[0]:.3f}"
            cpu_ratio = "" if kind == "srt-live-transmit" else f"{cpu / base[2]:.2f}"
            print(f"| {rate} | {kind} | {mbps:.1f} | {loss:g} | {cpu:.2f} | {ratio} | {cpu_ratio} |")
    goal = "CPU ratio <= 0.8, the same bytes on disk" if "srt-relay" in kinds else \
        "throughput ratio >= 0.95 at CPU ratio <= 1.2"
    print(f"\ngoal: {goal} (medians; the CSV has every trial)")
    print("\nwhere the receiver's CPU goes (medians): thread role, CPU seconds, voluntary context switches (wake-ups)"
          " per 1,000 messages delivered")
    for rate in rates:
        for kind in kinds:
            rows = [r for r in results if r["rate_mbps"] == rate and r["receiver"] == kind]
            roles = {}
            for row in rows:
                for part in filter(None, row["threads"].split(";")):
                    role, figures = part.split("=")
                    cpu, switches = figures.split("s/")
                    roles.setdefault(role, []).append((float(cpu), int(switches) * 1000 / max(1, row["delivered"])))
            parts = [f"{role} {statistics.median(c for c, _ in v):.2f} s ({statistics.median(w for _, w in v):.0f})"
                     for role, v in sorted(roles.items(), key=lambda item: -statistics.median(c for c, _ in item[1]))]
            print(f"  {rate:>4} Mbit/s {kind:<18} " + ", ".join(parts))


if __name__ == "__main__":
    main()
