"""Benchmark of ``lionk sweep`` (issue 13). Run by hand:

    python benchmarks/bench_sweep.py            # writes benchmarks/results/sweep.md

One grid (K = l1, quadratic d = 2, 4 starts × 300 steps per cell, 4 lr × 3 β1 × 3 λ × 8 seeds = 288
cells), measured in one run:

1. the baseline of the issue: a hand-written loop calling
   ``lionk.lyapunov.checks.check_simulated_discrete`` once per cell (same starts, same steps);
2. ``run_sweep`` in this process (``workers=1``: chunks of 16 cells, one vectorised run each);
3. ``run_sweep`` with 2 local processes (includes starting them: "spawn").

Times are wall-clock, best of ``REPEATS`` (the machine is shared: the other runs' load inflates all
numbers; the ratios of one run are what to compare). The reference optima are solved once per sweep
directory and are included in the sweep times.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lionk import sweep  # noqa: E402
from lionk.atomic import atomic_write_text  # noqa: E402
from lionk.lyapunov import checks  # noqa: E402

REPEATS = 2
SPEC = {"axes": {"lr": [1e-3, 1e-2, 0.05, 0.1], "beta1": [0.9, 0.95, 0.99], "weight_decay": [0.1, 0.5, 1.0]},
        "kappa": "l1", "dim": 2, "seeds": "0:8", "steps": 300, "starts": 4}


def best_of(fn, repeats=REPEATS):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main() -> None:
    spec = sweep.spec_from_mapping(SPEC)
    cells = [c for ch in spec.plan() for c in ch.cells]
    f = sweep._objective("quadratic", 2, 0)
    K = cells[0].kappa.build()
    starts = [sweep.initial_states(spec, c, K, f.shape) for c in cells]

    def loop():
        for c, x0 in zip(cells, starts):
            checks.check_simulated_discrete(K, f, x0, lr=c.lion.lr, beta1=c.lion.beta1, beta2=c.lion.beta2,
                                            weight_decay=c.lion.weight_decay, steps=spec.steps)

    tmp = Path(tempfile.mkdtemp(prefix="lionk-bench-sweep-"))
    try:
        def run(workers):
            def go():
                out = tmp / f"w{workers}-{time.perf_counter_ns()}"
                sweep.run_sweep(spec, out, workers=workers, table_format="csv", progress=False)
            return go

        t_loop = best_of(loop)
        t_one = best_of(run(1))
        t_two = best_of(run(2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(cells)
    lines = [
        "# lionk sweep (benchmarks/bench_sweep.py)",
        "",
        f"{n} cells (K = l1, quadratic d = 2, {spec.starts} starts x {spec.steps} steps per cell), "
        f"best of {REPEATS}, measured in one run on {platform.machine()} with {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| path | total (s) | ms per cell | vs loop |",
        "|---|---|---|---|",
        f"| hand-written loop of check_simulated_discrete | {t_loop:.2f} | {1e3 * t_loop / n:.1f} | 1.00 |",
        f"| run_sweep, workers=1 | {t_one:.2f} | {1e3 * t_one / n:.1f} | {t_loop / t_one:.2f} |",
        f"| run_sweep, workers=2 (process start included) | {t_two:.2f} | {1e3 * t_two / n:.1f} | "
        f"{t_loop / t_two:.2f} |",
        "",
    ]
    out = Path(__file__).resolve().parent / "results" / "sweep.md"
    atomic_write_text(out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
