"""The README's solver tutorial runs as written: the pymdptoolbox plug-in passes test-solver."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convcheck.verify.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tutorial_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mdptoolbox", reason="install the 'peers' extra to run the tutorial")
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"^convcheck (test-solver examples\.\S+ --family \S+)", readme, re.M)
    assert m, "the README tutorial command is missing"
    argv = [*m.group(1).split(), "--db", str(tmp_path / "t.sqlite"), "--report", str(tmp_path / "rep"), "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "substitute vs reference" in out and "speed ratio" in out
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "examples.pymdptoolbox_plugin" in html or "pymdptoolbox_plugin" in html
