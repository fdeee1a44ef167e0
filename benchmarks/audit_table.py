"""Regenerate the audit results table of docs/audit.md: ``lionk audit`` on real libraries and on the
deliberately broken copies of :mod:`lionk.audit.examples`. Run by hand (needs the ``audit`` extra)::

    python benchmarks/audit_table.py            # writes benchmarks/results/audit_table.{md,json}

then paste the Markdown table into docs/audit.md. Entries whose library is not installed are listed as
"not installed". Every number comes from :func:`lionk.audit.run_audit` on this machine.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from lionk.atomic import atomic_write_text
from lionk.audit import load_driver, run_audit
from lionk.audit.drivers import hyper_for
from lionk.audit.examples import BROKEN

OUT = Path(__file__).resolve().parent / "results"
LION = dict(lr=0.05, weight_decay=1.0)   # lr·λ = 0.05: Phase 1 and the limit within a few hundred steps
MUON = dict(lr=0.02, weight_decay=0.5)   # lr·wd = 0.01
STEPS = 400

#: (label, spec, framework, lionk-side kwargs, extra optimizer kwargs, run_audit kwargs)
ENTRIES = [
    ("lion-pytorch", "lion_pytorch:Lion", "torch", LION, {}, {}),
    ("pytorch-optimizer Lion", "pytorch_optimizer:Lion", "torch", LION, {}, {}),
    ("timm Lion", "timm.optim:Lion", "torch", LION, {}, {}),
    ("timm Lion, corrected_weight_decay=True", "timm.optim:Lion", "torch", LION, {"corrected_weight_decay": True}, {}),
    ("optax.lion", "optax:lion", "optax", LION, {}, {}),
    ("torch.optim.Muon (nesterov)", "torch.optim:Muon", "torch", MUON, {}, {}),
    ("torch.optim.Muon (nesterov=False)", "torch.optim:Muon", "torch", MUON, {"nesterov": False}, {}),
    ("torch.optim.Muon (adjust_lr_fn=match_rms_adamw)", "torch.optim:Muon", "torch", MUON,
     {"adjust_lr_fn": "match_rms_adamw"}, {}),
    ("torch.optim.Muon, given s = 1 (exact bound)", "torch.optim:Muon", "torch", MUON, {}, {"grad_scale": 1.0}),
    ("exact-polar Muon (reference)", "lionk.audit.examples:ExactPolarMuon", "torch", MUON, {}, {}),
    ("CorrectLion (reference copy)", "lionk.audit.examples:CorrectLion", "torch", LION, {}, {}),
] + [(f"{name} (broken copy)", f"lionk.audit.examples:{name}", "torch", LION, {}, {}) for name in BROKEN]


def _installed(spec, framework):
    top = spec.split(":")[0].split(".")[0]
    need = [top] + (["jax"] if framework == "optax" else [])
    return all(importlib.util.find_spec(n) is not None for n in need)


def run_entry(label, spec, framework, nominal, extra, kw):
    if not _installed(spec, framework):
        return {"label": label, "spec": spec, "status": "not installed"}
    drv = load_driver(spec, framework, {"lr": nominal["lr"]})
    hyper = hyper_for(drv, lr=nominal["lr"], weight_decay=nominal["weight_decay"], extra=extra)
    drv = load_driver(spec, framework, hyper)
    t0 = time.perf_counter()
    rep = run_audit(drv, hyper, guarantee_steps=STEPS, **kw)
    f = rep.fitted
    g = {k: sum(x.status == k for x in rep.guarantees) for k in ("pass", "fail", "skip")}
    sb = [x for x in rep.guarantees if x.name == "spectral_bound"]
    first_fail = next((x for x in rep.guarantees if x.status == "fail"), None)
    return {
        "label": label, "spec": spec, "version": rep.version, "status": "ok",
        "hyper": {k: v for k, v in hyper.items()},
        "kappa": f["kappa"], "sign": f["sign"], "beta1": f["beta1"], "beta2": f["beta2"], "lr": f["lr"],
        "weight_decay": f["weight_decay"], "decay": f["decay"], "lr_scale": f["lr_scale"],
        "fit_residual": float(np.max(rep.step_residual)), "nominal_residual": float(np.max(rep.nominal_residual)),
        "s_design": None if rep.muon is None else rep.muon.s,
        "spectral": [x.detail for x in sb],
        "deviations": [d.name for d in rep.deviations],
        "guarantees": g, "first_fail": None if first_fail is None else f"{first_fail.name}@{first_fail.first_fail_step}",
        "first_failing_step": rep.first_failing_step, "exit": rep.exit_code, "seconds": time.perf_counter() - t0,
    }


def markdown(rows) -> str:
    head = ("| optimizer (version) | fitted K, β1, β2, lr·r, λ, decay, lr scale r | max residual: fit / nominal map "
            "| s (design run) | deviations named | guarantees pass/fail/skip (first failure) | exit |\n"
            "|---|---|---|---|---|---|---|\n")
    out = []
    for r in rows:
        if r["status"] != "ok":
            out.append(f"| {r['label']} | not installed | | | | | |")
            continue
        fit = (f"{r['kappa']}{'' if r['sign'] > 0 else ' (ascent)'}, {r['beta1']:.6g}, {r['beta2']:.6g}, "
               f"{r['lr']:.4g}, {r['weight_decay']:.6g}, {r['decay']}, {r['lr_scale']}")
        s = "" if r["s_design"] is None else f"{r['s_design']:.4f}"
        g = r["guarantees"]
        ff = f" ({r['first_fail']})" if r["first_fail"] else ""
        out.append(f"| {r['label']} ({r['version']}) | {fit} | {r['fit_residual']:.2g} / {r['nominal_residual']:.2g} | "
                   f"{s} | {', '.join(r['deviations']) or '—'} | {g['pass']}/{g['fail']}/{g['skip']}{ff} | {r['exit']} |")
    return head + "\n".join(out) + "\n"


def main(argv=None) -> int:
    rows = []
    for e in ENTRIES:
        row = run_entry(*e)
        rows.append(row)
        print(f"{row['label']}: exit {row.get('exit', '-')} {row.get('deviations', row['status'])} "
              f"({row.get('seconds', 0):.0f} s)", flush=True)
    md = (f"lionk audit results (benchmarks/audit_table.py; guarantee runs of {STEPS} steps; Lion lr={LION['lr']} "
          f"wd={LION['weight_decay']}, Muon lr={MUON['lr']} wd={MUON['weight_decay']} momentum 0.95)\n\n"
          + markdown(rows))
    OUT.mkdir(parents=True, exist_ok=True)
    atomic_write_text(OUT / "audit_table.md", md)
    atomic_write_text(OUT / "audit_table.json", json.dumps(rows, indent=1, default=str) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
