"""``lionk reproduce``: check every claim of the paper and write report.json / report.md.

Exit codes: 0 every selected claim holds, 1 at least one fails (a verdict, not an error),
2 bad input (unknown claim id, unwritable --out), 130 interrupted (no report written).
"""

from __future__ import annotations

import sys

from lionk.atomic import ensure_writable_dir
from ..args import seed_int


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
    p.set_defaults(func=run)


def run(args) -> int:
    from lionk.proofs import registry, runner

    if args.list:
        for c in registry.CLAIMS:
            print(f"{c.id:>3}  {c.title}{'  (ODE)' if c.continuous else ''}")
        return 0
    claims = registry.select(args.only)  # unknown ids: LionKError before any work
    out = ensure_writable_dir(args.out)  # unwritable output: LionKError before any work
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        def progress(items):
            return tqdm(items, unit="claim", file=sys.stderr, leave=False)

    try:
        report = runner.run([c.id for c in claims], fast=args.fast, seed=args.seed, progress=progress)
    except KeyboardInterrupt:
        raise  # lionk.cli prints one line and exits 130; nothing was written
    print(runner.format_table(report.checks))
    pj, pm = runner.write_report(report, out)
    n_pass = sum(c.passed for c in report.checks)
    total = sum(report.seconds.values())
    print(f"{n_pass}/{len(report.checks)} claims hold ({'fast' if args.fast else 'full'} run, "
          f"{total:.1f} s); wrote {pj} and {pm}")
    return 0 if report.passed else 1
