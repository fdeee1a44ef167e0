"""lionk figures: the registry, the data behind each figure, deterministic atomic output, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from lionk.errors import LionKError
from lionk import cli, figures
from lionk.figures.common import constrained_optimum
from lionk.figures.fig2_trajectories import FIG2_KAPPAS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_resolve_ids_numbers_and_names():
    assert [s.id for s in figures.resolve("1,2")] == ["1", "2a", "2b"]
    assert [s.id for s in figures.resolve("fig8_sliding, 4")] == ["4", "8"]
    assert [s.id for s in figures.resolve(None)] == list(figures.FIGURES)
    with pytest.raises(LionKError, match="unknown figure id '9'"):
        figures.resolve("1,9")
    with pytest.raises(LionKError):
        figures.resolve(" , ")


def test_cli_bad_id_and_unwritable_dir_exit_2_without_files(tmp_path, capsys):
    out = tmp_path / "figs"
    assert cli.main(["figures", "--only", "1,nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown figure id 'nope'" in err
    assert not out.exists()  # ids are checked before the directory is created
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["figures", "--only", "7", "--out", str(blocker / "sub"), "--no-progress"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# ---------------------------------------------------------------------------------------------
# the data behind each figure (small size)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    """Every figure's data at the small size, computed once for the module."""
    return {sid: spec.compute(True) for sid, spec in figures.FIGURES.items()}


def test_fig1_H_never_rises_and_runs_end_at_the_scipy_optimum(small):
    for p in small["1"]:
        assert p.method == "ode"
        H = p.H_traj
        fin = np.isfinite(H)  # H = +inf while λx is outside D (K* is an indicator there)
        both = fin[1:] & fin[:-1]
        scale = np.max(np.abs(H[fin]))
        # solver tolerance rtol = 1e-8 on the state; H is O(10) and Lipschitz on the window:
        # a rise larger than 1e-7·scale would be real, not the integrator's error
        with np.errstate(invalid="ignore"):  # inf - inf before λx enters D; masked by `both`
            dH = np.diff(H, axis=0)
        assert np.max(dH[both]) <= 1e-7 * scale
        # the fixed point is (x*, m*) with m* = -(α/γ) f'(x*); x* from L-BFGS-B, not from Lion-K.
        # After t = 25 the slowest start is within e^{-λ t}-ish of it: 5e-3 is a convergence bound,
        # measured 3e-3 for l1 (Filippov) and 1e-4 for logcosh
        assert np.max(np.abs(p.traj_x[-1] - p.x_star)) < 5e-3
        assert np.max(np.abs(p.traj_m[-1] - p.m_star)) < 1e-2
        r = 1.0 / p.ode.lam
        assert abs(p.center) > r  # the unconstrained minimiser lies outside the band
        assert np.all(np.isnan(p.H[:, np.abs(p.xh) > r * (1 + 1e-9)]))  # H = +inf outside the band


def test_fig1_l1_optimum_is_the_box_corner_and_logcosh_is_interior(small):
    l1, lc = small["1"]
    assert l1.x_star == pytest.approx(1 / l1.ode.lam, abs=1e-9)  # L-BFGS-B stops on the bound
    assert abs(lc.x_star) < 1 / lc.ode.lam - 1e-3  # entropy barrier: strictly inside


@pytest.mark.parametrize("fid", ["2a", "2b"])
def test_fig2_runs_end_at_the_independent_optimum(small, fid):
    d = small[fid]
    for p in d.panels:
        lam = 1 / p.radius
        assert np.all(np.linalg.norm(p.x[0] - d.minimizer, axis=-1) > 0)
        if p.kappa.startswith(("logcosh", "huber", "l2")):
            # ∇K is continuous at the fixed point (m* ≠ 0 for l2): the discrete map converges
            # to it; 1e-5 is far above the scipy solver's tolerance (gtol 1e-12) and far below lr
            assert np.max(p.final_gap) < 1e-5, p.kappa
        else:
            # sign-like ∇K: the discrete map hovers within O(lr) of the fixed point (each step
            # moves every coordinate by lr); 5·lr bounds the measured ≤ 2.2·lr
            assert np.max(p.final_gap) < 5 * d.lr, p.kappa
        K_set = {"box": lambda x: np.max(np.abs(x)), "disc": lambda x: np.linalg.norm(x)}.get(p.kind)
        if K_set is not None:
            assert K_set(p.x_star) <= (1 + 1e-9) / lam  # the reference is feasible


def test_marked_optimum_is_a_kkt_point():
    """The star drawn in figures 1-2 is a stationary point of F (natural residual ≈ 0)."""
    from lionk.dynamics import kappa as kappa_mod, objectives
    from lionk.dynamics.params import ODEParams
    from lionk.proofs.references import kkt_residual

    f = objectives.get("quadratic", dim=2, seed=9, cond=5.0, center_scale=1.5)
    for name, prm in FIG2_KAPPAS:
        K = kappa_mod.get(name, **prm)
        ode = ODEParams(1.0, 1.0, 0.1, 1.25)
        x = constrained_optimum(K, f, ode, np.zeros(2))
        # scipy's solvers stop at ftol 1e-15 on O(1) values: residual ~1e-7 in x at worst
        assert kkt_residual(K, f.grad, x, 1.25) < 1e-6, name


def test_fig3_H_monotone_while_f_is_not(small):
    d = small["3"]
    assert d.method == "ode"
    scale = np.max(np.abs(d.H))
    # the integrator's error (rtol 1e-8) bounds a spurious rise of H; 1e-7·scale is 10× that
    assert np.max(np.diff(d.H)) <= 1e-7 * scale
    # f is not monotone: it climbs well above an earlier value (measured: from 0.3 back to 1.0;
    # solver noise is ~1e-8)
    assert np.max(d.f - np.minimum.accumulate(d.f)) > 0.1
    assert np.min(d.Delta) >= 0.0
    # H is bounded below by its value at the scipy fixed point (H ≥ F(x) ≥ F(x*))
    assert np.min(d.H) >= d.H_star - 1e-9 * scale
    # discrete: the §5b inequality holds at every step (slack ≥ 0 up to rounding of O(10) terms),
    # and here H_d decreases at every step too
    assert np.min(d.margin_d) >= -1e-12 * np.max(np.abs(d.H_d))
    assert np.max(np.diff(d.H_d)) <= 0.0
    assert np.max(d.f_d - np.minimum.accumulate(d.f_d)) > 0.1
    # with α = γ, H_d is H/α (C = c/γ): same function, so equal at the fixed point
    assert d.H_d_star == pytest.approx(d.H_star / d.ode.alpha, rel=1e-12)


def test_fig4_fitted_slope_is_minus_lambda(small):
    d = small["4"]
    # the ODE state is accurate to rtol 1e-8 / atol 1e-10; fitting only where dist > 1e-6·dist0
    # keeps the relative error of every fitted point below 1e-4, hence the slope's
    np.testing.assert_allclose(d.fitted, -d.lams, rtol=1e-4)
    # panel (b): no K is ever slower than the bound dist0·e^{-λt} (same rounding allowance)
    bound = d.dist_b[:, :1] * np.exp(-d.lam_b * d.t)
    assert np.all(d.dist_b <= bound * (1 + 1e-6) + 1e-9)


def test_fig5_discrete_runs_approach_the_ode_at_first_order(small):
    d = small["5"]
    assert np.all(np.diff(d.errors) < 0)  # smaller lr, closer to the ODE
    ratio = d.errors[-2] / d.errors[-1]  # lr halved
    # Euler is first order: the ratio → 2; at lr ≤ 0.2 the O(lr²) term still moves it by ~10 %
    # (measured 2.15); 2 ± 0.3 would catch order 0.5 (1.41) or 2 (4)
    assert 1.7 < ratio < 2.3
    assert d.errors[-1] < 0.1


def test_fig6_tradeoff_from_claim_10_larger_lambda_worse_optimum_sooner(small):
    from lionk.dynamics import kappa as kappa_mod, objectives
    from lionk.dynamics.params import ODEParams

    d = small["6"]
    assert d.verdict == "pass"
    assert d.loss.shape == (d.lams.size, d.steps.size)
    assert np.all(np.diff(d.f_star) > 0)  # a smaller box can only raise the constrained minimum
    assert np.all(np.isfinite(d.reach_step)) and np.all(np.diff(d.reach_step) < 0)
    # the dashed lines are right: our own scipy formulation (L-BFGS-B on α f + (γ/λ)K*(λx)) gives the
    # same f*_λ as claim 10's reference, to the solvers' tolerances
    f = objectives.get("logistic", dim=5, seed=0)
    for lam, fs in zip(d.lams, d.f_star):
        x = constrained_optimum(kappa_mod.get("l1"), f, ODEParams(1.0, 1.0, 0.1, float(lam)), np.zeros(5))
        assert float(f.value(x)) == pytest.approx(fs, abs=1e-9)
    # Lion ends within claim 10's tolerance (1e-3, ~20× its O(lr) hover level) of each f*_λ
    assert np.all(np.abs(d.loss[:, -1] - d.f_star) <= 1e-3)


def test_fig7_singular_values_fall_below_one_over_lambda(small):
    d = small["7"]
    r = 1 / d.lam
    assert d.sigma[0, 0] > r
    T = d.t[-1]
    # Phase 1 (explicit decay): σ_1 − 1/λ ≤ (σ_1(X0) − 1/λ)(1 − lr·λ)^T, an exact bound
    bound = r + (d.sigma[0, 0] - r) * (1 - d.lr * d.lam) ** T
    assert d.sigma[-1, 0] <= bound * (1 + 1e-12)
    assert d.sigma_unconstrained[0] > r  # the constraint is active


def test_fig8_filippov_slides_on_the_kink_while_discrete_lion_chatters(small):
    d = small["8"]
    assert d.method == "filippov"
    assert d.sliding[0] == [] and d.crossings[0] == []  # x_1: sign(m̃_1) = +1 throughout
    (a, b), = d.sliding[1]
    assert b == pytest.approx(d.t[-1])  # slides until the end
    on = d.t > a + 1e-9
    # the solver keeps m̃_2 on the surface to its tolerance (measured 6e-11)
    ode_resid = np.max(np.abs(d.m_tilde[on, 1]))
    assert ode_resid < 1e-7
    chatter = np.max(np.abs(d.m_tilde_disc[d.t_disc > a + 1.0, 1]))
    assert chatter > 1e3 * ode_resid  # discrete Lion crosses the kink back and forth
    assert np.all(np.abs(d.x_star) <= 1 / d.ode.lam + 1e-9)
    # the end point approaches the optimum on the face x_1 = 1/λ at rate λ: e^{-6} ≈ 2.5e-3 of
    # the initial gap (≈ 3.5) leaves ≤ 1e-2
    assert np.max(np.abs(d.x[-1] - d.x_star)) < 1e-2


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def test_every_figure_draws_a_png(small, tmp_path):
    for sid, spec in figures.FIGURES.items():
        fig = figures.make_figure(spec, small[sid])
        size = figures.save(fig, tmp_path / f"{spec.slug}.png", "png")
        head = (tmp_path / f"{spec.slug}.png").read_bytes()[:8]
        assert head == PNG_MAGIC, sid
        assert 5_000 < size < 1_000_000, sid
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s.slug}.png" for s in figures.FIGURES.values())


def test_render_is_deterministic_and_writes_pdf(tmp_path):
    specs = figures.resolve("1,7")
    a = figures.render(specs, tmp_path / "a", small=True, progress=False)
    b = figures.render(specs, tmp_path / "b", small=True, progress=False, formats=("png",))
    pngs_a = {w.path.name: w.path.read_bytes() for w in a if w.path.suffix == ".png"}
    pngs_b = {w.path.name: w.path.read_bytes() for w in b}
    assert pngs_a == pngs_b and len(pngs_a) == 2
    pdf = [w for w in a if w.path.suffix == ".pdf"]
    assert len(pdf) == 2 and all(w.path.read_bytes()[:5] == b"%PDF-" for w in pdf)
    assert all(b"CreationDate" not in w.path.read_bytes() for w in pdf)


def test_failure_while_drawing_leaves_no_partial_file(tmp_path, monkeypatch):
    spec = figures.FIGURES["7"]

    def broken(record):
        fig = spec.draw(record)
        fig.savefig = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full"))
        return fig

    bad = figures.FigureSpec(spec.id, spec.slug, spec.title, spec.compute, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        figures.render([bad], tmp_path, small=True, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_only_the_requested_figures(tmp_path, capsys):
    out = tmp_path / "figs"
    assert cli.main(["figures", "--only", "7", "--out", str(out), "--small", "--format", "png",
                     "--no-progress"]) == 0
    assert [p.name for p in out.iterdir()] == ["fig7_matrix_singular_values.png"]
    assert "fig7_matrix_singular_values.png" in capsys.readouterr().out
    assert cli.main(["figures", "--only", "7", "--format", "gif", "--out", str(out)]) == 2
    assert "unknown format 'gif'" in capsys.readouterr().err
