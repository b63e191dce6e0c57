#!/usr/bin/env python3
"""Draws the SRT throughput comparison from run.py's CSV: per sending rate, the delivered throughput and the CPU
seconds per GB of srt-live-transmit and of SRTServer (srt-drain); bars are medians, dots the single trials.
Standard library only.

Usage: python3 Benchmarks/srt-throughput/plot.py Docs/data/srt-throughput.csv Docs/images/srt-throughput.svg
"""
import csv
import os
import statistics
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from plot_contention import nice_step  # noqa: E402

RECEIVERS = [("srt-live-transmit", "srt-live-transmit", "#7f7f7f"), ("srt-drain", "SRTServer", "#1f77b4")]
PANEL_W, PANEL_H = 320, 260
GOAL = 1.2
PAD = {"left": 58, "right": 14, "top": 34, "bottom": 42}


def read(path):
    """{(rate, receiver): [row, ...]} and the rates in order."""
    trials, rates = {}, []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rate = int(row["rate_mbps"])
            if rate not in rates:
                rates.append(rate)
            trials.setdefault((rate, row["receiver"]), []).append(row)
    return trials, sorted(rates)


def panel(title, unit, column, trials, rates, x0):
    """One bar chart: a group of bars per rate, one bar per receiver."""
    values = {key: [float(r[column]) for r in rows if r[column] != ""] for key, rows in trials.items()}
    top = max(max(v) for v in values.values() if v) or 1
    step = nice_step(top, 5)
    top = step * (int(top / step) + 1)
    width = PANEL_W - PAD["left"] - PAD["right"]
    height = PANEL_H - PAD["top"] - PAD["bottom"]

    def y(value):
        return PAD["top"] + height - value / top * height

    out = [f'<text x="{x0 + PANEL_W / 2}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    tick = 0.0
    while tick <= top + 1e-9:
        out.append(f'<line x1="{x0 + PAD["left"]}" x2="{x0 + PAD["left"] + width}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD["left"] - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    out.append(f'<text transform="translate({x0 + 14},{PAD["top"] + height / 2}) rotate(-90)" '
               f'text-anchor="middle">{escape(unit)}</text>')
    group = width / len(rates)
    bar = group / (len(RECEIVERS) + 1)
    for index, rate in enumerate(rates):
        gx = x0 + PAD["left"] + index * group
        out.append(f'<text x="{gx + group / 2:.1f}" y="{PAD["top"] + height + 16}" text-anchor="middle">'
                   f'{rate} Mbit/s</text>')
        for slot, (key, _, color) in enumerate(RECEIVERS):
            points = values.get((rate, key), [])
            if not points:
                continue
            bx = gx + bar / 2 + slot * bar
            median = statistics.median(points)
            out.append(f'<rect x="{bx:.1f}" y="{y(median):.1f}" width="{bar * 0.9:.1f}" '
                       f'height="{y(0) - y(median):.1f}" fill="{color}" fill-opacity="0.8"/>')
            for point in points:
                out.append(f'<circle cx="{bx + bar * 0.45:.1f}" cy="{y(point):.1f}" r="2.5" fill="black" '
                           'fill-opacity="0.6"/>')
    return out


def ratio_panel(trials, rates, x0):
    """SRTServer's median CPU per GB over srt-live-transmit's, per rate, against the goal (1.2)."""
    ratios = []
    for rate in rates:
        base = [float(r["cpu_s_per_gb"]) for r in trials.get((rate, RECEIVERS[0][0]), [])]
        ours = [float(r["cpu_s_per_gb"]) for r in trials.get((rate, RECEIVERS[1][0]), [])]
        ratios.append(statistics.median(ours) / statistics.median(base) if base and ours else 0)
    top = max(ratios + [GOAL]) * 1.15
    step = nice_step(top, 5)
    top = step * (int(top / step) + 1)
    width = PANEL_W - PAD["left"] - PAD["right"]
    height = PANEL_H - PAD["top"] - PAD["bottom"]

    def y(value):
        return PAD["top"] + height - value / top * height

    out = [f'<text x="{x0 + PANEL_W / 2}" y="18" text-anchor="middle" font-weight="bold">'
           'CPU per GB, SRTServer / srt-live-transmit</text>']
    tick = 0.0
    while tick <= top + 1e-9:
        out.append(f'<line x1="{x0 + PAD["left"]}" x2="{x0 + PAD["left"] + width}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + PAD["left"] - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    group = width / len(rates)
    for index, (rate, ratio) in enumerate(zip(rates, ratios)):
        gx = x0 + PAD["left"] + index * group
        out.append(f'<text x="{gx + group / 2:.1f}" y="{PAD["top"] + height + 16}" text-anchor="middle">'
                   f'{rate} Mbit/s</text>')
        out.append(f'<rect x="{gx + group * 0.3:.1f}" y="{y(ratio):.1f}" width="{group * 0.4:.1f}" '
                   f'height="{y(0) - y(ratio):.1f}" fill="{RECEIVERS[1][2]}" fill-opacity="0.8"/>')
        out.append(f'<text x="{gx + group / 2:.1f}" y="{y(ratio) - 4:.1f}" text-anchor="middle">{ratio:.2f}</text>')
    # Drawn last, so that it shows across the bars; its label sits under the axis, where no bar can cover it.
    out.append(f'<line x1="{x0 + PAD["left"]}" x2="{x0 + PAD["left"] + width}" y1="{y(GOAL):.1f}" '
               f'y2="{y(GOAL):.1f}" stroke="#d62728" stroke-dasharray="5,3"/>')
    out.append(f'<text x="{x0 + PAD["left"] + width / 2}" y="{PAD["top"] + height + 32}" text-anchor="middle" '
               f'fill="#d62728">dashed: the goal, at most {GOAL:g}</text>')
    return out


def main(source, target):
    trials, rates = read(source)
    width, height = 3 * PANEL_W, PANEL_H + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>']
    out += panel("Delivered throughput", "Mbit/s", "throughput_mbps", trials, rates, 0)
    out += panel("Receiver CPU per GB delivered", "CPU seconds per GB", "cpu_s_per_gb", trials, rates, PANEL_W)
    out += ratio_panel(trials, rates, 2 * PANEL_W)
    legend_x = 40
    for _, label, color in RECEIVERS:
        out.append(f'<rect x="{legend_x}" y="{height - 22}" width="12" height="12" fill="{color}" fill-opacity="0.8"/>')
        out.append(f'<text x="{legend_x + 16}" y="{height - 12}">{escape(label)}</text>')
        legend_x += 140
    out.append(f'<text x="{legend_x + 10}" y="{height - 12}">bars: medians; dots: single trials; '
               '1316-byte live-mode messages on loopback, one sender for both</text>')
    out.append("</svg>")
    with open(target, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
