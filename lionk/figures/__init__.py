"""The figures of ``lionk figures``: a registry of figure ids, and deterministic atomic output.

>>> from lionk import figures
>>> [s.id for s in figures.resolve("1,2")]
['1', '2a', '2b']

One module per figure (``fig1_phase_portrait``, ``fig2_trajectories``, ... ``fig8_sliding``) holds its
record, its ``compute`` function (the numbers, from :mod:`lionk.dynamics`, :mod:`lionk.lyapunov` and
:mod:`lionk.proofs`; nothing there re-derives the mathematics) and its ``draw`` function (the picture);
shared helpers are in :mod:`lionk.figures.common`. Each :class:`FigureSpec` below pairs a compute
function with a draw function. :func:`render` writes each figure as
PNG (and PDF) with fixed metadata, so the same inputs give byte-identical PNG files, and every
file is written atomically (:func:`lionk.atomic.atomic_path`).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lionk.atomic import atomic_path, ensure_writable_dir
from lionk.errors import LionKError

from . import (common, fig1_phase_portrait, fig2_trajectories, fig3_lyapunov, fig4_phase1_rate,
               fig5_discrete_to_ode, fig6_lambda_tradeoff, fig7_matrix_singular_values, fig8_sliding)

__all__ = ["FigureSpec", "Written", "FIGURES", "FORMATS", "resolve", "compute", "make_figure",
           "save", "render"]

#: output formats and the metadata that keeps them reproducible (no software version, no date)
FORMATS = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
}


@dataclass(frozen=True)
class FigureSpec:
    """One figure.

    Attributes
    ----------
    id : str
        Registry id (``"1"``, ``"2a"``...); ``--only 2`` selects every id whose number is 2.
    slug : str
        File stem (``fig1_phase_portrait``) and an accepted alias for ``--only``.
    title : str
        One line: what the figure shows.
    compute : callable
        ``compute(small: bool) -> record`` (from the figure's module).
    draw : callable
        ``draw(record) -> matplotlib.figure.Figure`` (from the figure's module).
    """

    id: str
    slug: str
    title: str
    compute: Callable[[bool], Any]
    draw: Callable[[Any], Any]


_SPECS = [
    FigureSpec("1", "fig1_phase_portrait",
               "Phase portraits of 1-D Lion-K (l1, logcosh) in the (x, m) plane: field, level sets of H, "
               "trajectories, the band |x| <= 1/lambda and the constrained optimum",
               fig1_phase_portrait.compute, fig1_phase_portrait.draw),
    FigureSpec("2a", "fig2a_trajectories_quadratic",
               "Discrete Lion-K on a 2-D quadratic for l1, l2, linf, relu, huber, logcosh: each run ends at "
               "the scipy optimum inside its constraint set (box, disc, diamond, orthant box)",
               fig2_trajectories.compute_quadratic, fig2_trajectories.draw),
    FigureSpec("2b", "fig2b_trajectories_rosenbrock",
               "The same six K on Rosenbrock: the runs reach the set and follow the valley to the "
               "constrained optimum",
               fig2_trajectories.compute_rosenbrock, fig2_trajectories.draw),
    FigureSpec("3", "fig3_lyapunov",
               "One run, continuous and discrete: H falls monotonically while f rises and falls; "
               "the dissipation Delta = -dH/dt stays positive",
               fig3_lyapunov.compute, fig3_lyapunov.draw),
    FigureSpec("4", "fig4_phase1_rate",
               "Phase 1: dist(lambda x_t, D) decays at exactly the rate lambda for Lion (fitted slopes "
               "against -lambda), and never slower for the other K",
               fig4_phase1_rate.compute, fig4_phase1_rate.draw),
    FigureSpec("5", "fig5_discrete_to_ode",
               "Discrete Lion-K trajectories converge to the ODE trajectory as lr -> 0, at first order",
               fig5_discrete_to_ode.compute, fig5_discrete_to_ode.draw),
    FigureSpec("6", "fig6_lambda_tradeoff",
               "The weight-decay trade-off: loss against steps for several lambda, each levelling off "
               "at its constrained optimum",
               fig6_lambda_tradeoff.compute, fig6_lambda_tradeoff.draw),
    FigureSpec("7", "fig7_matrix_singular_values",
               "Matrix case (nuclear K = Muon with weight decay): the singular values of X_t fall "
               "below 1/lambda",
               fig7_matrix_singular_values.compute, fig7_matrix_singular_values.draw),
    FigureSpec("8", "fig8_sliding",
               "Sliding: a Lion ODE trajectory reaches the face x_1 = 1/lambda while m~_2 stays on the "
               "kink surface m~_2 = 0 (Filippov), where discrete Lion chatters",
               fig8_sliding.compute, fig8_sliding.draw),
]

#: id -> spec, in drawing order
FIGURES: dict[str, FigureSpec] = {s.id: s for s in _SPECS}


def _number(fid: str) -> str:
    return fid.rstrip("abcdefghijklmnopqrstuvwxyz")


def resolve(only: str | None = None) -> list[FigureSpec]:
    """The specs named by a comma-separated list of ids or slugs (all when ``only`` is empty).

    ``"2"`` selects ``2a`` and ``2b``; ``"fig4_phase1_rate"`` or ``"fig4"`` select by name.

    Raises
    ------
    LionKError
        An unknown id (the message lists the valid ones).
    """
    if only is None or not str(only).strip():
        return list(FIGURES.values())
    wanted: list[FigureSpec] = []
    for raw in str(only).split(","):
        key = raw.strip().lower()
        if not key:
            continue
        hits = [s for s in FIGURES.values()
                if key in (s.id, s.slug, s.slug.split("_")[0]) or (key.isdigit() and _number(s.id) == key)]
        if not hits:
            valid = ", ".join(FIGURES)
            raise LionKError(f"unknown figure id {raw.strip()!r}; valid ids: {valid}")
        for s in hits:
            if s not in wanted:
                wanted.append(s)
    if not wanted:
        raise LionKError("--only is empty; valid ids: " + ", ".join(FIGURES))
    order = list(FIGURES.values())
    return sorted(wanted, key=order.index)


def compute(spec: FigureSpec, small: bool = False):
    """The data record behind ``spec``."""
    return spec.compute(small)


def make_figure(spec: FigureSpec, record):
    """Draw ``record`` under the fixed style; returns a :class:`matplotlib.figure.Figure`."""
    with common.style():
        return spec.draw(record)


@dataclass(frozen=True)
class Written:
    """A file written by :func:`render`: ``path``, ``bytes`` and the figure's ``seconds``."""

    id: str
    path: Path
    bytes: int
    seconds: float


def save(fig, path, fmt: str) -> int:
    """Save ``fig`` to ``path`` atomically in ``fmt`` with fixed metadata; returns the size in bytes."""
    if fmt not in FORMATS:
        raise LionKError(f"unknown format {fmt!r}; available: {', '.join(FORMATS)}")
    path = Path(path)
    with common.style(), atomic_path(path) as tmp:
        if fmt == "png":
            tmp.write_bytes(png_bytes(fig))
        else:
            fig.savefig(tmp, format=fmt, dpi=common.DPI, metadata=FORMATS[fmt])
    return path.stat().st_size


def png_bytes(fig) -> bytes:
    """The figure as a palette PNG (256 colours, no dithering, no metadata chunks).

    Agg renders RGBA; a median-cut palette keeps the plot visually identical (flat colours and
    anti-aliased edges) at about a third of the size, and is deterministic.
    """
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=common.DPI, metadata=FORMATS["png"])
    buf.seek(0)
    with Image.open(buf) as im:
        rgb = im.convert("RGB")
    pal = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    pal.save(out, format="png", optimize=True)
    return out.getvalue()


def parse_formats(text: str | None) -> tuple[str, ...]:
    """``"png,pdf" -> ("png", "pdf")``; raises LionKError on an unknown format."""
    if text is None:
        return tuple(FORMATS)
    out = []
    for raw in str(text).split(","):
        k = raw.strip().lower()
        if not k:
            continue
        if k not in FORMATS:
            raise LionKError(f"unknown format {raw.strip()!r}; available: {', '.join(FORMATS)}")
        if k not in out:
            out.append(k)
    if not out:
        raise LionKError("no output format given; available: " + ", ".join(FORMATS))
    return tuple(out)


def render(specs, out_dir, *, small: bool = False, formats=("png", "pdf"), progress: bool | None = True) -> list[Written]:
    """Compute, draw and write every spec into ``out_dir`` (created if needed).

    The directory is checked before any computation; each file is written atomically, so an error
    or an interrupt never leaves a partial file. ``progress``: True shows a tqdm bar on stderr,
    False hides it, None shows it only when stderr is a terminal.

    Returns
    -------
    list of Written
    """
    out = ensure_writable_dir(out_dir)
    formats = parse_formats(",".join(formats)) if not isinstance(formats, str) else parse_formats(formats)
    specs = list(specs)
    from tqdm import tqdm

    written: list[Written] = []
    bar = tqdm(specs, desc="figures", unit="fig", disable=None if progress is None else not progress)
    for spec in bar:
        bar.set_postfix_str(spec.slug)
        t0 = time.perf_counter()
        record = compute(spec, small)
        fig = make_figure(spec, record)
        paths = []
        for fmt in formats:
            p = out / f"{spec.slug}.{fmt}"
            size = save(fig, p, fmt)
            paths.append((p, size))
        dt = time.perf_counter() - t0
        written.extend(Written(spec.id, p, size, dt) for p, size in paths)
    bar.close()
    return written
