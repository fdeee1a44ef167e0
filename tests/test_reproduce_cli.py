"""``lionk reproduce``: the fast run (every claim must hold), bad input, interruption, atomic output."""

import json
import os
from pathlib import Path

import pytest

from lionk.cli import main
from lionk.proofs import registry, runner


def test_fast_run_every_claim_holds(tmp_path, reproduce_once):
    # through the installed entry point, shared with the docs examples making the same run (conftest)
    r = reproduce_once(["reproduce", "--fast", "--no-progress", "--out", str(tmp_path)], tmp_path)
    rc, out = r.returncode, r.stdout
    rep = json.loads((tmp_path / "report.json").read_text())
    failing = [(c["id"], [k["label"] for k in c["cases"] if not k["passed"]]) for c in rep["claims"]
               if c["verdict"] != "pass"]
    assert failing == []
    assert rc == 0 and rep["all_pass"] is True
    assert [c["id"] for c in rep["claims"]] == registry.ids()
    md = (tmp_path / "report.md").read_text()
    for c in registry.CLAIMS:
        assert f"## Claim {c.id}:" in md
        assert c.id in out
    assert "claims hold" in out
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_only_and_exit_code_on_failure(tmp_path, monkeypatch, capsys):
    # a claim that fails makes the command exit 1 (a verdict, not an error) and still writes the report
    real = registry.Claim.check

    def broken(self, fast=True, seed=0, variant="honest"):
        return real(self, fast=fast, seed=seed, variant=self.variants[1])

    monkeypatch.setattr(registry.Claim, "check", broken)
    rc = main(["reproduce", "--fast", "--no-progress", "--only", "8", "--out", str(tmp_path)])
    assert rc == 1
    rep = json.loads((tmp_path / "report.json").read_text())
    assert [c["id"] for c in rep["claims"]] == ["8"] and rep["all_pass"] is False
    assert "FAIL" in capsys.readouterr().out


def test_unknown_id_one_line_exit_2(tmp_path, capsys):
    rc = main(["reproduce", "--only", "2,42", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "unknown claim id '42'" in err
    assert not (tmp_path / "r").exists() or not os.listdir(tmp_path / "r")


def test_unwritable_out_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["reproduce", "--fast", "--only", "8", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "lionk: error:" in err


def test_read_only_out_exit_2(tmp_path, capsys, monkeypatch):
    # CI runs as root, for whom chmod 0500 does not block writes: simulate the read-only directory
    # at the permission check instead (the code path under test is the message and exit code)
    import lionk.atomic

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(lionk.atomic.os, "access", lambda p, mode: Path(p) != ro)
    rc = main(["reproduce", "--fast", "--only", "8", "--out", str(ro)])
    assert rc == 2 and "not writable" in capsys.readouterr().err
    assert os.listdir(ro) == []


def test_interrupted_run_writes_nothing_and_keeps_old_report(tmp_path, monkeypatch, capsys):
    (tmp_path / "report.json").write_text("old")

    def interrupt(self, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(registry.Claim, "check", interrupt)
    rc = main(["reproduce", "--fast", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 130 and err.count("\n") == 1 and "interrupted" in err
    assert (tmp_path / "report.json").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]


def test_interrupt_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    rep = runner.Report((registry.get("8").check(fast=True),), {"8": 0.1}, True, 0)
    real_write = Path.write_text

    def write_then_interrupt(self, text, *a, **kw):
        real_write(self, text[: len(text) // 2], *a, **kw)  # half a file on disk, then Ctrl-C
        if ".report.md." in self.name:
            raise KeyboardInterrupt
        return len(text)

    monkeypatch.setattr(Path, "write_text", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.write_report(rep, tmp_path)
    monkeypatch.setattr(Path, "write_text", real_write)
    assert os.listdir(tmp_path) == []


def test_list(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(c.title in out for c in registry.CLAIMS)


@pytest.mark.slow
def test_full_run_every_claim_holds(tmp_path, reproduce_once):
    rc = reproduce_once(["reproduce", "--no-progress", "--out", str(tmp_path)], tmp_path).returncode
    rep = json.loads((tmp_path / "report.json").read_text())
    failing = [(c["id"], [k["label"] for k in c["cases"] if not k["passed"]]) for c in rep["claims"]
               if c["verdict"] != "pass"]
    assert failing == [] and rc == 0
