"""``lionk reproduce``: check every claim of the paper and write report.json / report.md.

Exit codes: 0 every selected claim holds, 1 at least one fails (a verdict, not an error),
2 bad input (unknown claim id, unwritable --out, a K that cannot be built), 130 interrupted (no
report written).

With ``--kappa``/``--kappa-expr`` (resolved exactly as ``lionk phase``/``verify`` do:
:func:`lionk.args.kappa_from_args`) every claim runs on that one K, or says it does not apply
("n/a", with the reason). Then exit 0 means every applicable claim holds; if no claim applies,
nothing was checked and the exit code is 1.
"""

from __future__ import annotations

import sys

from lionk.atomic import ensure_writable_dir
from lionk.errors import LionKError
from ..args import add_kappa_args, kappa_from_args, seed_int


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="reproduce every claim of the paper as numbers with verdicts",
        description="Run each claim of the paper (proofs/), print a table of predicted and measured "
                    "values with verdicts, and write report.json and report.md atomically. Exits 0 "
                    "only if every claim holds.")
    p.add_argument("--only", metavar="ID[,ID...]", help="comma-separated claim ids (default: all; "
                   "`lionk reproduce --list` shows them)")
    p.add_argument("--fast", action="store_true", help="smaller runs (what the quick test suite uses)")
    p.add_argument("--out", metavar="DIR", default="reproduce-report",
                   help="output directory for report.json and report.md (default: ./reproduce-report)")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of every random setting (default 0)")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_kappa_args(p, required=False)
    p.set_defaults(func=run)


def run(args) -> int:
    from lionk.proofs import registry, runner

    if args.list:
        for c in registry.CLAIMS:
            print(f"{c.id:>3}  {c.title}{'  (ODE)' if c.continuous else ''}")
        return 0
    claims = registry.select(args.only)  # unknown ids: LionKError before any work
    K = None
    if args.kappa is not None or args.kappa_expr is not None:
        K = kappa_from_args(args)  # unknown / non-convex K: LionKError before any work
    elif args.param:
        raise LionKError("--param needs --kappa or --kappa-expr")
    out = ensure_writable_dir(args.out)  # unwritable output: LionKError before any work
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        def progress(items):
            return tqdm(items, unit="claim", file=sys.stderr, leave=False)

    if K is not None:
        print(f"K = {runner.describe_kappa(K)['label']}: every claim runs on this K alone (or says why it "
              "does not apply)")
    try:
        report = runner.run([c.id for c in claims], fast=args.fast, seed=args.seed, progress=progress, kappa=K)
    except KeyboardInterrupt:
        raise  # lionk.cli prints one line and exits 130; nothing was written
    print(runner.format_table(report.checks))
    pj, pm = runner.write_report(report, out)
    n_pass = sum(c.passed for c in report.checks)
    total = sum(report.seconds.values())
    mode = f"{'fast' if args.fast else 'full'} run, {total:.1f} s"
    if K is None:
        print(f"{n_pass}/{len(report.checks)} claims hold ({mode}); wrote {pj} and {pm}")
        return 0 if report.passed else 1
    n_app = len(report.applicable)
    print(f"K = {report.kappa['label']}: {n_pass}/{n_app} applicable claims hold, "
          f"{len(report.checks) - n_app} not applicable ({mode}); wrote {pj} and {pm}")
    if n_app == 0:
        print(f"lionk: nothing could be checked: no selected claim applies to K = {report.kappa['label']} "
              "(reasons in the table)", file=sys.stderr)
        return 1
    return 0 if report.passed else 1
