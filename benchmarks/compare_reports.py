"""Compare two ``lionk reproduce`` reports (and optionally two figure folders) for a refactoring.

Every field of ``report.json`` must be equal except the wall-clock ones (``seconds``,
``total_seconds``); figures must be byte-identical. Run by hand, e.g. before/after a change::

    git worktree add /tmp/base <old commit>      # old code (folders imported as top-level packages there)
    (cd /tmp/base && PYTHONPATH=/tmp/base python -m lionk reproduce --fast --out /tmp/before/fast)
    lionk reproduce --fast --out /tmp/after/fast
    python benchmarks/compare_reports.py /tmp/before/fast/report.json /tmp/after/fast/report.json \\
        [--figures /tmp/before/figs /tmp/after/figs]

Exit 0 when identical, 1 with the first differences otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

WALL_CLOCK = {"seconds", "total_seconds"}
#: prose fields: a difference there is listed but does not fail the comparison (module names in notes)
PROSE = {"notes", "statement", "tolerance_why", "reference", "title"}


def diff(a, b, path="") -> list[str]:
    """Paths at which two JSON values differ (wall-clock fields ignored)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k in WALL_CLOCK:
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'after' if k in b else 'before'}")
            else:
                out += diff(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def count_numbers(a) -> int:
    if isinstance(a, dict):
        return sum(count_numbers(v) for k, v in a.items() if k not in WALL_CLOCK)
    if isinstance(a, list):
        return sum(count_numbers(v) for v in a)
    return int(isinstance(a, (int, float)) and not isinstance(a, bool))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--figures", nargs=2, metavar=("BEFORE_DIR", "AFTER_DIR"))
    args = p.parse_args(argv)
    a, b = (json.loads(Path(x).read_text()) for x in (args.before, args.after))
    found = diff(a, b)
    prose = [d for d in found if d.split(":")[0].rsplit("/", 1)[-1] in PROSE]
    problems = [d for d in found if d not in prose]
    print(f"report: {count_numbers(a)} numbers compared, {len(problems)} differences "
          f"(and {len(prose)} in prose fields, not counted)")
    for line in prose[:5]:
        print("  prose " + line[:160])
    if args.figures:
        da, db = (Path(x) for x in args.figures)
        names = sorted({p.name for p in da.iterdir()} | {p.name for p in db.iterdir()})
        for n in names:
            ha, hb = (hashlib.sha256((d / n).read_bytes()).hexdigest() if (d / n).exists() else None for d in (da, db))
            if ha != hb:
                problems.append(f"figure {n}: differs")
        print(f"figures: {len(names)} files compared byte for byte")
    for line in problems[:20]:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
