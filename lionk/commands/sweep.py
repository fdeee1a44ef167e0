"""``lionk sweep``: run Lion-K's checks over a grid (or random design) of settings; see :mod:`lionk.sweep`."""

from __future__ import annotations

import argparse

from lionk.errors import LionKError

from ..args import positive_int, seed_int

EPILOG = """\
examples:
  lionk sweep --lr 1e-3,1e-2 --beta1 0.9,0.95 --weight-decay 0.1,1 --kappa l1,relu --seeds 0:4 --out runs/a
  lionk sweep --gamma 1,10 --eps 0.05,0.1 --lam 0.5 --kappa "huber[delta=0.5]" --out runs/b --format csv
  lionk sweep --config sweep.toml --out runs/c --plot lr,weight_decay --value max_H_increase
  lionk sweep --config sweep.toml --out runs/c --scheduler tcp://10.0.0.5:8786

values: comma lists (1e-3,1e-2); with --design random, low~high ranges (log-uniform for lr, weight_decay,
alpha, gamma, eps, lam; uniform for beta1, beta2) or lists (a random choice). Seeds: START:STOP (STOP
excluded) or a list. K: NAME or NAME[key=value;key=value]. Flags override the TOML file's entries.

resumable: the output directory keeps one part file per finished chunk; rerunning the same command
computes only the missing chunks (--max-chunks N stops after N). A different spec is refused.
Deterministic: chunks are fixed by the spec, so 1, 2 or N workers (or a dask cluster) give the same table.
Columns: see docs/sweep.md. Parquet and --scheduler need the extra: pip install 'lionk[sweep]'.
"""


def register(sub) -> None:
    p = sub.add_parser("sweep", help="map where the checks hold over a grid of settings",
                       description="Run the checks of `lionk check` (and summary numbers) on every cell of a grid "
                                   "or random design over hyper-parameters, K, objectives and seeds; write one tidy "
                                   "table (Parquet or CSV) and heat maps.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", metavar="TOML", help="sweep spec as TOML (see docs/sweep.md)")
    g = p.add_argument_group("axes (practitioners' names)")
    for name, h in (("lr", "learning rates"), ("beta1", "β1 values"), ("beta2", "β2 values"),
                    ("weight-decay", "weight decays λ (> 0)")):
        g.add_argument(f"--{name}", metavar="LIST", help=h)
    o = p.add_argument_group("axes (the paper's ODE names; --lr is then the discretisation step)")
    for name in ("alpha", "gamma", "eps", "lam"):
        o.add_argument(f"--{name}", metavar="LIST")
    p.add_argument("--kappa", metavar="LIST", help="K list, e.g. l1,relu,huber[delta=0.5] (default l1); your own K as expr:EXPR (e.g. "
                        "'expr:Max(u, 0)**2/2') or module:attr (a Python object)")
    p.add_argument("--objective", metavar="LIST", help="objective list (default quadratic)")
    p.add_argument("--seeds", metavar="LIST", help="seeds of the initial states: 0:4 or 0,3,7 (default 0)")
    p.add_argument("--dim", type=lambda s: positive_int(s, 4096), help="dimension of the objectives")
    p.add_argument("--steps", type=lambda s: positive_int(s, 10**6), help="steps per cell (default 300)")
    p.add_argument("--starts", type=lambda s: positive_int(s, 10**4), help="initial states per cell (default 4)")
    p.add_argument("--decay", choices=["explicit", "implicit"])
    p.add_argument("--design", choices=["grid", "random"])
    p.add_argument("--samples", type=lambda s: positive_int(s, 10**6), help="points of a random design")
    p.add_argument("--design-seed", type=seed_int, help="seed of the random design (default 0)")
    p.add_argument("--chunk-size", type=lambda s: positive_int(s, 10**5), help="cells per chunk (default 16)")
    p.add_argument("--backend", choices=["auto", "numpy", "compiled"],
                   help="simulator: compiled time loop (lionk[fast], numba) when available for the K and "
                        "objective, else numpy (default auto; the table's backend column says which ran)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created; resumable)")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format (default parquet)")
    p.add_argument("--workers", type=lambda s: positive_int(s, 1024),
                   help="local processes (default: one per core; 1 = in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing dask.distributed scheduler")
    p.add_argument("--connect-timeout", type=lambda s: positive_int(s, 3600), default=10, metavar="SECONDS",
                   help="how long to wait for the dask scheduler (default 10)")
    p.add_argument("--max-chunks", type=lambda s: positive_int(s, 10**7), help="compute at most N chunks now")
    p.add_argument("--plot", metavar="X,Y", help="heat map over two axes, e.g. lr,weight_decay")
    p.add_argument("--value", default="max_H_increase", help="column of the heat map (default max_H_increase; "
                                                             "'pass' for the verdict)")
    p.add_argument("--reduce", choices=["max", "min", "mean"], default="max",
                   help="how other axes are reduced in the heat map (default max)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _mapping(args) -> dict:
    from lionk import sweep

    d = dict(sweep.load_toml(args.config)) if args.config else {}
    axes = dict(d.get("axes") or {})
    for flag in ("lr", "beta1", "beta2", "weight_decay", "alpha", "gamma", "eps", "lam"):
        v = getattr(args, flag)
        if v is not None:
            axes[flag] = v
    if axes:
        d["axes"] = axes
    for key, attr in (("kappa", "kappa"), ("objective", "objective"), ("seeds", "seeds"), ("dim", "dim"),
                      ("steps", "steps"), ("starts", "starts"), ("decay", "decay"), ("design", "design"),
                      ("samples", "samples"), ("design_seed", "design_seed"), ("chunk_size", "chunk_size"),
                      ("backend", "backend")):
        v = getattr(args, attr)
        if v is not None:
            d[key] = v
    return d


def run(args) -> int:
    from lionk import sweep

    spec = sweep.spec_from_mapping(_mapping(args))
    plot = None
    if args.plot is not None:
        plot = [a.strip() for a in args.plot.split(",")]
        if len(plot) != 2 or not all(plot):
            raise LionKError(f"--plot needs two axes X,Y, got {args.plot!r}")
    res = sweep.run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler, max_chunks=args.max_chunks,
                          table_format=args.format, progress=not args.no_progress,
                          connect_timeout=args.connect_timeout)
    if res.table is None:
        print(f"lionk sweep: {res.n_done} of {res.n_chunks} chunks done ({res.n_computed} now); rerun the same "
              f"command to compute the rest into {res.out_dir}")
        return 0
    rows = sweep.read_table(res.table)
    counts = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    print(f"lionk sweep: {res.n_cells} cells in {res.n_chunks} chunks ({res.n_computed} computed now) -> {res.table}")
    print("  verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if plot is not None:
        path = res.out_dir / f"heatmap-{plot[0]}-{plot[1]}-{args.value}-{args.reduce}.png"
        sweep.plot_heatmap(rows, plot[0], plot[1], args.value, path, reduce=args.reduce)
        print(f"  heat map: {path}")
    return 0
