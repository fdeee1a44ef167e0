"""``lionk check``: a CI gate for a Lion-K variant (simulated) or a recorded training run.

Exit codes: 0 every check holds (PASS), 1 a check failed (the summary names the first failing step
and state), 2 usage error or bad input (one line on stderr), 4 INCONCLUSIVE: no check failed but a
core check (Lyapunov decrease, Phase 1) evaluated nothing, e.g. λx never entered D; the summary says
what to change. ``--allow-skipped`` turns 4 into 0. (3 is the CLI's internal-error code.) See
:mod:`lionk.lyapunov.checks` for what each check asserts and ``docs/recorded-runs.md`` for how to save
a run from PyTorch or numpy.
"""

from __future__ import annotations

import argparse
import math
import os
import warnings

import numpy as np

from lionk.errors import LionKError, LionKWarning
from lionk.dynamics.params import ODE_NAMES, LionParams, euler_lr, resolve_params
from lionk.lyapunov.checks.discrete import check_discrete_run, check_simulated_discrete, implicit_lr
from lionk.lyapunov.checks.ode import check_ode
from lionk.lyapunov.checks.verdicts import (FAIL, INCONCLUSIVE, MAX_ODE_TOL, MAX_TOL, ODE_TOL, PASS, TOL,
                                            TOL_FLOAT16, TOL_FLOAT32, RunReport, RunSetup, auto_tol)
from lionk.recorded import MAX_ELEMENTS, load_recorded_run, validate_npz
from lionk.user_objective import load_objective

from ..args import (add_kappa_args, add_param_args, check_output_file, finite_float, flag, kappa_from_args,
                    params_from_args, positive_int, seed_int, write_json)

#: Exit status of ``lionk check`` per verdict (2: usage error; 3: the CLI's internal-error code).
EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE = 0, 1, 4
#: Largest |λx0| (max over coordinates) of a simulated start that ``lionk check`` accepts. The
#: tolerances are absolute; the float64 rounding of one step is ~2.2e-16·|λx| (step_in_D recovers the
#: direction from λx_(t+1) − (1−θ)λx_t), i.e. 2e-10 at |λx| = 1e6, below TOL = 1e-9. Measured: no
#: false failure with |λx| up to ~3e6, step_in_D fails spuriously (2.3e-9) at ~3e7.
MAX_STATE = 1e6

#: defaults of simulate mode when no hyper-parameter is given (documented in --help)
DEFAULT_LR = 0.01
DEFAULT_WD = 0.1

def exit_code(report: RunReport) -> int:
    """The exit status of a report's verdict: :data:`EXIT_PASS`, :data:`EXIT_FAIL` or :data:`EXIT_INCONCLUSIVE`."""
    return {PASS: EXIT_PASS, FAIL: EXIT_FAIL, INCONCLUSIVE: EXIT_INCONCLUSIVE}[report.status]


EPILOG = """\
what is checked (simulate mode and --tol/--lipschitz on an .npz: absolute tolerances, a step passes when
bound - observed >= -tol; a recording directory or an .npz without them: per-coordinate rounding allowances):
  step_in_D            the update direction (x_{t+1} - (1-theta) x_t)/theta lies in D/lam
  phase1_rate          dist(lam x_{t+1}, D) <= (1-theta) dist(lam x_t, D)
                       (theta = lr*wd explicit, lr*wd/(1+lr*wd) implicit)
  stays_in_D           once lam x is in D (dist <= the data's rounding level, 1e-9 for float64, at most
                       tol) it never leaves (dist <= tol)
  constraint_reached   lam x in D at the last step (skipped while the Phase 1 bound is above tol)
  momentum_update      m_{t+1} = beta2 m_t - (1-beta2) g_t (recorded runs with grad)
  lyapunov_discrete    H_d(t+1) - H_d(t) - B_f(t) <= -eps*Delta_t (math file 5b; explicit decay with
                       lr is checked as implicit decay with lr/(1 - lr*wd), the same run)
  dissipation_discrete_nonnegative   eps*Delta_t >= 0 (fails for a non-convex K)
  lyapunov_discrete_L  5b as stated, with f values and --lipschitz (or a built-in objective's L)
  lyapunov_ode, dissipation_nonnegative, phase1_rate_ode, stays_in_D_ode   (--mode ode|both)

defaults: simulate mode uses lr=0.01, weight_decay=0.1 (beta1 0.9, beta2 0.99) unless given; a recorded run
needs the values used in training (--lr and --weight-decay, or --alpha --gamma --eps --lam with --lr).
absolute tolerances: --tol 1e-9 (an .npz with --tol/--lipschitz, float32 data: 1e-4, float16: 0.1; at most 0.1),
--ode-tol 1e-6 (at most 1e-2). They are check tolerances only: lam x counts as "in D" (where H is
evaluated) at the data's rounding level (dist <= min(tol, 1e-9 float64 / 1e-4 float32 / 0.1 float16);
ODE: min(ode-tol, 1e-6)), so a loose tolerance never counts states outside D as inside.

simulate mode accepts initial states with |lam x| <= 1e6 (beyond, float64 rounding of a step exceeds
the absolute tolerances) at which f and its gradient are finite; otherwise exit 2.
Without --init-scale or --x0 it starts half of the batch with lam x outside D (Phase 1 is
checked) and half inside D (the Lyapunov checks have steps to check from step 0).

exit status:
  0  PASS: no check failed and every core check (lyapunov_discrete / lyapunov_ode, phase1_rate /
     phase1_rate_ode of the modes run) evaluated at least one step
  1  FAIL: a check failed (first failing step and state printed)
  2  usage error or bad input (one line on stderr)
  4  INCONCLUSIVE: nothing failed, but a core check evaluated nothing (lam x never in D for a whole
     step, or beta1 >= beta2 for 5b); the verdict says what to change (more --steps / a longer
     --t-end, start inside D, beta1 < beta2). A CI gate must not count "nothing was checked" as a
     pass, so this is non-zero; it differs from 1 so a script can tell "a guarantee was violated"
     from "the run did not test it". --allow-skipped makes it exit 0 (e.g. a recorded run with
     beta1 >= beta2 where only Phase 1 applies).

examples:
  lionk check --kappa l1 --objective quadratic --lr 0.01 --weight-decay 0.5
  lionk check --kappa-expr "log(cosh(u))" --objective mypkg.losses:loss --dim 20 --mode both
  lionk check --kappa l1 --run run.npz --lr 1e-4 --beta1 0.9 --beta2 0.99 --weight-decay 0.1
  lionk check --kappa l1 --run run.lionrec          # a recording directory: hyper-parameters recorded

a recording directory, or an .npz without --tol/--lipschitz, is checked per tensor and per coordinate
(separable K) with rounding allowances
8*u*(|x_t|+|x_(t+1)|+lr) per coordinate (u: 2^-53 float64, 2^-24 float32, 2^-11 float16, 2^-8 bfloat16);
margins are printed in units of the allowance (>= 0 passes); a failure names the likely cause in the
optimizer (ascent, flipped momentum sign, coupled weight decay, swapped betas, the other decay scheme).
"""


def _tol_type(text: str, limit: float = MAX_TOL) -> float:
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    if v > limit:
        raise argparse.ArgumentTypeError(f"must be <= {limit:g} (a looser tolerance would let real violations "
                                         f"pass), got {text!r}")
    return v


def _ode_tol_type(text: str) -> float:
    return _tol_type(text, MAX_ODE_TOL)


def _pos_float(text: str) -> float:
    v = finite_float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return v


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="CI gate: check Lyapunov decrease and the constraint on a K (simulated) or a recorded run",
        description="Check that a Lion-K variant keeps the guarantees of the paper: Phase 1 (λx reaches "
                    "and stays in D = dom K*) and the Lyapunov inequality (math file §5b discrete, §4 ODE). "
                    "Either simulate a built-in or user objective (--objective) or check a run recorded "
                    "from your own training loop (--run FILE.npz, see docs/recorded-runs.md).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_kappa_args(p)
    add_param_args(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--objective", metavar="NAME|MODULE:FN",
                      help="simulate on a built-in objective (quadratic, logistic, ...) or a Python function "
                           "fn(x) -> (value, grad) for one state x, or an object with value/grad methods")
    what.add_argument("--run", metavar="FILE.npz|DIR",
                      help="check a recorded run: a recording directory (lionk.torch.Recorder, lionk.optax.Recorder; "
                           "read chunk by chunk, every tensor checked on its own) or an .npz with arrays x (T, ...), "
                           "m (T, ...), optional grad, f")
    s = p.add_argument_group("simulate mode (--objective)")
    s.add_argument("--mode", choices=["discrete", "ode", "both"], default="discrete",
                   help="simulate the discrete map, the ODE, or both (default discrete)")
    s.add_argument("--dim", type=lambda v: positive_int(v, 10**6), default=None,
                   help="dimension (default per built-in objective; required for MODULE:FN without --x0)")
    s.add_argument("--x0", metavar="FILE.npy", help="initial states, shape (B, *state) or state")
    s.add_argument("--batch", type=lambda v: positive_int(v, 10**4), default=4, help="seeded initial states (default 4)")
    s.add_argument("--steps", type=lambda v: positive_int(v, 10**5), default=300,
                   help="discrete steps (default 300, at most 100000)")
    s.add_argument("--init-scale", type=_pos_float, default=None,
                   help="std of all random initial states (default: half the batch with std 2/λ, so λx "
                        "starts outside D, half moved inside D)")
    s.add_argument("--seed", type=seed_int, default=0, help="seed of the initial states and objective data")
    s.add_argument("--t-end", type=_pos_float, default=None,
                   help="ODE horizon (default steps × lr, the time the discrete run covers)")
    s.add_argument("--ode-method", default=None, help="ODE solver method (default: lionk.dynamics.ode's choice for K)")
    s.add_argument("--ode-max-seconds", type=_pos_float, default=60.0,
                   help="wall-clock budget of the ODE integration (default 60); beyond it: exit 2")
    s.add_argument("--ode-tol", type=_ode_tol_type, default=ODE_TOL,
                   help=f"absolute tolerance of the ODE checks (default {ODE_TOL:g}, at most "
                        f"{MAX_ODE_TOL:g}; it must exceed the solver's error in H)")
    r = p.add_argument_group("recorded-run mode (--run)")
    r.add_argument("--tensor", action="append", default=None, metavar="NAME",
                   help="recording directory: check only this tensor (repeatable; default all)")
    r.add_argument("--approx-s", metavar="S|measure", default=None,
                   help="approximate ∇K (Muon's Newton–Schulz polar factor, any inexact ∇K): the applied direction "
                        "lies in s·D for this s >= 1, or 'measure' it per tensor from the recording; the checks then "
                        "run on x/s (bound: λx in s·D) and the §5b checks, which need the exact ∇K, are skipped. "
                        "Recording directories and .npz files")
    r.add_argument("--momentum-convention", choices=["torch", "paper"], default=None,
                   help="sign of the recorded m: 'torch' (default) = +EMA of gradients as PyTorch/optax Lion "
                        "store it (exp_avg, mu); 'paper' = the paper's m, which tracks -grad (a recording "
                        "directory says which; an .npz file defaults to torch)")
    c = p.add_argument_group("both modes")
    c.add_argument("--decay", choices=["explicit", "implicit"], default="explicit",
                   help="weight decay scheme of the run: explicit x(1 - lr*wd) as in Lion (default), or "
                        "implicit /(1 + lr*wd)")
    c.add_argument("--lipschitz", type=_pos_float, default=None,
                   help="Lipschitz constant L of grad f, for lyapunov_discrete_L (built-in objectives know theirs; "
                        "for an .npz run it selects the absolute-tolerance checks, which use its f)")
    c.add_argument("--tol", type=_tol_type, default=None,
                   help=f"absolute tolerance of the discrete checks (default {TOL:g}; at most {MAX_TOL:g}). For an "
                        f".npz run it selects the absolute-tolerance checks (default {TOL_FLOAT32:g} for float32 "
                        f"data, {TOL_FLOAT16:g} for float16), whose Euclidean distances grow with √n in rounding; "
                        "without it an .npz gets per-coordinate rounding allowances (any size)")
    c.add_argument("--allow-skipped", action="store_true",
                   help="exit 0 instead of 4 (INCONCLUSIVE) when nothing failed but a core check evaluated "
                        "nothing (the report still says INCONCLUSIVE)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON (atomically)")
    p.set_defaults(func=run)


def _discrete_params(args, *, recorded: bool):
    """(LionParams, ODEParams, notes) from either vocabulary."""
    ode_vocab = any(getattr(args, k, None) is not None for k in ("alpha", "gamma", "eps", "lam"))
    notes = []
    if recorded and ode_vocab:
        # the ODE parameters fix everything but the step: with --lr (the run's learning rate) they give
        # beta1 = 1 - eps*gamma, beta2 = 1 - gamma*lr, weight_decay = lam (math file §2)
        if args.lr is None or any(getattr(args, k) is not None for k in ("beta1", "beta2", "weight_decay")):
            raise LionKError("a recorded run in the ODE vocabulary needs --alpha --gamma --eps --lam and --lr (the "
                             "run's step; the ODE parameters do not determine it), and no --beta1/--beta2/--weight-decay")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LionKWarning)
            ode = resolve_params({k: getattr(args, k) for k in ODE_NAMES}, spell=flag).ode
            lp = ode.to_discrete(lr=args.lr)
        notes.append(f"lr = {lp.lr:g} with this ODE gives beta1 = 1 - eps*gamma = {lp.beta1:g}, "
                     f"beta2 = 1 - gamma*lr = {lp.beta2:g}, weight_decay = lam (math file §2)")
        notes.extend(str(w.message) for w in caught if issubclass(w.category, LionKWarning))
        return lp, ode, notes
    if recorded:
        missing = [f for f, k in (("--lr", "lr"), ("--weight-decay", "weight_decay")) if getattr(args, k) is None]
        if missing:
            raise LionKError(f"a recorded run needs {' and '.join(missing)} (the values used in training)")
    elif not ode_vocab:
        if args.lr is None:
            args.lr = DEFAULT_LR
        if args.weight_decay is None:
            args.weight_decay = DEFAULT_WD
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LionKWarning)
        lp, ode = params_from_args(args)
        if lp is None:
            lr = euler_lr(ode, DEFAULT_LR)
            lp = ode.to_discrete(lr=lr)
            notes.append(f"the discrete run uses lr = {lr:g}, the Euler step of this ODE (math file §2)")
    notes.extend(str(w.message) for w in caught if issubclass(w.category, LionKWarning))
    return lp, ode, notes


def _load_x0(path, shape, K):
    if not os.path.isfile(path):
        raise LionKError(f"--x0 file {path!r} does not exist")
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise LionKError(f"cannot read --x0 {path!r} as a .npy array: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not isinstance(a, np.ndarray):
        raise LionKError(f"--x0 {path!r} must be a .npy array, not an .npz archive")
    if a.dtype.kind not in "fiu":
        raise LionKError(f"--x0 {path!r} has dtype {a.dtype}, expected real numbers")
    if a.size > MAX_ELEMENTS:
        raise LionKError(f"--x0 {path!r} has {a.size:.3g} elements, more than {MAX_ELEMENTS:.3g}")
    a = a.astype(float)
    if not np.all(np.isfinite(a)):
        raise LionKError(f"--x0 {path!r} contains NaN or inf")
    if shape is not None:
        if a.shape == tuple(shape):
            a = a[None]
        if a.shape[1:] != tuple(shape):
            raise LionKError(f"--x0 has shape {a.shape}; the objective's states have shape {tuple(shape)}")
    else:
        if a.ndim < K.event_ndim:
            raise LionKError(f"--x0 has shape {a.shape}, too few axes for K={K.name}")
        if a.ndim == K.event_ndim:
            a = a[None]
    return a


def run(args) -> int:
    check_output_file(args.json)
    K = kappa_from_args(args)  # --kappa mymodule:MyK from the current directory (lionk.importer)
    from lionk.lyapunov.checks.common import require_exact_projection

    require_exact_projection(K)
    recorded = args.run is not None
    if recorded and os.path.isdir(args.run):
        return _run_recording(args, K)
    if args.approx_s is not None and not recorded:
        raise LionKError("--approx-s applies to a recorded run (--run DIR or FILE.npz)")
    if recorded and (args.approx_s is not None or (args.tol is None and args.lipschitz is None)):
        return _run_npz(args, K)  # an .npz through the recording checks (per-coordinate allowances)
    if args.tensor:
        raise LionKError("--tensor applies to a recording directory (lionk.torch.Recorder, lionk.optax.Recorder)")
    if args.momentum_convention is None:
        args.momentum_convention = "torch"
    lp, ode, notes = _discrete_params(args, recorded=recorded)
    lam = lp.weight_decay
    if lam <= 0:
        raise LionKError("weight decay must be > 0 (--weight-decay or --lam): without it there is no constraint "
                         "(Phase 1) and no Lyapunov function (H divides by λ)")
    if args.decay == "explicit" and lp.lr * lam >= 1:
        raise LionKError(f"lr*weight_decay = {lp.lr * lam:g} >= 1 with explicit decay: λx is not contracted; "
                         "the guarantees need lr*weight_decay < 1")
    if args.decay == "explicit":
        notes.append(f"explicit decay with lr = {lp.lr:g} is implicit decay with lr = "
                     f"{implicit_lr(lp, 'explicit'):.6g} (same run; math file §5b)")
    disc = {"lr": lp.lr, "beta1": lp.beta1, "beta2": lp.beta2, "weight_decay": lam, "decay": args.decay}
    ode_d = {"alpha": ode.alpha, "gamma": ode.gamma, "eps": ode.eps, "lam": ode.lam, "c": ode.c}

    if recorded:
        notes.append("absolute tolerances (--tol/--lipschitz given): distances to D are Euclidean over all coordinates "
                     "and the rounding of a float32/bfloat16 run grows with their number; leave out --tol and "
                     "--lipschitz for the per-coordinate rounding allowances (any size)")
        rr = load_recorded_run(args.run, K, args.momentum_convention)
        tol = auto_tol(rr.dtype) if args.tol is None else args.tol
        T = rr.x.shape[0]
        source = (f"recorded run {args.run} ({T} rows, parameter shape {tuple(rr.x.shape[2:])}, {rr.dtype}, "
                  f"momentum convention {rr.convention}; "
                  + ("grad given" if rr.grad is not None else "grad inferred from m")
                  + (", f given" if rr.f is not None else "") + ")")
        if args.tol is None:
            notes.append(f"tolerance {tol:g} (default for {rr.dtype} data)")
        cs = check_discrete_run(K, rr.x, rr.m, lr=lp.lr, beta1=lp.beta1, beta2=lp.beta2, weight_decay=lam,
                                       decay=args.decay, grad=rr.grad, f=rr.f, L=args.lipschitz, tol=tol,
                                       member_tol=min(tol, auto_tol(rr.dtype)), mode="recorded",
                                       convention_hint=rr.convention)
        ode_d = None
    else:
        cs, source = _simulate(args, K, lp, ode, notes)
    report = RunReport(tuple(cs), RunSetup(K.describe(), disc, ode_d, source, tuple(notes)))
    print(report.summary())
    if args.json:
        write_json(args.json, report.to_dict())
    code = exit_code(report)
    if code == EXIT_INCONCLUSIVE and args.allow_skipped:
        return EXIT_PASS
    return code


def _run_npz(args, K) -> int:
    """An ``.npz`` run through the per-coordinate checks of a recording (:func:`_run_recording`): the
    hyper-parameters from the command line in either vocabulary, the betas' defaults as for simulate."""
    if args.tensor:
        raise LionKError("--tensor applies to a recording directory (lionk.torch.Recorder, lionk.optax.Recorder)")
    if args.tol is not None:
        raise LionKError("--tol does not apply with --approx-s: the tolerances are per-coordinate rounding "
                         "allowances computed from the data and its dtype")
    lp, _ode, notes = _discrete_params(args, recorded=True)
    headers = validate_npz(args.run, K)  # the file's arrays, shapes and dtypes, before reading it (one line each)
    for k in ("alpha", "gamma", "eps", "lam"):
        setattr(args, k, None)
    args.lr, args.beta1, args.beta2, args.weight_decay = lp.lr, lp.beta1, lp.beta2, lp.weight_decay
    if "f" in headers:
        notes.append("the array f is not used: the per-coordinate form of §5b needs no f (--lipschitz selects the "
                     "absolute-tolerance checks, which use f for lyapunov_discrete_L)")
    return _run_recording(args, K, notes=tuple(notes))


def _run_recording(args, K, notes: tuple = ()) -> int:
    """A recording directory: checked chunk by chunk, tensor by tensor, with per-coordinate rounding
    allowances (:mod:`lionk.lyapunov.recorded`); hyper-parameters from the recording unless given."""
    from lionk.lyapunov import recorded as rec_checks
    from lionk.recording import RecordingReader
    from lionk.lyapunov.checks.common import consistency_check

    bad = consistency_check(K, "recorded")  # a user's K whose methods disagree: FAIL before reading the run
    if bad is not None:
        print(f"FAIL: {bad.name}: {bad.detail}")
        return EXIT_FAIL

    if any(getattr(args, k, None) is not None for k in ("alpha", "gamma", "eps", "lam")):
        raise LionKError("a recording directory is checked with --lr/--beta1/--beta2/--weight-decay (or the values "
                         "it recorded), not the ODE names --alpha/--gamma/--eps/--lam")
    if args.tol is not None:
        raise LionKError("--tol does not apply to a recording directory: its tolerances are per-coordinate rounding "
                         "allowances computed from the data and its dtype")
    if os.path.isdir(args.run):
        reader = RecordingReader(args.run)
    else:
        reader = RecordingReader.from_npz(args.run, convention=args.momentum_convention or "torch")
    rep = rec_checks.check_recording(reader, K, lr=args.lr, beta1=args.beta1, beta2=args.beta2,
                                     weight_decay=args.weight_decay, decay=args.decay,
                                     convention=args.momentum_convention, tensors=args.tensor,
                                     approx_s=args.approx_s)
    if notes:
        import dataclasses
        rep = dataclasses.replace(rep, notes=tuple(notes) + tuple(rep.notes))
    print(rep.summary())
    if args.json:
        write_json(args.json, rep.to_dict())
    code = {PASS: EXIT_PASS, FAIL: EXIT_FAIL}.get(rep.status, EXIT_INCONCLUSIVE)  # exit codes: CLI side
    if code == EXIT_INCONCLUSIVE and args.allow_skipped:
        return EXIT_PASS
    return code


def _simulate(args, K, lp: LionParams, ode, notes):
    seed = args.seed
    if args.x0 is not None and ":" in args.objective and args.dim is None:
        # shape of a user's state from the x0 file
        peek = _load_x0(args.x0, None, K)
        f = load_objective(args.objective, shape=peek.shape[1:], seed=seed)
    else:
        f = load_objective(args.objective, dim=args.dim, seed=seed)
    if (K.event_ndim == 2) != (len(f.shape) == 2):
        raise LionKError(f"K={K.name} works on {'matrices' if K.event_ndim == 2 else 'vectors'}, "
                         f"objective {f.name} on shape {f.shape}")
    K.check_state(np.zeros((1,) + tuple(f.shape)), "a state of the objective")
    if args.x0 is not None:
        x0 = _load_x0(args.x0, f.shape, K)
        origin = f"{x0.shape[0]} start(s) from {args.x0}"
    else:
        scale = args.init_scale if args.init_scale is not None else 2.0 / lp.weight_decay
        rng = np.random.default_rng(seed)
        size = args.batch * int(np.prod(f.shape))
        if size > MAX_ELEMENTS:
            raise LionKError(f"{args.batch} states of shape {f.shape} are too many; lower --batch or --dim")
        x0 = scale * rng.standard_normal((args.batch,) + tuple(f.shape))
        origin = f"{args.batch} seeded start(s) (seed {seed}, scale {scale:g})"
        if args.init_scale is None and args.batch > 1:
            # odd states: λx moved halfway from a point c of D to its projection onto D: c + (P_D(λx) − c)/2
            # is in D (convex), away from the boundary where ∇K* may blow up. c is not assumed to be 0
            # (log-sum-exp: D = simplex): lionk.lyapunov.counterexample.dual_interior says where D is.
            # The Lyapunov checks then have steps from step 0 on, Phase 1 is checked on the rest
            from lionk.lyapunov.counterexample import dual_interior

            lam = lp.weight_decay
            x0[1::2] = np.asarray(dual_interior(K, f.shape).place(K, lam * x0[1::2], 0.5), dtype=float) / lam
            inside = K.dual_dist(lam * x0[1::2]) <= TOL
            origin = (f"{args.batch} seeded start(s) (seed {seed}, std {scale:g}; {int(inside.sum())} of them "
                      "moved inside D)")
    biggest = float(np.max(np.abs(lp.weight_decay * x0))) if x0.size else 0.0
    if not math.isfinite(biggest):
        raise LionKError("the initial states are not finite (lower --init-scale, or fix --x0)")
    if biggest > MAX_STATE:
        raise LionKError(f"the initial states reach |λx| = {biggest:.3g} > {MAX_STATE:g}: float64 rounding "
                         "would exceed the absolute tolerances there; lower --init-scale (or rescale --x0)")
    with np.errstate(all="ignore"):
        f0 = np.asarray(f.value(x0), dtype=float)
        g0 = np.asarray(f.grad(x0), dtype=float)
    if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(g0))):
        raise LionKError(f"objective {f.name} is not finite at the initial states (f or its gradient overflows); "
                         "lower --init-scale")
    tol = TOL if args.tol is None else args.tol
    cs = []
    parts = []
    if args.mode in ("discrete", "both"):
        advice = ("λx is never in D at both ends of a step: raise --steps to about {steps} or more, or start inside D ("
                  + ("omit --init-scale: half the default starts are inside D, or " if args.init_scale is not None
                     else "") + "--x0 FILE with λx in D)")
        cs += check_simulated_discrete(K, f, x0, lr=lp.lr, beta1=lp.beta1, beta2=lp.beta2,
                                              weight_decay=lp.weight_decay, decay=args.decay, steps=args.steps,
                                              tol=tol, L=args.lipschitz, advice=advice)
        parts.append(f"{args.steps} discrete steps ({args.decay} decay)")
        if callable(getattr(f, "value", None)) and getattr(f, "name", None) is not None:
            # where the run ends relative to the problem it solves (information, not a check)
            from lionk.dynamics import discrete

            from ._reference import reference_distance

            with np.errstate(all="ignore"):
                end = discrete.simulate(K, f.grad, x0, lr=lp.lr, betas=lp.betas, weight_decay=lp.weight_decay,
                                        steps=args.steps, decay=args.decay, record_every=args.steps)
            if np.all(np.isfinite(end.x_final)):
                notes.append("not a check: " + reference_distance(K, f, end.ode, end.x_final)[1].strip())
    if args.mode in ("ode", "both"):
        ode.require_lyapunov()
        t_end = args.t_end if args.t_end is not None else args.steps * lp.lr
        if not math.isfinite(t_end) or t_end <= 0:
            raise LionKError(f"bad ODE horizon {t_end}")
        if x0.shape[0] * int(np.prod(f.shape)) > 5000:
            raise LionKError(f"the ODE check integrates {x0.shape[0]} x {int(np.prod(f.shape))} coordinates; "
                             "keep it <= 5000 (lower --batch or --dim) or use --mode discrete")
        if args.ode_method is not None:
            from lionk.dynamics import ode as ode_mod

            if args.ode_method not in ode_mod.METHODS:
                raise LionKError(f"unknown --ode-method {args.ode_method!r}; one of {', '.join(ode_mod.METHODS)}")
        cs += check_ode(K, f, x0, ode, t_end=t_end, tol=args.ode_tol, method=args.ode_method,
                               max_seconds=args.ode_max_seconds)
        parts.append(f"ODE on [0, {t_end:g}]")
    source = f"objective {f.name} {tuple(f.shape)}, {origin}, " + " and ".join(parts)
    return cs, source
