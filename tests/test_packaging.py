"""One import root: the folders dynamics/, lyapunov/, proofs/ install as lionk.dynamics, ... (issue 10).

The checks run in subprocesses from a directory that is not the repository, as a user's project
would, and from the repository root, where the folders themselves are on ``sys.path``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"dynamics": "lionk/dynamics", "lyapunov": "lionk/lyapunov", "proofs": "lionk/proofs", "lionk": "lionk"}


def _py(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_lionk_subpackages_import_from_any_directory(tmp_path):
    out = _py("from lionk.dynamics import kappa; from lionk.lyapunov import functions; "
              "from lionk.proofs import registry; import lionk.dynamics as d; print(kappa.get('l1').name, d.__name__)",
              tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["l1", "lionk.dynamics"]


@pytest.mark.parametrize("name", ["dynamics", "lyapunov", "proofs"])
@pytest.mark.parametrize("where", ["elsewhere", "repository root"])
def test_top_level_names_are_not_importable(name, where, tmp_path):
    """``import dynamics`` fails everywhere, also where the folder is on sys.path (no second copy of a class)."""
    cwd = tmp_path if where == "elsewhere" else ROOT
    out = _py(f"import {name}", cwd)
    assert out.returncode != 0
    assert "ImportError" in out.stderr or "ModuleNotFoundError" in out.stderr
    if where == "repository root":
        assert f"import lionk.{name}, not {name}" in out.stderr


def test_one_class_object_per_concept_from_the_repository_root():
    """Two routes to the same class give the same object (a second copy would break isinstance)."""
    out = _py("from lionk.dynamics.kappa import Kappa as A; import lionk.dynamics.kappa as m; "
              "from lionk import dynamics; print(A is m.Kappa is dynamics.kappa.Kappa)", ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


@pytest.mark.slow
def test_wheel_holds_every_module_under_lionk_only(tmp_path):
    """A real (non-editable) wheel: only ``lionk/`` at the top, and every source module of the four folders.

    Catches a sub-package folder added to the repository but forgotten in pyproject's package list.
    """
    src = tmp_path / "src"  # a clean copy: an in-tree build/ folder would hide a missing package
    skip = {".git", ".venv", "venv", "build", "__pycache__", "lionk.egg-info"}
    shutil.copytree(ROOT, src, ignore=lambda d, names: [
        n for n in names if n in skip or (Path(d) == ROOT and n in {"figures", "reproduce-report", "benchmarks"})])
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("lionk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {n.split("/")[0] for n in names}
    assert tops == {"lionk", next(t for t in tops if t.endswith(".dist-info"))}
    expected = {
        f"{dest}/{p.relative_to(ROOT / folder).as_posix()}"
        for folder, dest in FOLDERS.items()
        for p in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add the sub-package to pyproject.toml): {missing[:5]}"
