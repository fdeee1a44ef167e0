"""Time `lionk figures`: CPU and wall seconds per figure for data, drawing and saving (PNG + PDF).

Run by hand: ``python benchmarks/figures.py``; writes benchmarks/results/figures.md. CPU time
(process_time) is reported next to wall time because the 20 s budget of issue 6 is for an otherwise
idle 2-core machine, and a shared machine inflates wall time.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from lionk.atomic import atomic_write_text
from lionk import figures


def main() -> int:
    rows = []
    tot_cpu = tot_wall = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in figures.resolve(None):
            t = {}
            c0, w0 = time.process_time(), time.perf_counter()
            rec = figures.compute(spec)
            c1, w1 = time.process_time(), time.perf_counter()
            fig = figures.make_figure(spec, rec)
            sizes = {fmt: figures.save(fig, Path(tmp) / f"{spec.slug}.{fmt}", fmt) for fmt in ("png", "pdf")}
            c2, w2 = time.process_time(), time.perf_counter()
            t = (c1 - c0, c2 - c1, w2 - w0, c2 - c0)
            tot_cpu += t[3]
            tot_wall += t[2]
            rows.append(f"| {spec.id} | {spec.slug} | {t[0]:.2f} | {t[1]:.2f} | {t[3]:.2f} | {t[2]:.2f} | "
                        f"{sizes['png'] / 1024:.0f} | {sizes['pdf'] / 1024:.0f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join([
        "# `lionk figures` timing",
        "",
        f"python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load:.1f} at the end (other jobs running make wall > CPU).",
        "",
        "| id | file | data CPU s | draw+save CPU s | total CPU s | total wall s | PNG KB | PDF KB |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        f"| all | | | | **{tot_cpu:.1f}** | {tot_wall:.1f} | | |",
        "",
    ])
    out = Path(__file__).parent / "results" / "figures.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
