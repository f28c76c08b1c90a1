"""The SQLite store: transactional writes, resume, refusal of foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from verify.model import Evidence, Verdict
from verify.store import StoreError, open_store

CLAIM = {"id": "mdp.x", "paper": "mdp", "locator": "L1"}


def test_round_trip_and_resume(tmp_path: Path) -> None:
    s = open_store(tmp_path / "db.sqlite")
    run = s.new_run(seed=3, tier="fast", argv=["verify"])
    ev = Evidence(claim="mdp.x", verdict=Verdict.HOLDS, summary="fine", tightness=0.5)
    s.add_result(run, CLAIM, ev, "HOLDS")
    s.close()
    s2 = open_store(tmp_path / "db.sqlite", create=False)
    assert s2.resolve_run("latest") == run
    assert s2.done_claims(run) == {"mdp.x"}
    (r,) = s2.results(run)
    assert r.matches and r.evidence.tightness == 0.5 and r.evidence.verdict == Verdict.HOLDS
    info = s2.run(run)
    assert info["seed"] == 3 and "packages" in info and "machine" in info


def test_foreign_files_are_refused_and_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StoreError, match="not an SQLite database"):
        open_store(text)
    assert text.read_text() == "hello"

    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        open_store(other)
    assert other.read_bytes() == before


def test_missing_database_and_unknown_run(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database"):
        open_store(tmp_path / "nope.sqlite", create=False)
    s = open_store(tmp_path / "db.sqlite")
    with pytest.raises(StoreError, match=r"no verify runs|holds no"):
        s.resolve_run("latest")
    with pytest.raises(StoreError, match="no run"):
        s.resolve_run("19990101")
