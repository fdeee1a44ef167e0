"""``lionk sweep``: map where Lion-K's guarantees hold over a grid of settings (issue 13).

A sweep is a product of

* hyper-parameter **points**: a grid (product of the listed values) or a random design (``samples``
  points drawn with ``design_seed``, log-uniform for scales, uniform for β), in either vocabulary:
  ``lr, beta1, beta2, weight_decay`` or ``alpha, gamma, eps, lam`` (+ ``lr``, the discretisation step;
  the mapping is :mod:`lionk.args` / :mod:`lionk.dynamics.params`, the discrete map has α = γ);
* K with its parameters (``"huber[delta=0.5]"``), objectives (catalogue names) and seeds.

Each **cell** (one point, K, objective, seed) runs ``starts`` initial states for ``steps`` steps of the
discrete map and gets the checks of ``lionk check`` (through :func:`run_checks`, the one adapter to
:mod:`lionk.lyapunov.checks`) and summary numbers: ``steps_to_D`` (first step with λx in D, worst start),
``final_dist_ref`` (distance of x_T to the reference optimum of :func:`lionk.proofs.references.solve`,
computed once per (K, objective, λ, α, γ) per process), ``max_H_increase`` (largest H_d(t+1) − H_d(t) of
§5b over the steps with λx in D at both ends) and ``margin_5b`` (worst margin of the §5b check).

Partitioning and determinism: cells are grouped by (K, objective) into blocks and every block is cut
into **chunks** of ``chunk_size`` consecutive cells. Chunks are defined by the spec alone (never by the
number of workers); one chunk is one vectorised :func:`lionk.dynamics.discrete.simulate` call with
per-trajectory hyper-parameters. The initial states of a cell come from a ``numpy`` SeedSequence of a
SHA-256 hash of the cell's random coordinates (K, objective, dimension, seed); they are shared across
hyper-parameter points on purpose (paired comparisons: a heat map's neighbours differ only by the
hyper-parameters). So a chunk computes the same bits in any process, on any worker, in any order.

Output directory: ``manifest.json`` (the spec and its digest), ``parts/chunk-NNNNNN.json`` (one per
finished chunk, written atomically; a rerun computes only the missing ones; a different spec is
refused), and when every chunk is done the tidy table ``table.parquet`` (pyarrow, extra
``lionk[sweep]``) or ``table.csv``, one row per cell.

Execution: in-process (``workers=1``), a local process pool (default: stdlib
:class:`concurrent.futures.ProcessPoolExecutor` with one process per core, so a local sweep needs no
extra), or an existing dask.distributed cluster (``scheduler="tcp://host:8786"``, extra ``lionk[sweep]``).
The parent process writes every part file, so workers need no shared file system.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from lionk.atomic import atomic_path, atomic_write_text, ensure_writable_dir
from lionk.errors import LionKError, NonFiniteError

__all__ = [
    "DISCRETE_AXES", "ODE_AXES", "KappaSpec", "SweepSpec", "Cell", "Chunk", "CheckOutcome", "SweepResult",
    "spec_from_mapping", "load_toml", "parse_values", "parse_kappas", "parse_seeds", "run_checks",
    "compute_chunk", "run_sweep", "compiled_kernels", "resolve_backend", "read_table", "write_table",
    "plot_heatmap", "COLUMNS",
]

#: hyper-parameter axes of the practitioners' vocabulary, in the order they vary in the grid
DISCRETE_AXES = ("lr", "beta1", "beta2", "weight_decay")
#: hyper-parameter axes of the ODE vocabulary (``lr`` is then the discretisation step)
ODE_AXES = ("alpha", "gamma", "eps", "lam", "lr")
#: axes sampled log-uniformly in a random design (positive scales); the others uniformly
LOG_AXES = frozenset({"lr", "weight_decay", "alpha", "gamma", "eps", "lam"})
#: defaults when an axis is not given (the defaults of ``lionk check``)
DEFAULT_LR, DEFAULT_WD = 0.01, 0.1
#: largest number of cells of one sweep (the plan is held in memory)
MAX_CELLS = 1_000_000
#: largest steps × starts × state size of one cell (as ``lionk check``'s MAX_WORK per run)
MAX_CELL_WORK = 100_000_000
FORMAT = "lionk-sweep/1"
#: values of the ``backend`` key (see :class:`SweepSpec`)
BACKENDS = ("auto", "numpy", "compiled")
EXTRA = "pip install 'lionk[sweep]'"

#: names of the discrete checks, one status column each (``check_<name>``)
CHECK_NAMES = ("finite", "step_in_D", "phase1_rate", "stays_in_D", "constraint_reached", "momentum_update",
               "lyapunov_discrete", "dissipation_discrete_nonnegative", "lyapunov_discrete_L")
#: columns of the table, in order
COLUMNS = (("cell", "kappa", "objective", "seed", "lr", "beta1", "beta2", "weight_decay", "alpha", "gamma",
            "eps", "lam", "decay", "steps", "starts", "backend", "verdict", "first_failure", "reason")
           + tuple(f"check_{n}" for n in CHECK_NAMES)
           + ("margin_5b", "margin_phase1", "max_H_increase", "steps_to_D", "final_dist_ref", "ref_kkt"))
NUMERIC_COLUMNS = frozenset({"cell", "seed", "lr", "beta1", "beta2", "weight_decay", "alpha", "gamma", "eps", "lam",
                             "steps", "starts", "margin_5b", "margin_phase1", "max_H_increase", "steps_to_D",
                             "final_dist_ref", "ref_kkt"})


# ---------------------------------------------------------------------------------------------
# the spec
# ---------------------------------------------------------------------------------------------
#: name prefixes of a user's K in a sweep: an expression in u (separable) and a Python object module:attr
EXPR_PREFIX, OBJECT_PREFIX = "expr:", "object:"


@dataclass(frozen=True)
class KappaSpec:
    """A K and its parameters: a catalogue K (``KappaSpec("huber", (("delta", 0.5),))``), a separable
    expression (``KappaSpec("expr:log(cosh(u))")``) or a user's object (``KappaSpec("object:mypkg.k:MyK")``),
    built in every worker the same way ``--kappa-expr`` / ``--kappa module:attr`` are."""

    name: str
    params: tuple = ()

    @property
    def label(self) -> str:
        """``"huber[delta=0.5]"``, ``"expr:log(cosh(u))"``, ``"object:mypkg.k:MyK"`` (the table's ``kappa`` column)."""
        if not self.params:
            return self.name
        return self.name + "[" + ";".join(f"{k}={v!r}" for k, v in self.params) + "]"

    @property
    def is_user(self) -> bool:
        """An expression or an object (not the catalogue)."""
        return self.name.startswith((EXPR_PREFIX, OBJECT_PREFIX))

    def build(self):
        if self.name.startswith(EXPR_PREFIX):
            from lionk.lyapunov.expression_kappa import from_expression

            return from_expression(self.name[len(EXPR_PREFIX):], **dict(self.params))
        if self.name.startswith(OBJECT_PREFIX):
            from lionk.lyapunov.object_kappa import from_object

            return from_object(self.name[len(OBJECT_PREFIX):], **dict(self.params))
        from lionk.dynamics import kappa as kappa_mod

        return kappa_mod.get(self.name, **dict(self.params))


class Cell(NamedTuple):
    """One cell of the sweep: where it is (coordinates) and its resolved hyper-parameters."""

    index: int
    kappa: KappaSpec
    objective: str
    seed: int
    point: tuple  # ((axis, value), ...) as given
    lion: object  # LionParams
    ode: object  # ODEParams


class Chunk(NamedTuple):
    """A fixed slice of consecutive cells sharing K and objective (one vectorised run)."""

    index: int
    kappa: KappaSpec
    objective: str
    cells: tuple  # of Cell


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's numbers (its digest names the output directory's sweep).

    Attributes
    ----------
    vocabulary : {"discrete", "ode"}
    axes : tuple of (name, values)
        Grid: ``values`` a tuple of floats. Random design: a tuple of floats (choices) or
        ``("range", low, high)``.
    kappas : tuple of KappaSpec
    objectives : tuple of str
    seeds : tuple of int
    design : {"grid", "random"}
    samples, design_seed : int
        Random design: number of points and the seed that draws them.
    steps, starts : int
        Steps of the discrete map and initial states per cell.
    dim : int or None
        Dimension of the objectives (None: each objective's default).
    objective_seed : int
        Seed of the objectives' random data (fixed across cells).
    init_scale : float or None
        Std of the initial states; None: 2/λ with every other start moved inside D (``lionk check``'s
        default, so that Phase 1 and the Lyapunov checks both have steps to check).
    decay : {"explicit", "implicit"}
    tol : float
        Absolute tolerance of the checks (``lionk check``'s default 1e-9 for float64).
    chunk_size : int
        Cells per chunk (defines the partitioning, hence part of the spec).
    backend : {"auto", "numpy", "compiled"}
        Simulator of a chunk: ``numpy`` (:func:`lionk.dynamics.discrete.simulate`, the reference),
        ``compiled`` (the whole time loop in :func:`lionk.dynamics.kernels.sweep_quadratic`, numba, for
        the K and objectives it supports) or ``auto`` (compiled when that module and numba are there).
        Resolved once per output directory (:func:`resolve_backend`) and stored in its manifest.
    """

    vocabulary: str
    axes: tuple
    kappas: tuple
    objectives: tuple
    seeds: tuple
    design: str = "grid"
    samples: int = 0
    design_seed: int = 0
    steps: int = 300
    starts: int = 4
    dim: int | None = None
    objective_seed: int = 0
    init_scale: float | None = None
    decay: str = "explicit"
    tol: float = 1e-9
    chunk_size: int = 16
    backend: str = "auto"
    _plan: list = field(default=None, compare=False, repr=False, hash=False)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "vocabulary": self.vocabulary,
            "axes": [[name, list(vals)] for name, vals in self.axes],
            "kappas": [[k.name, [list(p) for p in k.params]] for k in self.kappas],
            "objectives": list(self.objectives), "seeds": list(self.seeds), "design": self.design,
            "samples": self.samples, "design_seed": self.design_seed, "steps": self.steps, "starts": self.starts,
            "dim": self.dim, "objective_seed": self.objective_seed, "init_scale": self.init_scale,
            "decay": self.decay, "tol": self.tol, "chunk_size": self.chunk_size, "backend": self.backend,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SweepSpec":
        d = dict(d)
        d["axes"] = tuple((n, tuple(v)) for n, v in d["axes"])
        d["kappas"] = tuple(KappaSpec(n, tuple(tuple(p) for p in ps)) for n, ps in d["kappas"])
        d["objectives"] = tuple(d["objectives"])
        d["seeds"] = tuple(d["seeds"])
        return cls(**d)

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the spec (floats by repr, so exact)."""
        text = json.dumps({"format": FORMAT, "spec": self.to_dict()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    # -- the plan -----------------------------------------------------------------------------
    def points(self) -> list[tuple]:
        """Hyper-parameter points, each ``((axis, value), ...)`` in axis order."""
        names = [n for n, _ in self.axes]
        if self.design == "grid":
            return [tuple(zip(names, combo)) for combo in itertools.product(*(v for _, v in self.axes))]
        rng = np.random.default_rng(np.random.SeedSequence(self.design_seed))
        out = []
        for _ in range(self.samples):
            pt = []
            for name, vals in self.axes:
                if vals and vals[0] == "range":
                    lo, hi = float(vals[1]), float(vals[2])
                    if name in LOG_AXES:
                        v = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
                    else:
                        v = float(rng.uniform(lo, hi))
                else:
                    v = float(vals[int(rng.integers(len(vals)))])
                pt.append((name, v))
            out.append(tuple(pt))
        return out

    def plan(self) -> list[Chunk]:
        """The chunks (fixed by the spec): blocks (K, objective) in order, cut into ``chunk_size`` cells."""
        if self._plan is not None:
            return self._plan
        points = [(pt,) + _resolve_point(self.vocabulary, pt) for pt in self.points()]
        for pt, lp, _ in points:
            if self.decay == "explicit" and lp.lr * lp.weight_decay >= 1:
                where = ", ".join(f"{k}={v:g}" for k, v in pt)
                raise LionKError(f"point ({where}): lr*weight_decay = {lp.lr * lp.weight_decay:g} >= 1 with explicit "
                                 "decay: x is not contracted; lower lr or weight_decay (or use implicit decay)")
        n = len(self.kappas) * len(self.objectives) * len(points) * len(self.seeds)
        if n == 0:
            raise LionKError("the sweep has no cells (an axis, K, objective or seed list is empty)")
        if n > MAX_CELLS:
            raise LionKError(f"the sweep has {n} cells, more than {MAX_CELLS}; split it")
        chunks, idx = [], 0
        for ks in self.kappas:
            for obj in self.objectives:
                block = []
                for (pt, lp, ode) in points:
                    for seed in self.seeds:
                        block.append(Cell(idx, ks, obj, int(seed), pt, lp, ode))
                        idx += 1
                for a in range(0, len(block), self.chunk_size):
                    chunks.append(Chunk(len(chunks), ks, obj, tuple(block[a:a + self.chunk_size])))
        object.__setattr__(self, "_plan", chunks)
        return chunks

    @property
    def n_cells(self) -> int:
        return sum(len(c.cells) for c in self.plan())


def _resolve_point(vocabulary: str, point: tuple):
    """(LionParams, ODEParams) of one point, through :func:`lionk.args.params_from_args` (the CLI's
    two-vocabulary resolution) and :mod:`lionk.dynamics.params`; refuses settings the checks reject."""
    from lionk.args import params_from_args

    vals = dict(point)
    where = ", ".join(f"{k}={v:g}" for k, v in point)
    try:
        if vocabulary == "discrete":
            ns = SimpleNamespace(**{k: vals.get(k) for k in DISCRETE_AXES})
            if ns.lr is None:
                ns.lr = DEFAULT_LR
            if ns.weight_decay is None:
                ns.weight_decay = DEFAULT_WD
            lp, ode = params_from_args(ns)
        else:
            ns = SimpleNamespace(**{k: vals.get(k) for k in ("alpha", "gamma", "eps", "lam")})
            if ns.gamma is None or ns.eps is None or ns.lam is None:
                raise LionKError("the ODE vocabulary needs gamma, eps and lam (alpha defaults to gamma)")
            if ns.alpha is None:
                ns.alpha = ns.gamma
            if ns.alpha != ns.gamma:
                raise LionKError(f"alpha = {ns.alpha:g} != gamma = {ns.gamma:g}: the discrete map has alpha = gamma "
                                 "(scale the objective instead)")
            _, ode = params_from_args(ns)
            lr = vals.get("lr")
            lp = ode.to_discrete(lr=min(0.1 / ode.gamma, 0.01) if lr is None else lr)
            ode = lp.to_ode()  # α = γ = (1 − β2)/lr exactly as the simulated map
    except LionKError as exc:
        raise LionKError(f"point ({where}): {exc}") from None
    if lp.weight_decay <= 0:
        raise LionKError(f"point ({where}): weight decay (lam) must be > 0: without it there is no constraint "
                         "and no Lyapunov function")
    return lp, ode


# ---------------------------------------------------------------------------------------------
# parsing (flags and TOML)
# ---------------------------------------------------------------------------------------------
_RANGE = re.compile(r"^\s*([^~]+?)\s*~\s*([^~]+?)\s*$")


def _num(text, what) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise LionKError(f"{what}: not a number: {text!r}") from None
    if not math.isfinite(v):
        raise LionKError(f"{what}: must be finite, got {text!r}")
    return v


def parse_values(text_or_list, axis: str) -> tuple:
    """Values of a hyper-parameter axis: ``"1e-3,1e-2"`` or a list; ``"1e-4~1e-1"`` (or
    ``{low, high}`` in TOML) is a range for a random design."""
    if isinstance(text_or_list, dict):
        extra = set(text_or_list) - {"low", "high"}
        if extra or not {"low", "high"} <= set(text_or_list):
            raise LionKError(f"axis {axis}: a range is {{low = ..., high = ...}}, got keys {sorted(text_or_list)}")
        return _range(axis, text_or_list["low"], text_or_list["high"])
    if isinstance(text_or_list, (int, float)) and not isinstance(text_or_list, bool):
        return (_num(text_or_list, f"axis {axis}"),)
    if isinstance(text_or_list, (list, tuple)):
        vals = tuple(_num(v, f"axis {axis}") for v in text_or_list)
    elif isinstance(text_or_list, str):
        m = _RANGE.match(text_or_list)
        if m:
            return _range(axis, m.group(1), m.group(2))
        parts = [p.strip() for p in text_or_list.split(",") if p.strip()]
        vals = tuple(_num(p, f"axis {axis}") for p in parts)
    else:
        raise LionKError(f"axis {axis}: expected numbers, got {text_or_list!r}")
    if not vals:
        raise LionKError(f"axis {axis} is empty")
    return vals


def _range(axis, lo, hi):
    lo, hi = _num(lo, f"axis {axis}"), _num(hi, f"axis {axis}")
    if not lo < hi:
        raise LionKError(f"axis {axis}: range needs low < high, got {lo:g} ~ {hi:g}")
    if axis in LOG_AXES and lo <= 0:
        raise LionKError(f"axis {axis}: a log-uniform range needs low > 0, got {lo:g}")
    return ("range", lo, hi)


_KAPPA = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?:\[(.*)\])?\s*$")


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets and parentheses (an expression's ``Max(u, 0)`` stays whole)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def parse_kappas(spec) -> tuple:
    """K list: ``"l1,huber[delta=0.5],lp[p=3]"`` or a TOML list of names / ``{name = ..., key = ...}``."""
    from lionk.args import _parse_value

    items = _split_top(spec) if isinstance(spec, str) else list(spec)
    out = []
    for item in items:
        user = None
        if isinstance(item, dict):
            d = dict(item)
            kinds = [k for k in ("name", "expr", "object") if k in d]
            if len(kinds) != 1 or not isinstance(d[kinds[0]], str):
                raise LionKError(f"a K table needs one of name = \"...\", expr = \"...\" or object = \"module:attr\", "
                                 f"got {item!r}")
            name = d.pop(kinds[0])
            if kinds[0] != "name":
                user = (EXPR_PREFIX if kinds[0] == "expr" else OBJECT_PREFIX) + name.strip()
            params = tuple(sorted(d.items()))
        elif isinstance(item, str) and item.strip().startswith((EXPR_PREFIX, OBJECT_PREFIX)):
            user, params = item.strip(), ()
        elif isinstance(item, str) and ":" in item and "[" not in item:
            user, params = OBJECT_PREFIX + item.strip(), ()  # module:attr, as --kappa takes it
        elif isinstance(item, str):
            m = _KAPPA.match(item)
            if not m:
                raise LionKError(f"bad K {item!r}: use NAME or NAME[key=value;key=value]")
            name, params = m.group(1), []
            for kv in (m.group(2) or "").split(";"):
                if not kv.strip():
                    continue
                if "=" not in kv:
                    raise LionKError(f"bad K parameter {kv!r} in {item!r}: use key=value")
                k, v = kv.split("=", 1)
                params.append((k.strip(), _parse_value(v.strip())))
            params = tuple(sorted(params))
        else:
            raise LionKError(f"bad K entry {item!r}")
        ks = KappaSpec(user, params) if user is not None else KappaSpec(name.strip().lower(), params)
        K = ks.build()  # unknown name, bad parameters or expression, missing object: one-line LionKError now
        if ks.is_user:
            from lionk.lyapunov.checks.common import require_exact_projection

            require_exact_projection(K)  # as lionk check: a numerical P_D would fail every step
        out.append(ks)
    if not out:
        raise LionKError("the K list is empty")
    return tuple(out)


def parse_seeds(spec) -> tuple:
    """``"0:4"`` (0, 1, 2, 3), ``"0,5,7"`` or a list of non-negative integers."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = [spec]
    if isinstance(spec, str):
        if ":" in spec:
            a, _, b = spec.partition(":")
            try:
                vals = tuple(range(int(a), int(b)))
            except ValueError:
                raise LionKError(f"bad seed range {spec!r}: use START:STOP (STOP excluded)") from None
        else:
            try:
                vals = tuple(int(p) for p in spec.split(",") if p.strip())
            except ValueError:
                raise LionKError(f"bad seeds {spec!r}: integers separated by commas, or START:STOP") from None
    elif isinstance(spec, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            raise LionKError(f"seeds must be integers, got {spec!r}")
        vals = tuple(spec)
    else:
        raise LionKError(f"bad seeds {spec!r}")
    if not vals:
        raise LionKError(f"the seed list {spec!r} is empty")
    if any(not 0 <= v < 2**32 for v in vals):
        raise LionKError("seeds must be between 0 and 2**32 - 1")
    return vals


#: keys accepted in a TOML spec (and in :func:`spec_from_mapping`)
SPEC_KEYS = frozenset({"axes", "kappa", "objective", "seeds", "design", "samples", "design_seed", "steps", "starts",
                       "dim", "objective_seed", "init_scale", "decay", "tol", "chunk_size", "backend"})


def load_toml(path) -> dict:
    """Read a TOML sweep spec (stdlib ``tomllib``; unknown keys are refused later)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise LionKError("reading a TOML spec needs Python >= 3.11 (or `pip install tomli`)") from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise LionKError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise LionKError(f"{str(path)!r} is not valid TOML: {exc}") from None


def _int(v, what, lo=1, hi=10**7):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        try:
            v = int(str(v))
        except ValueError:
            raise LionKError(f"{what} must be an integer, got {v!r}") from None
    if not lo <= v <= hi:
        raise LionKError(f"{what} must be between {lo} and {hi}, got {v}")
    return int(v)


def spec_from_mapping(d: dict) -> SweepSpec:
    """Build and validate a :class:`SweepSpec` from a TOML-like mapping (the CLI builds one too).

    Raises
    ------
    LionKError
        Unknown key or axis, both vocabularies, an empty list, a bad value, or a point the checks
        refuse (λ ≤ 0, εγ > 1, explicit lr·λ ≥ 1, ...): one line naming it.
    """
    from lionk.dynamics import objectives as objectives_mod

    unknown = set(d) - SPEC_KEYS
    if unknown:
        raise LionKError(f"unknown sweep key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SPEC_KEYS))}")
    axes_in = dict(d.get("axes") or {})
    known_axes = set(DISCRETE_AXES) | set(ODE_AXES)
    bad = [a for a in axes_in if a not in known_axes]
    if bad:
        raise LionKError(f"unknown axis {bad[0]!r}; axes: {', '.join(DISCRETE_AXES)} or "
                         f"{', '.join(ODE_AXES[:4])} (+ lr)")
    ode_given = [a for a in axes_in if a in ("alpha", "gamma", "eps", "lam")]
    disc_given = [a for a in axes_in if a in ("beta1", "beta2", "weight_decay")]
    if ode_given and disc_given:
        raise LionKError(f"give the axes in one vocabulary: lr/beta1/beta2/weight_decay or alpha/gamma/eps/lam "
                         f"(+ lr), not both ({disc_given[0]} and {ode_given[0]})")
    vocabulary = "ode" if ode_given else "discrete"
    order = ODE_AXES if vocabulary == "ode" else DISCRETE_AXES
    design = d.get("design", "grid")
    if design not in ("grid", "random"):
        raise LionKError(f"design must be grid or random, got {design!r}")
    axes = []
    for name in order:
        if name in axes_in:
            vals = parse_values(axes_in[name], name)
            if vals[0] == "range" and design == "grid":
                raise LionKError(f"axis {name}: a range (low~high) needs design = random (--design random)")
            axes.append((name, vals))
    samples = _int(d.get("samples", 0), "samples", 0, MAX_CELLS) if design == "random" else 0
    if design == "random" and samples < 1:
        raise LionKError("a random design needs samples >= 1 (--samples N)")
    objs = d.get("objective", ["quadratic"])
    objs = [o.strip() for o in objs.split(",") if o.strip()] if isinstance(objs, str) else list(objs)
    if not objs:
        raise LionKError("the objective list is empty")
    for o in objs:
        if not isinstance(o, str) or o.strip().lower() not in objectives_mod.NAMES:
            raise LionKError(f"unknown objective {o!r}; available: {', '.join(objectives_mod.NAMES)}")
    decay = d.get("decay", "explicit")
    if decay not in ("explicit", "implicit"):
        raise LionKError(f"decay must be explicit or implicit, got {decay!r}")
    tol = _num(d.get("tol", 1e-9), "tol")
    if not 0 <= tol <= 0.1:
        raise LionKError(f"tol must be in [0, 0.1] (the checks' largest), got {tol:g}")
    init_scale = d.get("init_scale")
    if init_scale is not None:
        init_scale = _num(init_scale, "init_scale")
        if init_scale <= 0:
            raise LionKError(f"init_scale must be > 0, got {init_scale:g}")
    dim = d.get("dim")
    backend = d.get("backend", "auto")
    if backend not in BACKENDS:
        raise LionKError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    spec = SweepSpec(
        vocabulary=vocabulary, axes=tuple(axes), kappas=parse_kappas(d.get("kappa", ["l1"])),
        objectives=tuple(o.strip().lower() for o in objs), seeds=parse_seeds(d.get("seeds", [0])), design=design,
        samples=samples, design_seed=_int(d.get("design_seed", 0), "design_seed", 0, 2**32 - 1),
        steps=_int(d.get("steps", 300), "steps", 1, 10**6), starts=_int(d.get("starts", 4), "starts", 1, 10**4),
        dim=None if dim is None else _int(dim, "dim", 1, 4096),
        objective_seed=_int(d.get("objective_seed", 0), "objective_seed", 0, 2**32 - 1),
        init_scale=init_scale, decay=decay, tol=tol, chunk_size=_int(d.get("chunk_size", 16), "chunk_size", 1, 10**5),
        backend=backend,
    )
    _validate_spec(spec)
    return spec


def _validate_spec(spec: SweepSpec) -> None:
    """Resolve every point and build every (K, objective) pair once, so that bad input fails before work."""
    chunks = spec.plan()  # resolves every point (one-line errors)
    seen = set()
    for ch in chunks:
        if (ch.kappa, ch.objective) in seen:
            continue
        seen.add((ch.kappa, ch.objective))
        K, f = ch.kappa.build(), _objective(ch.objective, spec.dim, spec.objective_seed)
        if (K.event_ndim == 2) != (len(f.shape) == 2):
            raise LionKError(f"K={K.name} works on {'matrices' if K.event_ndim == 2 else 'vectors'}, "
                             f"objective {f.name} on shape {f.shape}")
        K.check_state(np.zeros((1,) + tuple(f.shape)), f"a state of objective {f.name}")
        work = spec.steps * spec.starts * int(np.prod(f.shape))
        if work > MAX_CELL_WORK:
            raise LionKError(f"one cell is {work:.3g} > {MAX_CELL_WORK:.3g} coordinate-steps; lower steps, starts or dim")


@functools.lru_cache(maxsize=64)
def _objective(name: str, dim, seed: int):
    from lionk.dynamics import objectives as objectives_mod

    if dim is not None and name == "matrix_lsq":
        raise LionKError("dim does not apply to matrix_lsq (its shape is fixed: 4 x 3)")
    kw = {"seed": seed} if dim is None else {"seed": seed, "dim": dim}
    return objectives_mod.get(name, **kw)


# ---------------------------------------------------------------------------------------------
# one chunk
# ---------------------------------------------------------------------------------------------
class CheckOutcome(NamedTuple):
    """The checks of one cell: the :class:`~lionk.lyapunov.checks.CheckResult` records and the verdict."""

    checks: tuple
    verdict: str  # "pass" | "fail" | "inconclusive"


def run_checks(K, objective, x, m, *, lion, decay: str, grad, f, tol: float) -> CheckOutcome:
    """The one adapter to :mod:`lionk.lyapunov.checks` (only this
    function needs to follow it). ``x, m, grad`` of shape (T, B, *event), ``f`` of shape (T, B)."""
    from lionk.lyapunov.checks import verdicts as checks_mod
    from lionk.lyapunov.checks.discrete import check_discrete_run

    cs = check_discrete_run(K, x, m, lr=lion.lr, beta1=lion.beta1, beta2=lion.beta2,
                                       weight_decay=lion.weight_decay, decay=decay, grad=grad, f=f, L=objective.L,
                                       tol=tol, mode="discrete", convention_hint="paper")
    report = checks_mod.RunReport(tuple(cs), checks_mod.RunSetup(K.describe(), None, None, "lionk sweep"))
    return CheckOutcome(tuple(cs), report.status)


def _nonfinite_outcome(exc) -> CheckOutcome:
    from lionk.lyapunov.checks import verdicts as checks_mod
    from lionk.lyapunov.checks.discrete import check_discrete_run

    c = checks_mod.CheckResult("finite", "discrete", checks_mod.FAIL, "x, m and gradients are finite at every step", 0.0,
                         detail=str(exc))
    return CheckOutcome((c,), checks_mod.FAIL)


def cell_rng(spec: SweepSpec, cell: Cell) -> np.random.Generator:
    """Generator of a cell's initial states: SeedSequence of SHA-256 of its random coordinates."""
    key = json.dumps([cell.kappa.label, cell.objective, spec.dim, spec.objective_seed, cell.seed],
                     separators=(",", ":"))
    entropy = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "little")
    return np.random.default_rng(np.random.SeedSequence(entropy))


def initial_states(spec: SweepSpec, cell: Cell, K, shape) -> np.ndarray:
    """(starts, *shape) initial states of a cell (``lionk check``'s default when ``init_scale`` is None)."""
    lam = cell.lion.weight_decay
    z = cell_rng(spec, cell).standard_normal((spec.starts,) + tuple(shape))
    if spec.init_scale is not None:
        return spec.init_scale * z
    x0 = (2.0 / lam) * z
    if spec.starts > 1:
        x0[1::2] = 0.5 * np.asarray(K.dual_project(lam * x0[1::2]), dtype=float) / lam
    return x0


def reference_key(cell: Cell) -> str:
    """Key of a cell's reference problem: (K, objective, λ, γ/α). The minimiser of αf + (γ/λ)K*(λx)
    depends on α and γ only through γ/α (divide F by α), and the discrete map has α = γ, so every
    hyper-parameter point with the same λ shares one reference."""
    ratio = cell.ode.gamma / cell.ode.alpha
    return json.dumps([cell.kappa.label, cell.objective, cell.ode.lam, ratio], separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def _reference(kappa: KappaSpec, objective: str, dim, objective_seed: int, lam: float, ratio: float):
    """Reference minimiser of f + (ratio/λ)K*(λx) (:func:`lionk.proofs.references.solve` with α = 1,
    γ = ratio), as ``{"x": nested list, "kkt": float}``; None when there is no reference solver for K."""
    from lionk.proofs import references

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            K, f = kappa.build(), _objective(objective, dim, objective_seed)
            if kappa.is_user:  # a K without a by-hand problem: the generic reference of reproduce --kappa
                from lionk.proofs import user_k

                ref = user_k.solve(K, f, lam, 1.0, ratio)
            else:
                ref = references.solve(K, f, lam, 1.0, ratio)
    except LionKError:
        return None  # no reference solver for this K: the distance is NaN
    return {"x": np.asarray(ref.x, dtype=float).tolist(), "kkt": float(ref.kkt)}


def compute_references(spec: SweepSpec, keys=None) -> dict:
    """The reference of every (K, objective, λ, γ/α) of the sweep (or of ``keys``), keyed by
    :func:`reference_key`. :func:`run_sweep` computes them once, in the parent process, and stores them in
    the output directory: the scipy solvers' last digits depend on the BLAS threads of the process
    (measured: SLSQP's x moves by 2e-8 between 1 and 2 OpenBLAS threads), so computing them in workers
    would tie the table to the workers' environment."""
    out = {}
    for ch in spec.plan():
        for c in ch.cells:
            k = reference_key(c)
            if k in out or (keys is not None and k not in keys):
                continue
            out[k] = _reference(c.kappa, c.objective, spec.dim, spec.objective_seed, c.ode.lam,
                                c.ode.gamma / c.ode.alpha)
    return out


def _h_discrete_path(K, x, m, F, lion, decay, member_tol):
    """H_d(x_t, m_t) of §5b along (T, B) with λx_t projected onto D where within ``member_tol`` (NaN outside D).

    Explicit decay with lr is the implicit run with lr/(1 − lr·λ) (as the §5b check does)."""
    from lionk.dynamics.params import LionParams
    from lionk.lyapunov.functions import H_discrete

    lam = lion.weight_decay
    eps_i = lion.lr if decay == "implicit" else lion.lr / (1.0 - lion.lr * lam)
    p = LionParams(lr=eps_i, beta1=lion.beta1, beta2=lion.beta2, weight_decay=lam)
    y = lam * x
    inside = K.dual_dist(y) <= member_tol
    xh = np.asarray(K.dual_project(y), dtype=float) / lam
    with np.errstate(all="ignore"):
        H = H_discrete(K, lambda _x: F, xh, m, p)
    return np.where(inside, H, np.nan), inside


def _reason(outcome: CheckOutcome, first) -> str:
    """Why a cell is not a pass, in one line: the first failed check's detail, or the core checks that
    evaluated nothing and why (what ``lionk check`` prints); empty for a pass."""
    from lionk.lyapunov.checks import verdicts as checks_mod
    from lionk.lyapunov.checks.discrete import check_discrete_run

    if first is not None:
        return f"{first.name}: {first.detail or first.claim}"
    if outcome.verdict != checks_mod.INCONCLUSIVE:
        return ""
    idle = [c for c in outcome.checks if c.name in checks_mod.CORE_CHECKS and (c.status == checks_mod.SKIP
                                                                               or c.n_checked == 0)]
    if not idle:
        return "no check ran"
    return "; ".join(f"{c.name} evaluated nothing: {c.detail}" if c.detail else f"{c.name} evaluated nothing"
                     for c in idle)


def _cell_row(spec, cell, K, f, X, M, F, outcome: CheckOutcome, refs: dict, backend: str = "numpy") -> dict:
    lp, ode = cell.lion, cell.ode
    row = {"cell": cell.index, "kappa": cell.kappa.label, "objective": cell.objective, "seed": cell.seed,
           "lr": lp.lr, "beta1": lp.beta1, "beta2": lp.beta2, "weight_decay": lp.weight_decay, "alpha": ode.alpha,
           "gamma": ode.gamma, "eps": ode.eps, "lam": ode.lam, "decay": spec.decay, "steps": spec.steps,
           "starts": spec.starts, "backend": backend}
    by_name = {c.name: c for c in outcome.checks}
    row["verdict"] = outcome.verdict
    first = next((c for c in outcome.checks if c.failed), None)
    row["first_failure"] = first.name if first else ""
    row["reason"] = _reason(outcome, first)
    for n in CHECK_NAMES:
        row[f"check_{n}"] = by_name[n].status if n in by_name else ""
    nan = float("nan")

    def worst(name):
        c = by_name.get(name)
        return nan if c is None or c.worst_margin is None else float(c.worst_margin)

    row["margin_5b"] = worst("lyapunov_discrete")
    row["margin_phase1"] = worst("phase1_rate")
    row.update(max_H_increase=nan, steps_to_D=nan, final_dist_ref=nan, ref_kkt=nan)
    if X is None:
        return row
    member_tol = min(spec.tol, 1e-9)
    with np.errstate(all="ignore"):
        H, inside = _h_discrete_path(K, X, M, F, lp, spec.decay, member_tol)
        both = inside[:-1] & inside[1:]
        dH = np.where(both, H[1:] - H[:-1], np.nan)
        if np.isfinite(dH).any():
            row["max_H_increase"] = float(np.nanmax(dH))
        reached = inside.any(axis=0)
        if reached.all():
            row["steps_to_D"] = float(np.max(np.argmax(inside, axis=0)))
        ref = refs.get(reference_key(cell))
        if ref is not None:
            diff = (X[-1] - np.asarray(ref["x"], dtype=float)).reshape(X.shape[1], -1)
            row["final_dist_ref"] = float(np.max(np.linalg.norm(diff, axis=1)))
            row["ref_kkt"] = float(ref["kkt"])
    return row


# ---------------------------------------------------------------------------------------------
# the hook for a compiled batch kernel (lionk.dynamics.kernels, written on another branch)
# ---------------------------------------------------------------------------------------------
#: objectives whose gradient ``(x - b) A`` the compiled sweep kernel computes itself (``data["A"], data["b"]``)
COMPILED_OBJECTIVES = ("quadratic", "diag_quadratic")
FAST_EXTRA = "pip install 'lionk[fast]'"


def compiled_kernels():
    """The module :mod:`lionk.dynamics.kernels` when it exists and its numba imports, else None.

    The hook's whole contract with that module: ``available() -> bool``, ``supports(K) -> bool``,
    ``BITWISE`` (names of the K whose kernel is bit-for-bit the numpy step) and
    ``sweep_quadratic(K, A, b, x0, *, lr, beta1, beta2, weight_decay, steps, decay, record_every)``
    returning ``.x, .m`` of shape (steps + 1, B, d) (per-trajectory hyper-parameters of shape (B,)).
    """
    import importlib

    try:
        kernels = importlib.import_module("lionk.dynamics.kernels")
    except ImportError:
        return None
    try:
        ok = bool(kernels.available())
    except Exception:  # noqa: BLE001 - a broken numba install means: no compiled path
        return None
    return kernels if ok else None


def resolve_backend(backend: str) -> str:
    """``"numpy"`` or ``"compiled"``: what the spec's ``backend`` means in this process.

    Raises
    ------
    LionKError
        ``compiled`` without :mod:`lionk.dynamics.kernels` or numba.
    """
    if backend not in BACKENDS:
        raise LionKError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numpy":
        return "numpy"
    have = compiled_kernels() is not None
    if backend == "compiled" and not have:
        raise LionKError("backend compiled needs lionk.dynamics.kernels and numba, not available here: "
                         f"{FAST_EXTRA} (or use --backend numpy)")
    return "compiled" if have else "numpy"


def _compiled_runner(backend: str, K, f):
    """A callable ``(x0, lr, beta1, beta2, weight_decay, steps, decay) -> (X, M)`` running the compiled
    sweep kernel for this (K, objective), or None when the numpy path is to be used (backend numpy, or a
    K / objective the kernel does not cover: non-separable K, K not bit-for-bit, non-quadratic f)."""
    if backend != "compiled":
        return None
    kernels = compiled_kernels()
    if kernels is None:
        raise LionKError("this sweep uses the compiled backend but lionk.dynamics.kernels / numba is not available "
                         f"in this process (a worker without the extra?): {FAST_EXTRA}")
    if (f.name not in COMPILED_OBJECTIVES or "A" not in f.data or not kernels.supports(K)
            or K.name not in getattr(kernels, "BITWISE", ())):
        return None

    def run(x0, lr, beta1, beta2, weight_decay, steps, decay):
        r = kernels.sweep_quadratic(K, f.data["A"], f.data["b"], x0, lr=lr, beta1=beta1, beta2=beta2,
                                    weight_decay=weight_decay, steps=steps, decay=decay, record_every=1)
        return np.asarray(r.x, dtype=float), np.asarray(r.m, dtype=float)

    return run


def compute_chunk(spec_dict: dict, chunk_index: int, references: dict | None = None,
                  backend: str = "numpy") -> list[dict]:
    """Compute one chunk: one vectorised run of all its cells, then the checks per cell.

    A pure function of ``(spec, chunk_index, references, backend)`` (what the process pool and dask
    workers run). ``references`` (from :func:`compute_references`) defaults to solving them in this
    process. ``backend`` is the resolved one (:func:`resolve_backend`): ``"compiled"`` runs the time loop
    in the compiled kernel when it covers the chunk's K and objective (the ``backend`` column says which
    path produced each row); the checks and summary numbers are always numpy.

    Returns
    -------
    list of dict
        One row per cell (keys :data:`COLUMNS`), in cell order.
    """
    from lionk.dynamics import discrete

    spec = SweepSpec.from_dict(spec_dict)
    chunk = spec.plan()[chunk_index]
    K = chunk.kappa.build()
    f = _objective(chunk.objective, spec.dim, spec.objective_seed)
    B = spec.starts
    cells = chunk.cells
    if references is None:
        references = compute_references(spec, keys={reference_key(c) for c in cells})
    x0 = np.concatenate([initial_states(spec, c, K, f.shape) for c in cells])

    def per_row(attr):
        return np.repeat(np.array([getattr(c.lion, attr) for c in cells]), B)

    compiled = _compiled_runner(backend, K, f)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        X = None
        used = "numpy"
        try:
            if compiled is not None:
                X, M = compiled(x0, per_row("lr"), per_row("beta1"), per_row("beta2"), per_row("weight_decay"),
                                spec.steps, spec.decay)
                used = "compiled"
            else:
                run = discrete.simulate(K, f.grad, x0, lr=per_row("lr"), betas=(per_row("beta1"), per_row("beta2")),
                                        weight_decay=per_row("weight_decay"), steps=spec.steps, decay=spec.decay)
                X, M = run.x, run.m
        except (NonFiniteError, LionKError):
            X = None  # some cell diverged: run the cells of this chunk one by one with numpy (deterministic)
        rows = []
        if X is not None:
            G = np.asarray(f.grad(X[:-1]), dtype=float)
            F = np.asarray(f.value(X), dtype=float)
            for j, c in enumerate(cells):
                sl = slice(j * B, (j + 1) * B)
                out = run_checks(K, f, X[:, sl], M[:, sl], lion=c.lion, decay=spec.decay, grad=G[:, sl], f=F[:, sl],
                                 tol=spec.tol)
                rows.append(_cell_row(spec, c, K, f, X[:, sl], M[:, sl], F[:, sl], out, references, used))
            return rows
        for j, c in enumerate(cells):
            xc = x0[j * B:(j + 1) * B]
            try:
                r = discrete.simulate(K, f.grad, xc, lr=c.lion.lr, betas=c.lion.betas,
                                      weight_decay=c.lion.weight_decay, steps=spec.steps, decay=spec.decay)
            except NonFiniteError as exc:
                rows.append(_cell_row(spec, c, K, f, None, None, None, _nonfinite_outcome(exc), references))
                continue
            Gc = np.asarray(f.grad(r.x[:-1]), dtype=float)
            Fc = np.asarray(f.value(r.x), dtype=float)
            out = run_checks(K, f, r.x, r.m, lion=c.lion, decay=spec.decay, grad=Gc, f=Fc, tol=spec.tol)
            rows.append(_cell_row(spec, c, K, f, r.x, r.m, Fc, out, references))
    return rows


# ---------------------------------------------------------------------------------------------
# the output directory
# ---------------------------------------------------------------------------------------------
class SweepResult(NamedTuple):
    """What :func:`run_sweep` did."""

    out_dir: Path
    table: Path | None  # None while chunks are missing
    n_chunks: int
    n_done: int  # finished chunks (before + now)
    n_computed: int  # chunks computed by this call
    n_cells: int


def _part(out: Path, i: int) -> Path:
    return out / "parts" / f"chunk-{i:06d}.json"


def _open_dir(spec: SweepSpec, out) -> tuple[Path, str]:
    """Create or reopen the output directory; returns it and the resolved backend (stored in the manifest
    on the first run, so that a resumed sweep keeps the simulator its first chunks used)."""
    out = ensure_writable_dir(out)
    manifest = out / "manifest.json"
    if manifest.exists():
        try:
            have = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise LionKError(f"{str(manifest)!r} is unreadable; use a new output directory") from None
        if have.get("digest") != spec.digest:
            raise LionKError(f"{str(out)!r} holds a different sweep (spec digest {str(have.get('digest'))[:12]} != "
                             f"{spec.digest[:12]}); use a new output directory (--out) or delete it")
        backend = have.get("backend", "numpy")
        if backend not in ("numpy", "compiled"):
            raise LionKError(f"{str(manifest)!r} names an unknown backend {backend!r}; use a new output directory")
    else:
        if any(out.iterdir()):
            raise LionKError(f"{str(out)!r} is not empty and holds no sweep; use a new or empty output directory")
        backend = resolve_backend(spec.backend)
        want = {"format": FORMAT, "digest": spec.digest, "n_cells": spec.n_cells, "n_chunks": len(spec.plan()),
                "backend": backend, "spec": spec.to_dict()}
        atomic_write_text(manifest, json.dumps(want, indent=1) + "\n")
    ensure_writable_dir(out / "parts")
    return out, backend


def _write_part(out: Path, i: int, rows: list[dict]) -> None:
    atomic_write_text(_part(out, i), json.dumps(rows, allow_nan=True) + "\n")


def _read_part(out: Path, i: int) -> list[dict]:
    return json.loads(_part(out, i).read_text(encoding="utf-8"))


def _need_extra(what: str, module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise LionKError(f"{what} needs the optional extra lionk[sweep] ({module} is not installed): {EXTRA}") from None


def run_sweep(spec: SweepSpec, out, *, workers: int | None = None, scheduler: str | None = None,
              max_chunks: int | None = None, table_format: str = "parquet", progress: bool = True,
              connect_timeout: float = 10.0) -> SweepResult:
    """Compute the missing chunks of ``spec`` into ``out`` and, once all are done, write the table.

    Parameters
    ----------
    spec : SweepSpec
    out : path
        Output directory (created; must be empty or hold this same sweep).
    workers : int, optional
        Local processes (default: one per core); 1 computes in this process. Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running dask.distributed scheduler (``tcp://host:8786``); needs ``lionk[sweep]``.
    max_chunks : int, optional
        Compute at most this many missing chunks now (the rest on a later call).
    table_format : {"parquet", "csv"}
    progress : bool
        A tqdm progress bar over chunks (on stderr).
    connect_timeout : float
        Seconds to wait for the dask scheduler.

    Returns
    -------
    SweepResult
    """
    if table_format not in ("parquet", "csv"):
        raise LionKError(f"table format must be parquet or csv, got {table_format!r}")
    if table_format == "parquet":
        _need_extra("Parquet output (--format parquet)", "pyarrow")
    out, backend = _open_dir(spec, out)
    n_chunks = len(spec.plan())
    todo = [i for i in range(n_chunks) if not _part(out, i).exists()]
    if max_chunks is not None:
        todo = todo[:max(0, int(max_chunks))]
    if todo and backend == "compiled" and compiled_kernels() is None:
        raise LionKError(f"{str(out)!r} was started with the compiled backend, not available here: "
                         f"{FAST_EXTRA} to resume it (or start a new directory with --backend numpy)")
    spec_dict = spec.to_dict()
    refs = _stored_references(spec, out) if todo else {}
    jobs = [(i, {reference_key(c): refs[reference_key(c)] for c in spec.plan()[i].cells}, backend) for i in todo]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), unit="chunk", desc="lionk sweep", disable=not progress or not todo, leave=False)
    try:
        if scheduler is not None:
            _run_dask(spec_dict, jobs, out, scheduler, bar, connect_timeout)
        elif (workers or os.cpu_count() or 1) <= 1 or len(todo) <= 1:
            for i, refs_i, be in jobs:
                _write_part(out, i, compute_chunk(spec_dict, i, refs_i, be))
                bar.update(1)
        else:
            _run_local(spec_dict, jobs, out, workers or os.cpu_count() or 1, bar)
    finally:
        bar.close()
    n_done = sum(_part(out, i).exists() for i in range(n_chunks))
    table = None
    if n_done == n_chunks:
        rows = [r for i in range(n_chunks) for r in _read_part(out, i)]
        rows.sort(key=lambda r: r["cell"])
        table = out / f"table.{table_format}"
        write_table(rows, table)
    return SweepResult(out, table, n_chunks, n_done, len(todo), spec.n_cells)


def _stored_references(spec: SweepSpec, out: Path) -> dict:
    """``references.json`` of the output directory (computed here on the first run, so a resumed sweep
    uses the very same references)."""
    path = out / "references.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    refs = compute_references(spec)
    atomic_write_text(path, json.dumps(refs) + "\n")
    return refs


def _run_local(spec_dict, jobs, out, workers, bar) -> None:
    """A stdlib process pool ("spawn": no fork of a process holding BLAS threads); parts written here."""
    import concurrent.futures as cf
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
        futs = {pool.submit(compute_chunk, spec_dict, i, refs_i, be): i for i, refs_i, be in jobs}
        try:
            for fut in cf.as_completed(futs):
                _write_part(out, futs[fut], fut.result())
                bar.update(1)
        except BaseException:
            for fu in futs:
                fu.cancel()
            raise


def _run_dask(spec_dict, jobs, out, address, bar, timeout) -> None:
    distributed = _need_extra("--scheduler", "distributed")
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise LionKError(f"cannot reach the dask scheduler at {address!r}: {str(exc).splitlines()[0]}") from None
    try:
        tag = spec_dict_digest(spec_dict)
        futs = [client.submit(compute_chunk, spec_dict, i, refs_i, be, key=f"lionk-sweep-{tag}-{i}", pure=False)
                for i, refs_i, be in jobs]
        index = {f.key: i for f, (i, _, _) in zip(futs, jobs)}
        for fut in distributed.as_completed(futs, loop=client.loop):
            _write_part(out, index[fut.key], fut.result())
            bar.update(1)
    finally:
        client.close()


def spec_dict_digest(spec_dict: dict) -> str:
    return SweepSpec.from_dict(spec_dict).digest[:16]


# ---------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------
def write_table(rows: list[dict], path) -> None:
    """Write the tidy table atomically: Parquet (pyarrow) or CSV by the file's suffix."""
    path = Path(path)
    cols = {c: [r.get(c) for r in rows] for c in COLUMNS}
    if path.suffix == ".parquet":
        pa = _need_extra("Parquet output", "pyarrow")
        import pyarrow.parquet as pq

        types = {c: (pa.int64() if c in ("cell", "seed", "steps", "starts") else pa.float64())
                 for c in NUMERIC_COLUMNS}
        table = pa.table({c: pa.array(v, type=types.get(c, pa.string())) for c, v in cols.items()})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([repr(float(r[c])) if isinstance(r[c], float) else r[c] for c in COLUMNS])
        atomic_write_text(path, buf.getvalue())


def read_table(path) -> list[dict]:
    """Rows of a table written by :func:`write_table` (Parquet or CSV), numbers as floats/ints."""
    path = Path(path)
    if not path.is_file():
        raise LionKError(f"no sweep table at {str(path)!r}")
    if path.suffix == ".parquet":
        _need_extra("reading Parquet", "pyarrow")
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append({k: ((int(v) if k in ("cell", "seed", "steps", "starts") else float(v))
                             if k in NUMERIC_COLUMNS else v) for k, v in r.items()})
    return rows


# ---------------------------------------------------------------------------------------------
# heat maps
# ---------------------------------------------------------------------------------------------
_REDUCE = {"max": np.nanmax, "min": np.nanmin, "mean": np.nanmean}


def plot_heatmap(rows: list[dict], x: str, y: str, value: str, out, *, reduce: str = "max") -> Path:
    """Heat map of ``value`` over two axes (other axes reduced by ``reduce``), PNG written atomically.

    ``value`` is a numeric column or ``pass`` (1 where the verdict is pass, else 0; with ``mean`` the
    fraction of cells that pass).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        raise LionKError("the table is empty")
    for a in (x, y):
        if a not in rows[0] or a not in NUMERIC_COLUMNS and a not in ("kappa", "objective", "decay"):
            raise LionKError(f"cannot plot over {a!r}; axes: lr, beta1, beta2, weight_decay, alpha, gamma, eps, lam, "
                             "seed, kappa, objective")
    if value != "pass" and (value not in NUMERIC_COLUMNS):
        raise LionKError(f"--value must be a numeric column ({', '.join(sorted(NUMERIC_COLUMNS))}) or pass")
    if reduce not in _REDUCE:
        raise LionKError(f"reduce must be one of {', '.join(_REDUCE)}")

    def val(r):
        if value == "pass":
            return 1.0 if r["verdict"] == "pass" else 0.0
        v = r[value]
        return float("nan") if v is None else float(v)

    xs = sorted({r[x] for r in rows})
    ys = sorted({r[y] for r in rows})
    grid = np.full((len(ys), len(xs)), np.nan)
    buckets: dict = {}
    for r in rows:
        buckets.setdefault((ys.index(r[y]), xs.index(r[x])), []).append(val(r))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bucket -> NaN (blank)
        for (i, j), vs in buckets.items():
            grid[i, j] = _REDUCE[reduce](np.asarray(vs, dtype=float))
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xs), 1.0 + 0.6 * len(ys)), dpi=100)
    im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", aspect="auto", cmap="viridis")
    fmt = (lambda v: f"{v:g}") if isinstance(xs[0], (int, float)) else str
    ax.set_xticks(range(len(xs)), [fmt(v) for v in xs], rotation=45, ha="right")
    fmty = (lambda v: f"{v:g}") if isinstance(ys[0], (int, float)) else str
    ax.set_yticks(range(len(ys)), [fmty(v) for v in ys])
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{reduce} of {value}")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return out
