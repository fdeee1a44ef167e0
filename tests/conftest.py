"""Shared fixtures: seeded random states for every catalogue K."""

import numpy as np
import pytest

from lionk.dynamics import kappa as kappa_mod

#: catalogue entries with the parameters the tests use (each class's ``example_params``, non-default where
#: it matters): one list, :func:`lionk.dynamics.kappa.catalogue_cases`, used everywhere
KAPPA_CASES = [(c.name, c.params) for c in kappa_mod.catalogue_cases()]


def kappa_id(case):
    name, params = case
    return name + "".join(f"-{k}{v}" for k, v in params.items())


@pytest.fixture(params=KAPPA_CASES, ids=[kappa_id(c) for c in KAPPA_CASES])
def K(request):
    name, params = request.param
    return kappa_mod.get(name, **params)


def random_states(K, n=64, seed=0, scale=2.0):
    """n random states of the right event shape: (n, 6) vectors or (n, 3, 2) matrices."""
    rng = np.random.default_rng(seed)
    shape = (n, 3, 2) if K.event_ndim == 2 else (n, 6)
    return scale * rng.standard_normal(shape)


# ---------------------------------------------------------------------------------------------
# `lionk reproduce` runs shared by the tests that make the same one (README, docs, test_reproduce_cli)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def reproduce_once(tmp_path_factory):
    """``run(args, cwd)``: run ``lionk <args>`` for a ``reproduce`` command, once per test session.

    The full and the fast reproductions are each run by several tests (the README's main command, the
    command page, the tutorial, tests/test_reproduce_cli.py); each costs minutes. Identical invocations
    up to ``--out DIR`` and ``--no-progress`` (where the report goes and whether a progress bar is
    drawn; not what is computed) are run once through the installed ``lionk`` entry point; the others
    get its exit code and output, and its report files copied into their own ``--out`` directory
    (default ``reproduce-report``), so that what a later example reads is there. The first run holds
    a file lock, so pytest-xdist workers share it too. Returns a ``CompletedProcess``.
    """
    import fcntl
    import hashlib
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the session's shared dir
    lionk = Path(sys.executable).with_name("lionk")

    def split(args):
        args, out = list(args), "reproduce-report"
        if "--out" in args:
            i = args.index("--out")
            out = args[i + 1]
            del args[i:i + 2]
        return [a for a in args if a != "--no-progress"], out

    def run(args, cwd, env=None, timeout=3600):
        assert args and args[0] == "reproduce", args
        key_args, out = split(args)
        key = hashlib.sha256(json.dumps(key_args).encode()).hexdigest()[:16]
        cache = root / f"reproduce-{key}"
        with open(root / f"reproduce-{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (cache / "rc").exists():
                shutil.rmtree(cache, ignore_errors=True)
                (cache / "out").mkdir(parents=True)
                r = subprocess.run([str(lionk), *key_args, "--no-progress", "--out", str(cache / "out")],
                                   cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
                (cache / "stdout").write_text(r.stdout)
                (cache / "stderr").write_text(r.stderr)
                (cache / "rc").write_text(str(r.returncode))
        rc = int((cache / "rc").read_text())
        stdout, stderr = (cache / "stdout").read_text(), (cache / "stderr").read_text()
        if "--list" not in key_args:
            dest = Path(cwd) / out
            dest.mkdir(parents=True, exist_ok=True)
            for p in (cache / "out").iterdir():
                shutil.copy2(p, dest / p.name)
        return subprocess.CompletedProcess([str(lionk), *args], rc, stdout, stderr)

    return run
