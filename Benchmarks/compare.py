"""Side-by-side figures from one run of Benchmarks/run.sh: Swift p50 wall clock against Go's median ns/op."""
import re
import statistics
import sys


def swift_p50(path, name):
    """p50 of the 'Time (wall clock)' row of benchmark `name` in package-benchmark's text output."""
    lines = open(path).read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == name), None)
    if start is None:
        return None
    for line in lines[start:]:
        if "Time (wall clock)" in line:
            cells = [c.strip() for c in line.split("│") if c.strip()]
            unit = re.search(r"\((\w+)\)", cells[0]).group(1)
            scale = {"ns": 1, "us": 1e3, "μs": 1e3, "ms": 1e6}[unit]
            return float(cells[3]) * scale  # columns: metric, p0, p25, p50, ...
    raise SystemExit(f"no wall clock row for {name}")


def go_median(path, name):
    values = [float(m.group(1)) for m in re.finditer(name + r"-\d+\s+\d+\s+([\d.]+) ns/op", open(path).read())]
    return statistics.median(values)


swift_file, go_file = sys.argv[1:3]
swift = swift_p50(swift_file, "Backoff.next: exponential + full jitter")
if swift is None:
    # A filter that left the backoff benchmark out: nothing of this run has a Go counterpart.
    print("no backoff benchmark in this run: nothing to compare with Go")
    sys.exit(0)
print("| one backoff delay | median ns | ratio to Swift |")
print("| --- | ---: | ---: |")
print(f"| Swift `BackoffSchedule.next` (exponential + full jitter) | {swift:.0f} | 1.0 |")
for go_name, label in [
    ("BenchmarkNextBackOffDefaults", "Go cenkalti/backoff v4 `NextBackOff`, defaults"),
    ("BenchmarkNextBackOffNoElapsedLimit", "Go cenkalti/backoff v4 `NextBackOff`, no elapsed limit"),
]:
    go = go_median(go_file, go_name)
    print(f"| {label} | {go:.1f} | {go / swift:.1f}× slower |")
