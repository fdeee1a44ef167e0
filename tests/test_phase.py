"""Phase portraits for any K (lionk.figures.phase, `lionk phase`): data checked against independent
formulas, the picture written, and the issue-11 non-support K now integrated correctly."""

from __future__ import annotations

import numpy as np
import pytest

from lionk.cli import main
from lionk.dynamics import kappa
from lionk.dynamics.params import ODEParams
from lionk.figures.phase import default_objective, dual_interval, phase_portrait
from lionk.lyapunov import functions as lf
from lionk.lyapunov.expression_kappa import from_expression

P = ODEParams(alpha=1.3, gamma=0.8, eps=0.5, lam=0.7)  # α ≠ γ


@pytest.mark.parametrize("K, expected", [
    (kappa.get("l1"), (-1.0, 1.0)), (kappa.get("relu"), (0.0, 1.0)), (kappa.get("quadratic"), (-np.inf, np.inf)),
    (kappa.get("huber", delta=0.5), (-1.0, 1.0)), (from_expression("exp(u)"), (0.0, np.inf)),
    (from_expression("Max(u, 0) + 0.05*u**2"), (-np.inf, np.inf)),
])
def test_dual_interval(K, expected):
    assert dual_interval(K) == expected


@pytest.mark.parametrize("name, kw", [("l1", {}), ("logcosh", {"delta": 0.5}), ("quadratic", {}), ("huber", {"delta": 0.7})])
def test_H_grid_equals_lyapunov_H_and_ends_at_the_reference(name, kw):
    K = kappa.get(name, **kw)
    rec = phase_portrait(K, params=P, n_grid=31, t_end=40.0)
    f = default_objective(1, P.lam, K)
    MX, MM = np.meshgrid(rec.x, rec.m)
    H = lf.H(K, f.value, MX[..., None], MM[..., None], P)
    both = np.isfinite(H) & np.isfinite(rec.H)
    assert np.array_equal(np.isfinite(H), np.isfinite(rec.H))
    np.testing.assert_allclose(rec.H[both], H[both], rtol=1e-12, atol=1e-12)  # same formula, regrouped terms
    # stationary point of the ODE: ṁ = 0 ⇔ m* = −(α/γ)∇f(x*) (by construction); ẋ = ∇K(m̃*) − λx* = 0
    assert abs(K.grad(np.array([[rec.m_star]]))[0, 0] - P.lam * rec.x_star) < 1e-8
    # trajectories converge there (t = 40 ≫ 1/λ, 1/γ) and H never rose (solver tolerance 1e-8 relative)
    np.testing.assert_allclose(rec.traj_x[-1], rec.x_star, atol=1e-3)
    assert rec.H_rise <= 1e-6 and rec.D_exit <= 1e-6


def test_non_support_K_is_integrated_with_its_own_moreau_gradient():
    """Issue 11, wrong answer 1: K = max(u,0) + 0.05u² (D = ℝ) got the field m/δ; H rose by ~22."""
    K = from_expression("Max(u, 0) + 0.05*u**2")
    rec = phase_portrait(K, params=P, t_end=40.0)
    assert rec.method == "moreau"
    assert rec.H_rise <= 1e-6 and rec.D_exit <= 1e-6
    np.testing.assert_allclose(rec.traj_x[-1], rec.x_star, atol=1e-3)  # the reference solver's optimum


def test_2d_portrait_and_cli(tmp_path, capsys):
    rec = phase_portrait(kappa.get("linf"), params=P, dim=2, n_grid=41)
    inside = rec.outside == 0
    X1, X2 = np.meshgrid(rec.x1, rec.x2)
    np.testing.assert_array_equal(inside, P.lam * (np.abs(X1) + np.abs(X2)) <= 1 + 1e-12)  # cross-polytope
    assert main(["phase", "--kappa", "l2", "--dim", "2", "--out", str(tmp_path), "--lam", "0.5"]) == 0
    assert (tmp_path / "phase_l2_2d.png").stat().st_size > 1000
    assert (tmp_path / "phase_l2_2d.pdf").stat().st_size > 1000


@pytest.mark.parametrize("argv, msg", [
    (["phase", "--kappa", "nuclear"], "vector K"),
    (["phase", "--kappa", "l1", "--lam", "0"], "lam"),
    (["phase", "--kappa", "nope"], "unknown K"),
    (["phase", "--kappa", "l1", "--t-end", "-1"], "t-end"),
])
def test_bad_input_one_line(argv, msg, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_2d_portrait_draws_a_d_without_interior_as_it_is():
    """D = the simplex (log-sum-exp, a user object): {λx ∈ D} is a segment, which a grid of membership
    tests never hits; the portrait carries the grid's projections onto it, which lie on the segment
    x ≥ 0, λ(x₁ + x₂) = 1 (to rounding); a box (l1) has interior and is shaded as before."""
    from lionk.dynamics.object_kappa import as_kappa
    from tests.repk_user_objects import lse_strict

    rec = phase_portrait(as_kappa(lse_strict), dim=2, n_grid=41, n_points=200)
    P = rec.D_trace
    assert P is not None and len(P) > 100
    lam = rec.params.lam
    np.testing.assert_allclose(lam * P.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(P >= -1e-12)
    # it spans the segment's part inside the window, not one point
    assert np.ptp(P[:, 0]) > 0.5 / lam
    assert phase_portrait(kappa.get("l1"), dim=2, n_grid=41, n_points=200).D_trace is None


def test_1d_portrait_draws_a_one_point_d_as_a_line():
    """In one coordinate the simplex is the point λx = 1: drawn as a vertical line at x = 1/λ (before, the
    figure was grey everywhere with nothing marking D)."""
    import matplotlib

    matplotlib.use("Agg")
    from lionk.dynamics.object_kappa import as_kappa
    from lionk.figures.phase import draw_phase
    from tests.repk_user_objects import lse_strict

    rec = phase_portrait(as_kappa(lse_strict), dim=1, n_grid=41, n_points=200)
    lo, hi = rec.interval
    assert lo == hi == 1.0 / rec.params.lam
    fig = draw_phase(rec)
    lines = [ln for ln in fig.axes[0].lines if ln.get_label() == "{λx ∈ D}: one point"]
    assert len(lines) == 1 and set(np.asarray(lines[0].get_xdata(), float)) == {lo}
