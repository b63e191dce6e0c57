#!/usr/bin/env python3
"""Turns the CSV written by `contention-simulation` into two SVG line charts, with the standard library only.

Usage: python3 Benchmarks/plot_contention.py Docs/data/contention-simulation.csv Docs/images

Writes contention-writes.svg (mean writes against N) and contention-time.svg (mean completion time against N)
from the rows of group "grid". "no jitter" is left out: at ten times the others' time it would flatten them.
"""
import csv
import math
import sys
from collections import OrderedDict
from pathlib import Path
from xml.sax.saxutils import escape

LEFT_OUT = {"no jitter"}
# One colour and dash pattern per policy: Brooker's three solid, the candidates dashed.
STYLES = {
    "full jitter": ("#1f77b4", ""),
    "equal jitter": ("#ff7f0e", ""),
    "decorrelated": ("#2ca02c", ""),
}
CANDIDATE_STYLES = [("#d62728", "8,4"), ("#9467bd", "3,3"), ("#8c564b", "10,3,2,3")]
WIDTH, HEIGHT = 760, 480
MARGIN = {"left": 80, "right": 24, "top": 64, "bottom": 62}


def nice_step(span, target=6):
    """A round tick step (1, 2, 2.5 or 5 × 10^k) giving about `target` ticks over `span`."""
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def read_grid(path):
    """{policy: [(clients, writes, completion ms)]} for the "grid" rows, in file order."""
    series = OrderedDict()
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["group"] != "grid" or row["policy"] in LEFT_OUT:
                continue
            series.setdefault(row["policy"], []).append(
                (int(row["clients"]), float(row["mean_writes"]), float(row["mean_completion_ms"]))
            )
    return series


def style_for(policy, candidates):
    if policy in STYLES:
        return STYLES[policy]
    return CANDIDATE_STYLES[candidates.index(policy) % len(CANDIDATE_STYLES)]


def chart(series, column, title, y_label, runs_note):
    """One SVG document: a line per policy of `column` (1: writes, 2: completion ms) against N."""
    candidates = [p for p in series if p not in STYLES]
    xs = [point[0] for points in series.values() for point in points]
    ys = [point[column] for points in series.values() for point in points]
    x_min, x_max = 0, max(xs) + 10
    y_step = nice_step(max(ys))
    y_max = math.ceil(max(ys) / y_step) * y_step
    plot_w = WIDTH - MARGIN["left"] - MARGIN["right"]
    plot_h = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def sx(x):
        return MARGIN["left"] + (x - x_min) / (x_max - x_min) * plot_w

    def sy(y):
        return MARGIN["top"] + plot_h - y / y_max * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">{escape(title)}</text>',
        f'<text x="{WIDTH / 2}" y="44" text-anchor="middle" fill="#555">{escape(runs_note)}</text>',
    ]
    # Horizontal grid lines and y tick labels.
    y = 0.0
    while y <= y_max + 1e-9:
        out.append(
            f'<line x1="{MARGIN["left"]}" x2="{WIDTH - MARGIN["right"]}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            f'stroke="#e3e3e3"/>'
        )
        label = f"{y:,.0f}" if y_step >= 1 else f"{y:g}"
        out.append(f'<text x="{MARGIN["left"] - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{label}</text>')
        y += y_step
    # X ticks at every simulated N.
    for x in sorted(set(xs)):
        out.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{sy(0):.1f}" y2="{sy(0) + 5:.1f}" stroke="#333"/>')
        out.append(f'<text x="{sx(x):.1f}" y="{sy(0) + 20:.1f}" text-anchor="middle">{x}</text>')
    # Axes and their labels.
    out.append(
        f'<polyline points="{MARGIN["left"]},{MARGIN["top"]} {MARGIN["left"]},{sy(0):.1f} '
        f'{WIDTH - MARGIN["right"]},{sy(0):.1f}" fill="none" stroke="#333"/>'
    )
    out.append(
        f'<text x="{MARGIN["left"] + plot_w / 2}" y="{HEIGHT - 14}" text-anchor="middle">'
        f"N (clients contending for one row)</text>"
    )
    out.append(
        f'<text transform="translate(20 {MARGIN["top"] + plot_h / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    # One line with markers per policy.
    for policy, points in series.items():
        colour, dash = style_for(policy, candidates)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{sx(p[0]):.1f},{sy(p[column]):.1f}" for p in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.2"{dash_attr}/>')
        for p in points:
            out.append(f'<circle cx="{sx(p[0]):.1f}" cy="{sy(p[column]):.1f}" r="3" fill="{colour}"/>')
    # Legend, top left, where the rising lines leave room.
    legend_x, legend_y = MARGIN["left"] + 16, MARGIN["top"] + 10
    longest = max(len(p) for p in series)
    out.append(
        f'<rect x="{legend_x - 8}" y="{legend_y - 6}" width="{48 + 7.4 * longest:.0f}" '
        f'height="{22 * len(series) + 6}" fill="white" fill-opacity="0.9" stroke="#ccc"/>'
    )
    for i, policy in enumerate(series):
        colour, dash = style_for(policy, candidates)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        ly = legend_y + 22 * i + 8
        out.append(
            f'<line x1="{legend_x}" x2="{legend_x + 28}" y1="{ly}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2.2"{dash_attr}/>'
        )
        out.append(f'<text x="{legend_x + 36}" y="{ly + 4}">{escape(policy)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, directory = sys.argv[1], Path(sys.argv[2])
    series = read_grid(source)
    with open(source, newline="", encoding="utf-8") as f:
        runs = next(row["runs"] for row in csv.DictReader(f))
    note = f"Brooker's OCC model, base 5 ms, cap 2 s; mean of {runs} runs per point; no jitter left out (far worse)"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "contention-writes.svg").write_text(
        chart(series, 1, "Writes until every client has succeeded", "mean writes (total calls)", note),
        encoding="utf-8",
    )
    (directory / "contention-time.svg").write_text(
        chart(series, 2, "Time until every client has succeeded", "mean completion time (ms)", note),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
