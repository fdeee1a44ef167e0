"""Run a selection of claims and write the report (``report.json`` and ``report.md``).

The records are deterministic (same seed, same numbers); run times are kept in the
:class:`Report` beside them, not inside the records.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from lionk.atomic import atomic_path, ensure_writable_dir

from . import registry
from lionk.errors import NonFiniteError

from .user_k import Undecided
from .record import NA, TheoremCheck, case, make_check, not_applicable, to_jsonable

__all__ = ["Report", "run", "write_report", "format_table", "format_value"]


@dataclass(frozen=True)
class Report:
    """Results of one ``reproduce`` run.

    Attributes
    ----------
    checks : tuple of TheoremCheck
    seconds : dict of str -> float
        Wall time per claim id.
    fast : bool
    seed : int
    kappa : dict or None
        The K every claim was run on (``lionk reproduce --kappa``): its label and description;
        None for the paper's own catalogue run.
    """

    checks: tuple
    seconds: dict
    fast: bool
    seed: int
    kappa: dict | None = None

    @property
    def applicable(self) -> tuple:
        """The checks whose claim applies to the K (verdict pass or fail, not "n/a")."""
        return tuple(c for c in self.checks if c.applicable)

    @property
    def passed(self) -> bool:
        """Every applicable claim holds — and at least one applied (checking nothing is no pass)."""
        app = self.applicable
        return bool(app) and all(c.passed for c in app)

    def to_dict(self) -> dict:
        d = {
            "fast": self.fast, "seed": self.seed, "all_pass": self.passed,
            "n_claims": len(self.checks), "n_pass": sum(c.passed for c in self.checks),
            "seconds": self.seconds, "total_seconds": sum(self.seconds.values()),
            "claims": [c.to_dict() for c in self.checks],
        }
        if self.kappa is not None:  # only then: the paper's own run writes exactly what it always did
            d = {"kappa": self.kappa, **d, "n_not_applicable": len(self.checks) - len(self.applicable),
                 "n_applicable": len(self.applicable)}
        return to_jsonable(d)


def run(only=None, *, fast: bool = True, seed: int = 0,
        progress: Callable[[Sequence], object] | None = None, kappa=None) -> Report:
    """Check the claims selected by ``only`` (see :func:`registry.select`).

    ``progress`` wraps the list of claims (e.g. ``tqdm``); it must return an iterable.
    ``kappa``: a :class:`~lionk.dynamics.kappa.Kappa`; every claim runs on it alone (or says "n/a").
    """
    claims = registry.select(only)
    it = progress(claims) if progress is not None else claims
    checks, seconds = [], {}
    for claim in it:
        if hasattr(it, "set_description"):
            it.set_description(f"claim {claim.id}: {claim.title}")
        t0 = time.perf_counter()
        checks.append(_run_one(claim, fast, seed, kappa))
        seconds[claim.id] = round(time.perf_counter() - t0, 3)
    return Report(tuple(checks), seconds, fast, seed, describe_kappa(kappa) if kappa is not None else None)


def describe_kappa(K) -> dict:
    """Label and description of the K a report was run on (for report.json and the header)."""
    from .common import kappa_label

    d = {"label": kappa_label(K)}
    try:
        d.update(K.describe())
    except Exception:  # noqa: BLE001 - a user's describe() must not stop the report
        pass
    d["label"] = kappa_label(K)
    return d


def _run_one(claim, fast: bool, seed: int, kappa=None) -> TheoremCheck:
    """Run one claim; an exception becomes that claim's failed verdict (the other claims still run).

    A claim that raises has not been checked: its record says so (one case, measured NaN, so the
    verdict is "fail" by the rule of :func:`lionk.proofs.record.case`) and names the exception.
    KeyboardInterrupt and SystemExit are not caught.

    On a given K (``kappa``), a :class:`~lionk.errors.NonFiniteError` — the claim's runs left
    floating-point range, e.g. ∇K = e^m overflowing at the momenta they reach — means nothing was
    measured: the record says the claim is undecided on this K, and why (verdict "n/a"), rather than
    a verdict about the mathematics.
    """
    try:
        if kappa is None:
            return claim.check(fast=fast, seed=seed)
        return _tag(claim.check(fast=fast, seed=seed, kappa=kappa), kappa)
    except Exception as exc:  # noqa: BLE001 - reported as the claim's verdict, never swallowed
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if kappa is not None and isinstance(exc, Undecided):
            from .common import kappa_label

            return not_applicable(id=claim.id, title=claim.title, seed=seed, fast=fast, kappa=kappa_label(kappa),
                                  reason=f"undecided on this K: {str(exc).splitlines()[0][:400]}")
        if kappa is not None and isinstance(exc, NonFiniteError):
            from .common import kappa_label

            return not_applicable(
                id=claim.id, title=claim.title, seed=seed, fast=fast, kappa=kappa_label(kappa),
                reason=f"undecided on this K: its runs left floating-point range ({msg}); K or ∇K overflows at "
                       "the states the claim uses, so nothing was measured")
        rec = make_check(
            id=claim.id, title=claim.title, statement=f"(not checked: the claim raised {msg})",
            reference="", kind="invariant", cases=[case(f"claim raised {msg}", "invariant", 0.0,
                                                        float("nan"), 0.0, error=msg)],
            tolerance_why="none: the claim did not run to the end", seed=seed, fast=fast,
            notes=f"error: {msg}")
        return rec if kappa is None else _tag(rec, kappa)


def _tag(rec: TheoremCheck, kappa) -> TheoremCheck:
    from .common import kappa_label

    return replace(rec, kappa=kappa_label(kappa))


def format_value(v) -> str:
    if isinstance(v, str):
        return v
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e6:
        return f"{int(v)}"
    return f"{v:.4g}"


def _relation(c: TheoremCheck) -> str:
    return {"upper": "≤", "tight": "=", "invariant": "="}[c.kind]


def format_table(checks: Sequence[TheoremCheck]) -> str:
    """Plain-text table: claim, title, predicted (worst case), measured, tolerance, verdict.

    A claim that does not apply shows ``N/A`` and, under the table, its reason.
    """
    rows = [("claim", "title", "kind", "predicted", "measured", "tol", "cases", "verdict")]
    for c in checks:
        if not c.applicable:
            rows.append((c.id, c.title, c.kind, "-", "-", "-", "-", "N/A"))
            continue
        n_pass = sum(k.passed for k in c.cases)
        rows.append((c.id, c.title, c.kind, f"{_relation(c)} {format_value(c.predicted)}",
                     format_value(c.measured), format_value(c.tolerance), f"{n_pass}/{len(c.cases)}",
                     c.verdict.upper()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in checks:
        if not c.applicable:
            lines.append(f"claim {c.id} N/A: {c.reason}")
    return "\n".join(lines)


def _markdown(report: Report) -> str:
    if report.kappa is None:
        head = [f"Mode: {'fast' if report.fast else 'full'}, seed {report.seed}. "
                f"{sum(c.passed for c in report.checks)}/{len(report.checks)} claims hold. "
                f"Total time {sum(report.seconds.values()):.1f} s."]
    else:
        n_app = len(report.applicable)
        head = [f"K = {report.kappa['label']} (every claim run on this K alone). "
                f"Mode: {'fast' if report.fast else 'full'}, seed {report.seed}. "
                f"{sum(c.passed for c in report.checks)}/{n_app} applicable claims hold; "
                f"{len(report.checks) - n_app} do not apply to this K. "
                f"Total time {sum(report.seconds.values()):.1f} s."]
    out = ["# lionk reproduce: the paper's claims as numbers", "", *head, "",
           "| claim | title | kind | predicted (worst case) | measured | tol | cases | verdict |",
           "|---|---|---|---|---|---|---|---|"]
    for c in report.checks:
        if not c.applicable:
            out.append(f"| {c.id} | {c.title} | {c.kind} | - | - | - | - | **N/A**: {c.reason.replace('|', '/')} |")
            continue
        n_pass = sum(k.passed for k in c.cases)
        out.append(f"| {c.id} | {c.title} | {c.kind} | {_relation(c)} {format_value(c.predicted)} | "
                   f"{format_value(c.measured)} | {format_value(c.tolerance)} | {n_pass}/{len(c.cases)} | "
                   f"**{c.verdict}** |")
    for c in report.checks:
        if not c.applicable:
            out += ["", f"## Claim {c.id}: {c.title} — N/A", "", f"*Not applicable to K = {c.kappa}.* {c.reason}",
                    f"\n({report.seconds.get(c.id, 0):.2f} s)"]
            continue
        out += ["", f"## Claim {c.id}: {c.title} — {c.verdict}", "",
                f"*Statement.* {c.statement}", "", f"*Reference.* {c.reference}", "",
                f"*Tolerance.* {c.tolerance_why}", ""]
        if c.notes:
            out += [f"*Notes.* {c.notes}", ""]
        out += ["| case | kind | predicted | measured | tol | ok |", "|---|---|---|---|---|---|"]
        for k in c.cases:
            rel = "≤" if k.kind == "upper" else "="
            out.append(f"| {k.label.replace('|', '/')} | {k.kind} | {rel} {format_value(k.predicted)} | "
                       f"{format_value(k.measured)} | {format_value(k.tol)} | {'yes' if k.passed else '**no**'} |")
        out.append(f"\n({report.seconds.get(c.id, 0):.2f} s)")
    return "\n".join(out) + "\n"


def write_report(report: Report, out_dir) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` atomically; return their paths."""
    d = ensure_writable_dir(out_dir)
    js = json.dumps(report.to_dict(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    md = _markdown(report)
    pj, pm = d / "report.json", d / "report.md"
    # both are rendered before either is written; each lands by an atomic rename, the two renames
    # back to back, so an interruption leaves the old pair (or nothing), never a truncated file
    with atomic_path(pj) as tj, atomic_path(pm) as tm:
        tj.write_text(js, encoding="utf-8")
        tm.write_text(md, encoding="utf-8")
    return pj, pm
