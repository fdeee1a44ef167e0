"""The record every claim returns: :class:`TheoremCheck`, made of :class:`Case` results.

A claim is checked on several settings (K, objective, parameters); each setting is a
:class:`Case` with its own predicted value, measured value and pass/fail. The claim's verdict is
"pass" only if every case passes; its headline ``predicted``/``measured`` are those of the worst
case (the one with the smallest margin).

The verdict rule depends on ``kind`` and is applied by :func:`case` (never written by hand):

``"upper"``
    the measured value is bounded by the prediction: pass iff ``measured ≤ predicted + tol``;
``"tight"``
    the measured value equals the prediction: pass iff ``|measured − predicted| ≤ tol``;
``"invariant"``
    a quantity that the theory keeps exactly (a violation, a trajectory difference, a count of
    broken orderings): pass iff ``|measured − predicted| ≤ tol`` with ``predicted`` usually 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

__all__ = ["KINDS", "NA", "Case", "TheoremCheck", "case", "make_check", "not_applicable", "to_jsonable"]

#: The third verdict: the claim does not apply to the K it was asked about (``reason`` says why).
#: Neither a pass nor a fail: :class:`~lionk.proofs.runner.Report` counts it apart.
NA = "n/a"

#: The three kinds of statement a claim can make.
KINDS = ("tight", "upper", "invariant")


@dataclass(frozen=True)
class Case:
    """One setting of a claim.

    Attributes
    ----------
    label : str
        The setting, e.g. ``"K=l1, f=quadratic, λ=0.5, explicit"``.
    kind : str
        One of :data:`KINDS`.
    predicted, measured, tol : float
        Prediction, measurement and the tolerance the verdict allows.
    passed : bool
        Result of the rule of ``kind`` (see the module docstring).
    margin : float
        How far inside the tolerance the case is (negative: by how much it fails).
    info : dict
        Extra numbers worth reporting (fitted slopes, counts, the reference's own residual).
    """

    label: str
    kind: str
    predicted: float
    measured: float
    tol: float
    passed: bool
    margin: float
    info: Mapping = field(default_factory=dict)


def case(label: str, kind: str, predicted: float, measured: float, tol: float, **info) -> Case:
    """Build a :class:`Case` and apply the verdict rule of ``kind``.

    A NaN measurement never passes.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    predicted, measured, tol = float(predicted), float(measured), float(tol)
    if kind == "upper":
        margin = predicted + tol - measured
    else:
        margin = tol - abs(measured - predicted)
    passed = bool(np.isfinite(margin) and margin >= 0) or (
        kind == "upper" and measured == -math.inf)
    if math.isnan(measured):
        passed, margin = False, -math.inf
    return Case(label, kind, predicted, measured, tol, passed, float(margin), dict(info))


@dataclass(frozen=True)
class TheoremCheck:
    """The result of checking one claim of the paper numerically.

    Attributes
    ----------
    id : str
        Registry id (``"2"``, ``"1b"``...).
    title : str
        Short name for tables.
    statement : str
        The claim in words, as checked (a corrected statement says so in ``notes``).
    reference : str
        Where the claim comes from (paper section, or "derived").
    kind : str
        One of :data:`KINDS`.
    predicted : float
        Prediction or bound of the worst case.
    measured : float
        Measurement of the worst case.
    tolerance : float
        Tolerance of the worst case.
    tolerance_why : str
        Why that tolerance (rounding, solver tolerance, discretisation order, Monte-Carlo error).
    verdict : str
        ``"pass"`` if every case passes, else ``"fail"``; ``"n/a"`` (:data:`NA`) when the claim does
        not apply to the K it was given (no cases; ``reason`` says why).
    cases : tuple of Case
    series : dict of str -> ndarray
        Raw series for plotting, keyed ``"<case>/<name>"`` (e.g. ``"l1/t"``, ``"l1/dist"``).
    variant : str
        ``"honest"`` or the name of the deliberately broken variant that was run.
    seed : int
    fast : bool
    notes : str
        Anything a reader must know (a corrected statement, a caveat).
    reason : str
        Why the claim does not apply (verdict ``"n/a"`` only; empty otherwise).
    kappa : str
        The user's K the claim was run on (``lionk reproduce --kappa``); empty for the paper's own
        catalogue run.
    """

    id: str
    title: str
    statement: str
    reference: str
    kind: str
    predicted: float
    measured: float
    tolerance: float
    tolerance_why: str
    verdict: str
    cases: tuple
    series: dict
    variant: str = "honest"
    seed: int = 0
    fast: bool = True
    notes: str = ""
    reason: str = ""
    kappa: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def applicable(self) -> bool:
        """False for a claim that does not apply to its K (verdict ``"n/a"``)."""
        return self.verdict != NA

    @property
    def worst(self) -> Case | None:
        """The case with the smallest margin (None when the claim did not apply)."""
        return min(self.cases, key=lambda c: c.margin) if self.cases else None

    def to_dict(self, series: bool = True) -> dict:
        """Plain-JSON view (arrays as lists, non-finite floats as strings)."""
        d = {
            "id": self.id, "title": self.title, "statement": self.statement,
            "reference": self.reference, "kind": self.kind, "predicted": self.predicted,
            "measured": self.measured, "tolerance": self.tolerance,
            "tolerance_why": self.tolerance_why, "verdict": self.verdict, "variant": self.variant,
            "seed": self.seed, "fast": self.fast, "notes": self.notes,
            "cases": [
                {"label": c.label, "kind": c.kind, "predicted": c.predicted, "measured": c.measured,
                 "tol": c.tol, "passed": c.passed, "margin": c.margin, "info": dict(c.info)}
                for c in self.cases
            ],
        }
        # present only when set, so that the paper's own run writes exactly the fields it always did
        if self.kappa:
            d["kappa"] = self.kappa
        if self.verdict == NA:
            d["reason"] = self.reason
        if series:
            d["series"] = {k: np.asarray(v) for k, v in self.series.items()}
        return to_jsonable(d)


def make_check(*, id: str, title: str, statement: str, reference: str, kind: str,
               cases: Sequence[Case], tolerance_why: str, series: dict | None = None,
               variant: str = "honest", seed: int = 0, fast: bool = True,
               notes: str = "", kappa: str = "") -> TheoremCheck:
    """Assemble a :class:`TheoremCheck` from its cases: verdict = all cases pass."""
    if not cases:
        raise ValueError(f"claim {id}: no cases")
    worst = min(cases, key=lambda c: c.margin)
    verdict = "pass" if all(c.passed for c in cases) else "fail"
    ser = {k: np.asarray(v) for k, v in (series or {}).items()}
    return TheoremCheck(id=id, title=title, statement=statement, reference=reference, kind=kind,
                        predicted=worst.predicted, measured=worst.measured, tolerance=worst.tol,
                        tolerance_why=tolerance_why, verdict=verdict, cases=tuple(cases),
                        series=ser, variant=variant, seed=int(seed), fast=bool(fast), notes=notes,
                        kappa=kappa)


def not_applicable(*, id: str, title: str, reason: str, statement: str = "", reference: str = "",
                   kind: str = "invariant", variant: str = "honest", seed: int = 0, fast: bool = True,
                   kappa: str = "") -> TheoremCheck:
    """A record saying the claim does NOT apply to ``kappa``, and why (verdict :data:`NA`, no cases).

    ``reason`` names what is missing (e.g. "K has no conj: H cannot be evaluated") or which
    hypothesis of the claim the K does not meet; it is shown in the table, report.md and report.json.
    """
    if not reason:
        raise ValueError(f"claim {id}: a not-applicable record needs a reason")
    nan = float("nan")
    return TheoremCheck(id=id, title=title, statement=statement, reference=reference, kind=kind,
                        predicted=nan, measured=nan, tolerance=nan,
                        tolerance_why="none: the claim does not apply to this K", verdict=NA, cases=(),
                        series={}, variant=variant, seed=int(seed), fast=bool(fast), notes="",
                        reason=reason, kappa=kappa)


def _num(v):
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def to_jsonable(o):
    """Recursively convert numpy arrays/scalars to lists/floats; non-finite floats to strings."""
    if isinstance(o, dict):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        if o.dtype.kind in "fc":
            return to_jsonable(o.astype(float).tolist())
        return o.tolist()
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return _num(o)
    return o
