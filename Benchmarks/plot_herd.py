#!/usr/bin/env python3
"""Draws the start attempts per 100 ms of a fleet whose dependency comes back at one instant, one line per case,
from the CSV that HerdMeasurementTests writes (HERD_CSV). Log scale: the peaks differ a thousandfold. Standard library
only.

Usage: HERD_SUPERVISORS=10000 HERD_CSV=Docs/data/herd.csv swift test --filter HerdMeasurementTests
       python3 Benchmarks/plot_herd.py Docs/data/herd.csv Docs/images/herd.svg
"""
import csv
import math
import sys
from collections import OrderedDict
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
WIDTH, HEIGHT = 820, 460
MARGIN = {"left": 70, "right": 230, "top": 50, "bottom": 56}
# The window drawn, in seconds from the start: the fleet fails from 0 and its dependency is back at 10 s.
FIRST, LAST = 8.0, 32.0


def read(path):
    series = OrderedDict()
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            series.setdefault(row["case"], []).append((int(row["window_start_ms"]) / 1000, int(row["attempts"])))
    return series


def main(source, target):
    series = read(source)
    top = max(a for points in series.values() for _, a in points) or 1
    decades = max(1, math.ceil(math.log10(top)))
    width = WIDTH - MARGIN["left"] - MARGIN["right"]
    height = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def x(seconds):
        return MARGIN["left"] + (seconds - FIRST) / (LAST - FIRST) * width

    def y(attempts):
        # log10(1 + attempts): an empty window sits on the axis.
        return MARGIN["top"] + height - math.log10(1 + attempts) / decades * height

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
           f'font-size="12">', f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{MARGIN["left"] + width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">'
           'Start attempts per 100 ms; the dependency is back at 10 s</text>']
    for decade in range(decades + 1):
        value = 10 ** decade
        out.append(f'<line x1="{MARGIN["left"]}" x2="{MARGIN["left"] + width}" y1="{y(value):.1f}" '
                   f'y2="{y(value):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{MARGIN["left"] - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,}</text>')
    second = FIRST
    while second <= LAST + 1e-9:
        out.append(f'<line x1="{x(second):.1f}" x2="{x(second):.1f}" y1="{MARGIN["top"]}" '
                   f'y2="{MARGIN["top"] + height}" stroke="#eee"/>')
        out.append(f'<text x="{x(second):.1f}" y="{MARGIN["top"] + height + 18}" text-anchor="middle">'
                   f'{second:g}</text>')
        second += 2
    out.append(f'<text x="{MARGIN["left"] + width / 2}" y="{HEIGHT - 14}" text-anchor="middle">seconds</text>')
    out.append(f'<line x1="{x(10):.1f}" x2="{x(10):.1f}" y1="{MARGIN["top"]}" y2="{MARGIN["top"] + height}" '
               'stroke="#888" stroke-dasharray="4,3"/>')
    for index, (name, points) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        shown = [(s, a) for s, a in points if FIRST <= s <= LAST]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(s):.1f},{y(a):.1f}" for i, (s, a) in enumerate(shown))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        legend_y = MARGIN["top"] + 16 + index * 20
        legend_x = MARGIN["left"] + width + 16
        out.append(f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{legend_x + 28}" y="{legend_y}">{escape(name)}</text>')
    out.append("</svg>")
    with open(target, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_herd.py HERD_CSV OUTPUT_SVG")
    main(sys.argv[1], sys.argv[2])
