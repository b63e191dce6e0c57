#!/usr/bin/env python3
"""Draws one small chart per backoff kind from `backoff-table --csv` (Benchmarks/Sources/backoff-table): the median
delay per attempt, with the band from the 10th to the 90th percentile over 1,000 seeded runs. Standard library only.

Usage: (cd Benchmarks && swift run -c release backoff-table --csv) > Docs/data/backoff-kinds.csv
       python3 Benchmarks/plot_backoff.py Docs/data/backoff-kinds.csv Docs/images/backoff-kinds.svg
"""
import csv
import sys
from collections import OrderedDict
from xml.sax.saxutils import escape

from plot_contention import nice_step

COLUMNS, CELL_W, CELL_H = 3, 300, 200
PAD = {"left": 52, "right": 14, "top": 30, "bottom": 34}


def read(path):
    kinds = OrderedDict()
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kinds.setdefault(row["kind"], []).append(
                (int(row["attempt"]), float(row["p10"]), float(row["p50"]), float(row["p90"]))
            )
    return kinds


def cell(name, points, x0, y0):
    """SVG elements for one kind's chart, with its top-left corner at (x0, y0)."""
    top = max(p[3] for p in points) or 1
    step = nice_step(top, 4)
    top = step * (int(top / step) + 1)
    width = CELL_W - PAD["left"] - PAD["right"]
    height = CELL_H - PAD["top"] - PAD["bottom"]
    last = points[-1][0]

    def x(attempt):
        return x0 + PAD["left"] + (attempt - 1) / (last - 1) * width

    def y(value):
        return y0 + PAD["top"] + height - value / top * height

    out = [f'<text x="{x0 + CELL_W / 2}" y="{y0 + 18}" text-anchor="middle" font-weight="bold">{escape(name)}</text>']
    tick = 0.0
    while tick <= top + 1e-9:
        out.append(f'<line x1="{x0 + PAD["left"]}" x2="{x0 + PAD["left"] + width}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD["left"] - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    for attempt in range(1, last + 1, 2):
        out.append(f'<text x="{x(attempt):.1f}" y="{y0 + CELL_H - 16}" text-anchor="middle">{attempt}</text>')
    band = [(x(a), y(hi)) for a, _, _, hi in points] + [(x(a), y(lo)) for a, lo, _, _ in reversed(points)]
    out.append('<polygon fill="#1f77b4" fill-opacity="0.18" stroke="none" points="'
               + " ".join(f"{px:.1f},{py:.1f}" for px, py in band) + '"/>')
    out.append('<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="'
               + " ".join(f"{x(a):.1f},{y(mid):.1f}" for a, _, mid, _ in points) + '"/>')
    return out


def main(source, target):
    kinds = read(source)
    rows = (len(kinds) + COLUMNS - 1) // COLUMNS
    width, height = COLUMNS * CELL_W, rows * CELL_H + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">attempt; delay in seconds '
           '(line: median, band: 10th–90th percentile of 1,000 seeded runs)</text>']
    for index, (name, points) in enumerate(kinds.items()):
        out += cell(name, points, (index % COLUMNS) * CELL_W, (index // COLUMNS) * CELL_H)
    out.append("</svg>")
    with open(target, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
