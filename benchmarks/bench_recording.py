"""Benchmark: lionk.torch.Recorder on a 1e6-parameter model trained 1e4 steps with lion-pytorch's Lion, then checked.

Three phases, each in its own process so that its peak resident memory (``ru_maxrss``) is its own:

* ``plain``: the training loop without recording (the baseline);
* ``record``: the same loop with ``Recorder(opt, path, every=k, chunk_steps=...)`` (x, grad, momentum of the
  recorded steps: every step for k = 1, the pairs (t, t+1) with t mod k = 0 otherwise);
* ``read``: one pass of ``RecordingReader.chunks`` over the recording (and, with ``--check``, the
  checks of ``lionk check --run DIR``, :func:`lionk.lyapunov.recorded.check_recording`, with K = l1).

Writes ``benchmarks/results/recording.md`` (atomically). The recording is deleted at the end (it is
3 arrays × 4 bytes × n × rows: 2.4 GB at the default size, 1e6 × 1e4 × every=100).

Usage: ``python benchmarks/bench_recording.py [--params 1000000] [--steps 10000] [--every 100]
[--chunk-steps 50] [--dir DIR] [--check]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _setup(n_params: int):
    import torch
    from lion_pytorch import Lion

    torch.manual_seed(0)
    torch.set_num_threads(1)                 # the machine's 2 cores are shared; one thread, comparable runs
    side = int(round(n_params ** 0.5))
    model = torch.nn.Linear(side, side, bias=False)
    with torch.no_grad():
        model.weight.mul_(0.1)
    opt = Lion(model.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)
    X = torch.randn(16, side)
    Y = torch.randn(16, side)
    return torch, model, opt, X, Y


def _loop(torch, model, opt, X, Y, steps):
    for _ in range(steps):
        opt.zero_grad()
        ((model(X) - Y) ** 2).mean().backward()
        opt.step()


def phase(name: str, args) -> dict:
    out = {"phase": name}
    if name in ("plain", "record"):
        torch, model, opt, X, Y = _setup(args.params)
        out["n_params"] = sum(p.numel() for p in model.parameters())
        out["rss_before_mb"] = _rss_mb()
        t0 = time.perf_counter()
        if name == "plain":
            _loop(torch, model, opt, X, Y, args.steps)
        else:
            from lionk.torch import Recorder
            with Recorder(opt, args.path, params=model.named_parameters(), chunk_steps=args.chunk_steps,
                          every=args.every):
                _loop(torch, model, opt, X, Y, args.steps)
        out["seconds"] = time.perf_counter() - t0
    else:
        import numpy as np
        from lionk.recording import RecordingReader
        r = RecordingReader(args.path)
        out["rss_before_mb"] = _rss_mb()
        t0 = time.perf_counter()
        rows = 0
        for ch in r.chunks("weight"):
            rows += len(ch.x) - int(ch.overlap)
            float(np.abs(ch.x).max())                # touch the data
        out["rows"] = rows
        out["seconds"] = time.perf_counter() - t0
        out["peak_rss_read_mb"] = _rss_mb()          # before the checks import scipy & co.
        if args.check:
            from lionk.dynamics import kappa
            from lionk.lyapunov.recorded import check_recording
            t0 = time.perf_counter()
            rep = check_recording(r, kappa.get("l1"))
            out["check_seconds"] = time.perf_counter() - t0
            out["check_status"] = rep.status
            out["check_failed"] = sorted({c.name for t in rep.tensors for c in t.failures})
            out["check_steps"] = sum(t.steps_checked for t in rep.tensors)
        out["bytes_on_disk"] = sum(f.stat().st_size for f in Path(args.path).rglob("*") if f.is_file())
    out["peak_rss_mb"] = _rss_mb()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=100, help="record the pairs (t, t+1) with t mod every = 0")
    ap.add_argument("--chunk-steps", type=int, default=50)
    ap.add_argument("--dir", default=None, help="where to put the recording (default: a temporary directory)")
    ap.add_argument("--check", action="store_true", help="also run the chunked checks on the recording")
    ap.add_argument("--phase", choices=["plain", "record", "read"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "recording.md"))
    args = ap.parse_args(argv)
    if args.phase:
        print(json.dumps(phase(args.phase, args)))
        return
    work = Path(tempfile.mkdtemp(prefix="lionk-bench-rec-", dir=args.dir))
    path = work / "run.lionrec"
    res = {}
    try:
        for ph in ("plain", "record", "read"):
            cmd = [sys.executable, __file__, "--phase", ph, "--path", str(path), "--params", str(args.params),
                   "--steps", str(args.steps), "--every", str(args.every), "--chunk-steps", str(args.chunk_steps)] + (["--check"] if args.check else [])
            res[ph] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            print(ph, res[ph], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n, T, cs = res["record"]["n_params"], args.steps, args.chunk_steps
    chunk_mb = 3 * (cs + 1) * n * 4 / 2 ** 20
    whole_mb = 3 * (T + 1) * n * 4 / 2 ** 20   # what an in-memory T × n check would hold
    ratio = res["record"]["seconds"] / res["plain"]["seconds"]
    gb = res["read"]["bytes_on_disk"] / 1e9
    lines = [
        "# Recording benchmark (`benchmarks/bench_recording.py`)",
        "",
        f"{n:,} float32 parameters (one `Linear({int(n ** 0.5)}, {int(n ** 0.5)})`), lion-pytorch `Lion`, {T} steps, "
        f"batch 16, `chunk_steps={cs}`, one torch thread; {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores shared with other jobs (times vary with their load).",
        "",
        "| phase | seconds | throughput | peak RSS (MB) | RSS before the loop (MB) |",
        "|---|---|---|---|---|",
        f"| plain training loop | {res['plain']['seconds']:.1f} | {T / res['plain']['seconds']:.1f} steps/s | "
        f"{res['plain']['peak_rss_mb']:.0f} | {res['plain']['rss_before_mb']:.0f} |",
        f"| loop + `Recorder` (x, grad, momentum; every={args.every}) | {res['record']['seconds']:.1f} | "
        f"{T / res['record']['seconds']:.1f} steps/s | {res['record']['peak_rss_mb']:.0f} | "
        f"{res['record']['rss_before_mb']:.0f} |",
        f"| `RecordingReader.chunks` over the recording | {res['read']['seconds']:.1f} | "
        f"{gb / res['read']['seconds']:.2f} GB/s | {res['read']['peak_rss_read_mb']:.0f} | {res['read']['rss_before_mb']:.0f} |",
        "",
        f"* Time with recording / time without: **{ratio:.2f}×** (the recorder writes {3 * n * 4 / 2 ** 20:.1f} MB per "
        f"recorded step, {res['read']['rows']} rows; {gb:.1f} GB in all).",
        f"* Extra peak memory of recording: {res['record']['peak_rss_mb'] - res['plain']['peak_rss_mb']:.0f} MB "
        f"(one row of one tensor at a time; the whole history would be {whole_mb:,.0f} MB).",
        f"* Reader: one chunk of x, grad, m with its overlap row is {chunk_mb:.0f} MB; peak RSS above the "
        f"start {res['read']['peak_rss_read_mb'] - res['read']['rss_before_mb']:.0f} MB.",
    ]
    if args.check:
        cs_ = res['read']['check_steps']
        lines.append(f"* `lionk check --run DIR` checks (K = l1, per coordinate, {cs_} steps x {n:,} coordinates): "
                     f"{res['read']['check_seconds']:.1f} s ({cs_ * n / res['read']['check_seconds']:.3g} "
                     f"coordinate-steps/s), peak RSS {res['read']['peak_rss_mb']:.0f} MB, verdict "
                     f"{res['read']['check_status'].upper()}, failed: {', '.join(res['read']['check_failed']) or 'none'}.")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lionk.atomic import atomic_write_text
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
