"""The split of issue 10: one ``check_<name>`` function per named check, distinct record names, the
figure modules, and the old import paths kept as aliases.

These tests are about structure (no numbers): the numbers of the checks are tested in
tests/test_check.py against independent references, and `lionk reproduce --fast` / `lionk figures`
were compared with the commit before the split by benchmarks/compare_reports.py.
"""

from __future__ import annotations

import inspect

import numpy as np

from lionk.dynamics import kappa as kappa_mod, objectives
from lionk.dynamics.params import LionParams


def _check_functions(module) -> set[str]:
    """Names ``<name>`` of the public ``check_<name>`` functions that return one CheckResult."""
    from lionk.lyapunov.checks.verdicts import CheckResult

    out = set()
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if name.startswith("check_") and fn.__module__ == module.__name__:
            ret = inspect.signature(fn).return_annotation
            if ret in (CheckResult, "CheckResult"):
                out.add(name[len("check_"):])
    return out


def test_every_named_check_has_its_own_function():
    """Each check a run reports is computed by a function named after it, in the module of its mode."""
    from lionk.lyapunov.checks import discrete, ode
    from lionk.lyapunov.checks.discrete import check_simulated_discrete
    from lionk.lyapunov.checks.ode import check_ode

    K = kappa_mod.get("l1")
    f = objectives.get("quadratic", dim=4, seed=0)
    p = LionParams(0.02, 0.9, 0.99, 0.5)
    x0 = 0.5 * np.random.default_rng(0).standard_normal((2, 4))  # λx0 inside D: every check evaluates
    disc = {c.name for c in check_simulated_discrete(K, f, x0, lr=p.lr, weight_decay=p.weight_decay, steps=40)}
    odec = {c.name for c in check_ode(K, f, x0, p.to_ode(), t_end=0.5)}
    # `finite` is a scan (it also returns how many rows are usable), not a CheckResult function
    assert disc - {"finite"} == _check_functions(discrete)
    assert odec == _check_functions(ode)
    # one meaning per word: Δ is the dissipation, δ only a width
    assert "dissipation_discrete_nonnegative" in disc and "dissipation_nonnegative" in odec
    assert not any("delta" in n for n in disc | odec)


def test_record_type_names_are_distinct():
    """"Check" names the outcome of one run check and the claims of the paper, nothing else."""
    import lionk.lyapunov.checks.verdicts as verdicts
    import lionk.lyapunov.trajectory as trajectory
    import lionk.lyapunov.verify as verify
    import lionk.proofs.record as record

    names = [verdicts.CheckResult, verdicts.RunReport, verdicts.RunSetup, trajectory.FDComparison,
             verify.DiscreteTrials, record.TheoremCheck]
    assert len({c.__name__ for c in names}) == len(names)
    with_check = sorted(c.__name__ for mod in (verdicts, trajectory, verify, record)
                        for c in vars(mod).values() if inspect.isclass(c) and c.__module__ == mod.__name__
                        and "Check" in c.__name__)
    assert with_check == ["CheckResult", "TheoremCheck"]


def test_figure_modules_hold_data_and_drawing_and_use_the_ode():
    """One module per figure with its compute and draw; no Euler stand-in for the ODE remains."""
    from lionk import figures
    from lionk.figures import common

    for spec in figures.FIGURES.values():
        assert spec.compute.__module__ == spec.draw.__module__, spec.id
        assert spec.compute.__module__.startswith("lionk.figures.fig"), spec.id
    assert "force_euler" not in inspect.signature(common.flow).parameters
    K = kappa_mod.get("logcosh")
    f = objectives.get("quadratic", dim=2, seed=0)
    fl = common.flow(K, f, np.zeros((1, 2)), LionParams(0.01, 0.9, 0.99, 0.5).to_ode(), t_end=0.2, n_eval=5)
    assert fl.method == "ode" and fl.x.shape == (5, 1, 2)


def test_old_import_paths_are_aliases_of_the_new_ones():
    from lionk.lyapunov import checks, expression_kappa, functions, object_kappa, user_kappa
    from lionk.lyapunov.checks import discrete, ode, verdicts

    assert user_kappa.from_expression is expression_kappa.from_expression
    assert user_kappa.from_object is object_kappa.from_object
    assert functions.delta is functions.dissipation
    assert checks.check_discrete_run is discrete.check_discrete_run
    assert checks.check_ode is ode.check_ode
    assert checks.RunReport is verdicts.RunReport


def test_exit_codes_live_on_the_cli_side():
    """`lionk check`'s exit statuses are the CLI's; the library's records carry only the verdict."""
    from lionk.commands.check import EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_PASS, exit_code
    from lionk.lyapunov.checks.verdicts import CheckResult, RunReport, RunSetup

    setup = RunSetup({}, None, None, "", ())

    def rep(status, n=1):
        return RunReport((CheckResult("phase1_rate", "discrete", status, "", 1e-9, n_checked=n),), setup)

    assert (EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE) == (0, 1, 4)
    assert [exit_code(rep("pass")), exit_code(rep("fail")), exit_code(rep("skip", 0))] == [0, 1, 4]
    assert not hasattr(RunReport, "exit_code")
