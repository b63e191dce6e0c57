#!/usr/bin/env python3
"""Turns the key=value lines of srt-scale-server, callers.c, accept_loop.c and connector.c into the tables of
Docs/benchmarks.md.
Usage: report.py scale SWIFT_SERVER_OUT SWIFT_CALLERS_OUT C_RECEIVER_OUT C_CALLERS_OUT
       report.py accept DIRECTORY REPETITIONS"""
import random
import statistics
import sys


def lines(path, tag):
    """Every line of `path` starting with `tag`, as a dict of its key=value words."""
    found = []
    try:
        with open(path) as file:
            for line in file:
                words = line.split()
                if words and words[0] == tag:
                    found.append(dict(word.split("=", 1) for word in words[1:] if "=" in word))
    except FileNotFoundError:
        pass
    return found


def mib(kib):
    return f"{int(kib) / 1024:,.0f}"


def scale(swift_server, swift_callers, c_server, c_callers):
    sides = []
    for server_path, callers_path in ((swift_server, swift_callers), (c_server, c_callers)):
        callers = {}
        for entry in lines(callers_path, "CALLERS"):
            callers.update(entry)
        sides.append({
            "figures": {entry["phase"]: entry for entry in lines(server_path, "FIGURES")},
            "result": (lines(server_path, "RESULT") or [{}])[0],
            "latency": (lines(server_path, "LATENCY") or [{}])[0].get("ms_p50_p99_p999_max", "?"),
            "streaming": (lines(server_path, "STREAMING") or [{}])[0],
            "threads": (lines(server_path, "THREADS") or [{}])[0],
            "callers": callers,
        })
    print()
    print("| moment | `SRTServer`: threads (libsrt's `SRT:TsbPd`) | resident MiB"
          " | C receiver: threads (`SRT:TsbPd`) | resident MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    names = {
        "baseline": "baseline (listening, nothing connected)",
        "accepted": "all accepted",
        "streaming-middle": "streaming (the middle sample)",
        "streaming-peak": "streaming (the most of any 1 s sample)",
        "end": "end (every caller gone)",
    }
    for phase, name in names.items():
        cells = []
        for side in sides:
            entry = side["figures"].get(phase)
            if not entry:
                cells += ["missing", ""]
                continue
            tsbpd = int(entry["threads"]) - int(entry["threads_besides_tsbpd"])
            cells += [f"{entry['threads']} ({tsbpd})", mib(entry["rss_kib"])]
        if phase == "accepted":
            after = [side["figures"].get(phase, {}).get("after_s") for side in sides]
            name += " (after " + " / ".join(f"{float(a):.2f}" for a in after if a) + " s)"
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print("| threads by kind: baseline → fewest–most later (all accepted, each streaming sample, end) | `SRTServer`"
          " | C receiver |")
    print("| --- | ---: | ---: |")
    kinds = {
        "adapter": "the adapter's reactor and control thread (`srt-reactor`, `srt-control`)",
        "swift_pool": "Swift concurrency pool (Dispatch root-queue threads)",
        "libsrt_ports": "libsrt per process and per UDP port (`SRT:GC`, `SRT:RcvQ`, `SRT:SndQ`)",
        "tsbpd": "libsrt per receiving connection (`SRT:TsbPd`)",
        "other": "main thread (and any thread libsrt has not named yet)",
    }
    for kind, label in kinds.items():
        cells = []
        for side in sides:
            value = side["threads"].get(kind)
            if value is None:
                cells.append("?")
                continue
            baseline, fewest, most = value.split(",")
            later = fewest if fewest == most else f"{fewest}–{most}"
            cells.append(f"{baseline} → {later}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print(f"`SRTServer`'s threads besides `SRT:TsbPd`, per 1 s sample while streaming:"
          f" {sides[0]['streaming'].get('threads_besides_tsbpd', '?')};"
          f" its own threads constant: {sides[0]['threads'].get('adapter_constant', '?')}.")
    print()
    print("| | `SRTServer` | C receiver |")
    print("| --- | ---: | ---: |")

    def row(label, render):
        print(f"| {label} | " + " | ".join(render(side["result"], side["callers"], side) for side in sides) + " |")

    row("callers connected (caller side)", lambda r, c, s: f"{c.get('connected', '?')} of {c.get('of', '?')}"
        f" in {c.get('connect_s', '?')} s")
    row("connections accepted", lambda r, c, s: f"{r.get('accepted', '?')} of {r.get('connections', '?')}")
    row("messages sent (caller side), send errors", lambda r, c, s: f"{c.get('sent', '?')}, {c.get('send_errors', '?')}")
    row("messages received", lambda r, c, s: r.get("received", "?"))
    row("lost (sequence numbers never received)", lambda r, c, s: f"{r.get('lost', '?')}"
        f" on {r.get('lossy_connections', '?')} connections")
    row("duplicates / wrong connection", lambda r, c, s: f"{r.get('duplicates', '?')} / {r.get('foreign', '?')}")
    row("sender retransmissions / too-late drops", lambda r, c, s: f"{c.get('retransmitted', '?')} /"
        f" {c.get('dropped_too_late', '?')}")
    row("send → read by the application, ms: p50 / p99 / p99.9 / max", lambda r, c, s: s["latency"])
    row("server CPU while streaming, % of one core", lambda r, c, s:
        f"{float(s['streaming'].get('cpu_percent', 'nan')):.0f}")
    row("callers process: threads, resident MiB, CPU s while sending", lambda r, c, s: f"{c.get('threads', '?')},"
        f" {mib(c.get('rss_kib', 0))}, {c.get('cpu_streaming_s', '?')}")


ACCEPT_SIDES = (
    ("c", "C accept loop", "C accept loop (`accept_loop.c`, libsrt's flow window)"),
    ("window", "C accept loop, window", "C accept loop at the adapter's flow window (`accept_loop.c … 8192`)"),
    ("swift", "SRTServer", "`SRTServer` (`server.connections`)"),
)


def accept(directory, repetitions):
    rows = {side: [] for side, _, _ in ACCEPT_SIDES}
    rates = {side: {} for side, _, _ in ACCEPT_SIDES}
    print()
    print("| repetition | server | accepted/s (server side) | connected/s (connector side) | CPU ms per 1,000"
          " | context switches per accept | duplicate accepts | failed attempts | resident MiB after |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for repetition in range(1, repetitions + 1):
        for side, label, _ in ACCEPT_SIDES:
            base = f"{directory}/accept-{side}-{repetition}"
            server = (lines(f"{base}.server", "ACCEPTED") or [None])[0]
            connector = (lines(f"{base}.connector", "CONNECTOR") or [None])[0]
            if not server or not connector:
                print(f"| {repetition} | {label} | no result | | | | | | |")
                continue
            start = int(connector["start_ns"])
            wanted = int(server["n"])
            accepted = int(server["accepted"])
            server_rate = wanted / ((int(server["last_ns"]) - start) / 1e9)
            connector_rate = int(connector["connected"]) / ((int(connector["last_ns"]) - start) / 1e9)
            cpu = float(server["cpu_s"]) / accepted * 1e6
            switches = int(server["switches"]) / accepted
            rows[side].append((server_rate, connector_rate, cpu, switches))
            rates[side][repetition] = server_rate
            print(f"| {repetition} | {label} | {server_rate:,.0f} | {connector_rate:,.0f} | {cpu:,.0f} |"
                  f" {switches:.1f} | {accepted - wanted} | {connector['failed_attempts']} | {mib(server['rss_kib'])} |")
    if not all(rows.values()):
        print("\nno comparison: a side has no result")
        return
    medians = {side: [statistics.median(column) for column in zip(*values)] for side, values in rows.items()}
    print()
    print("| median over the repetitions | accepted/s (server side) | connected/s (connector side)"
          " | CPU ms per 1,000 accepts | context switches per accept |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for side, _, description in ACCEPT_SIDES:
        rate, connected, cpu, switches = medians[side]
        print(f"| {description} | {rate:,.0f} | {connected:,.0f} | {cpu:,.0f} | {switches:.1f} |")
    for reference, name in (("c", "C"), ("window", "C at the same window")):
        ratios = [swift / c for swift, c in zip(medians["swift"], medians[reference])]
        print(f"| SRTServer ÷ {name} | " + " | ".join(f"{ratio:.2f}" for ratio in ratios) + " |")
    # The sides of one repetition ran back to back: their ratio is less exposed to the machine's drift. How far the
    # run pins it down: a 95 % bootstrap interval (resampling the repetitions, seeded) of the median and of the
    # geometric mean of those ratios.
    for reference, name in (("c", "C"), ("window", "C at the same window")):
        pairs = sorted(rates["swift"][r] / rates[reference][r] for r in rates["swift"] if r in rates[reference])
        if not pairs:
            print(f"\nno repetition with results from both SRTServer and {name}")
            continue
        generator = random.Random(1)
        resampled = [generator.choices(pairs, k=len(pairs)) for _ in range(10_000)]
        medians_drawn = sorted(statistics.median(sample) for sample in resampled)
        means_drawn = sorted(statistics.geometric_mean(sample) for sample in resampled)
        print(f"\naccept rate SRTServer ÷ {name} within each repetition: median {statistics.median(pairs):.2f},"
              f" {pairs[0]:.2f}–{pairs[-1]:.2f}")
        print(f"  bootstrap 95 %: median {medians_drawn[250]:.2f}–{medians_drawn[9_749]:.2f};"
              f" geometric mean {statistics.geometric_mean(pairs):.2f}"
              f" ({means_drawn[250]:.2f}–{means_drawn[9_749]:.2f})")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "scale":
        scale(*sys.argv[2:6])
    elif len(sys.argv) == 4 and sys.argv[1] == "accept":
        accept(sys.argv[2], int(sys.argv[3]))
    else:
        print(__doc__)
        sys.exit(2)
