"""lionk figures: the registry, the data behind each figure, deterministic atomic output, the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from dynamics.errors import LionKError
from lionk import cli, figures
from lionk.figures import data

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
