#!/usr/bin/env python3
"""srt-relay's threads, descriptors and resident memory through many listener faults with live publishers.

Starts srt-relay (`--chaos-on-signal`, JSON lines) on 127.0.0.1, keeps PUBLISHERS srt-live-transmit callers
publishing at about 2 Mbit/s each, and injects fault B with SIGUSR1 whenever every publisher is connected, until
FAULTS faults were injected. After each fault the publishers are restarted at once, as an encoder that reconnects
would be (srt-live-transmit itself notices a dead peer only after seconds), so that every fault hits live
connections. Samples /proc of the relay at the first connection and every 100 faults, and
prints a Markdown table. Docs/reliability.md records what it printed.

Usage: Benchmarks/relay-chaos/run.py PATH-TO-SRT-RELAY [--faults 600] [--publishers 2] [--extra "--flag value"]
Only 127.0.0.1 is used; every process started here is stopped by its pid on exit.
"""
import argparse, json, os, shlex, signal, socket, subprocess, sys, tempfile, threading, time


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(pid):
    status = open(f"/proc/{pid}/status").read().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {
        "threads": int(fields["Threads"].strip()),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "rss_mib": int(fields["VmRSS"].split()[0]) / 1024,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("relay")
    parser.add_argument("--faults", type=int, default=600)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--extra", default="", help="more srt-relay flags")
    parser.add_argument("--limit-seconds", type=float, default=1800)
    args = parser.parse_args()

    port = free_port()
    output = tempfile.mkdtemp(prefix="relay-chaos-")
    relay = subprocess.Popen(
        [args.relay, "--listen", f"127.0.0.1:{port}", "--output", output, "--json", "--status-interval", "0",
         "--latency", "40", "--chaos-on-signal", "--backoff-initial", "10", "--backoff-max", "100"]
        + shlex.split(args.extra),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stopping = threading.Event()
    children = []
    lock = threading.Lock()
    state = {"open": set(), "faults": 0, "listening": threading.Event(), "exit": None, "generation": 0, "listens": 0}

    def read_relay():
        for line in relay.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if os.environ.get("RELAY_CHAOS_TRACE"):
                print(f"{time.monotonic():.3f} {kind} {event.get('peer', '')} {event.get('reason', '')}", file=sys.stderr)
            with lock:
                if kind == "listening":
                    state["listening"].set()
                    state["listens"] += 1
                elif kind == "connection-opened":
                    state["open"].add(event.get("peer"))
                elif kind == "connection-closed":
                    state["open"].discard(event.get("peer"))
                elif kind == "chaos":
                    state["faults"] += 1
                elif kind in ("exit", "stopped"):
                    state["exit"] = event

    def publish(index):
        url = f"srt://127.0.0.1:{port}?mode=caller&latency=40&streamid=pub{index}"
        chunk = os.urandom(1316)
        while not stopping.is_set():
            caller = subprocess.Popen(["srt-live-transmit", "-q", "file://con", url], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with lock:
                children.append(caller)
                generation = state["generation"]
            try:
                # About 2 Mbit/s: 19 messages of 1316 bytes every 100 ms, until the next fault.
                while not stopping.is_set() and caller.poll() is None and state["generation"] == generation:
                    caller.stdin.write(chunk * 19)
                    caller.stdin.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, OSError):
                pass
            caller.kill()
            caller.wait()
            with lock:
                children.remove(caller)
            time.sleep(0.05)

    threading.Thread(target=read_relay, daemon=True).start()
    try:
        if not state["listening"].wait(10):
            sys.exit("srt-relay did not listen")
        for index in range(args.publishers):
            threading.Thread(target=publish, args=(index,), daemon=True).start()
        rows = []
        started = time.monotonic()
        deadline = time.monotonic() + args.limit_seconds
        while time.monotonic() < deadline:
            with lock:
                connected, faults, ended = len(state["open"]), state["faults"], state["exit"]
            if relay.poll() is not None or ended:
                break
            if faults >= args.faults:
                break
            if not rows and connected > 0:
                rows.append((0, sample(relay.pid)))
            if connected >= args.publishers:
                next_fault = faults + 1
                listens = state["listens"]
                relay.send_signal(signal.SIGUSR1)
                # One fault at a time: wait for its chaos line (bounded).
                until = time.monotonic() + 5
                while time.monotonic() < until and state["faults"] < next_fault and relay.poll() is None:
                    time.sleep(0.005)
                if state["faults"] % 100 == 0 and relay.poll() is None:
                    rows.append((state["faults"], sample(relay.pid)))
                # The relay closes the connections it lost with the socket and listens again (bounded wait);
                # then the publishers start again.
                until = time.monotonic() + 5
                while time.monotonic() < until and state["listens"] == listens and relay.poll() is None:
                    time.sleep(0.005)
                with lock:
                    state["generation"] += 1
            else:
                time.sleep(0.01)
        if relay.poll() is None and (not rows or rows[-1][0] != state["faults"]):
            rows.append((state["faults"], sample(relay.pid)))
        print(f"srt-relay {args.extra or '(defaults)'}: {state['faults']} faults injected in "
              f"{time.monotonic() - started:.0f} s, "
              f"relay {'exited with ' + str(relay.returncode) if relay.poll() is not None else 'running'}")
        print("| faults | threads | descriptors | resident MiB |")
        print("| ---: | ---: | ---: | ---: |")
        for faults, figures in rows:
            print(f"| {faults} | {figures['threads']} | {figures['fds']} | {figures['rss_mib']:.0f} |")
    finally:
        stopping.set()
        with lock:
            for caller in list(children):
                caller.kill()
        if relay.poll() is None:
            relay.send_signal(signal.SIGTERM)
            try:
                relay.wait(5)
            except subprocess.TimeoutExpired:
                relay.kill()
        subprocess.run(["rm", "-rf", output])


if __name__ == "__main__":
    main()
