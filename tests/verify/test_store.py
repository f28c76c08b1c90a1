"""The SQLite store: transactional writes, resume, refusal of foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from convcheck.verify.model import Evidence, Verdict
from convcheck.verify.store import StoreError, open_store

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


def test_paths_with_uri_characters_open_the_named_file_only(tmp_path: Path) -> None:
    """'#', '?' and '%' in a path are part of the file name, never URI syntax."""
    for name in ("thesis#2.db", "x%41.sqlite", "a?b.sqlite"):
        s = open_store(tmp_path / name)
        s.close()
        again = open_store(tmp_path / name, create=False)  # a real convcheck database reopens
        again.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == \
        ["a?b.sqlite", "thesis#2.db", "x%41.sqlite"]


def test_a_foreign_database_behind_a_uri_character_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "thesis#2.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE chapters (id INTEGER)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="another application"):
        open_store(other)
    assert other.read_bytes() == before and not (tmp_path / "thesis").exists()


def test_an_empty_database_of_another_application_is_not_adopted(tmp_path: Path) -> None:
    other = tmp_path / "app.sqlite"
    con = sqlite3.connect(other)
    con.execute("PRAGMA application_id = 12345")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match="not convcheck's"):
        open_store(other)
    assert other.read_bytes() == before


def test_an_older_schema_is_migrated_and_keeps_its_history(tmp_path: Path) -> None:
    from convcheck.verify import store as S

    db = tmp_path / "old.sqlite"
    s = open_store(db)
    run = s.new_run(seed=1, tier="fast", argv=["verify"])
    s.add_result(run, CLAIM, Evidence(claim="mdp.x", verdict=Verdict.HOLDS, summary="kept"), "HOLDS")
    s.conn.execute("DROP TABLE controls")
    s.conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    s.close()
    ro = open_store(db, readonly=True)  # an older schema reads as it is
    assert ro.results(run)[0].evidence.summary == "kept" and ro.control_outcomes() == {}
    ro.close()
    s = open_store(db)
    v = s.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(v) == S.SCHEMA_VERSION and s.results(run)[0].evidence.summary == "kept"
    s.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(S.SCHEMA_VERSION + 1),))
    s.close()
    with pytest.raises(StoreError, match="newer convcheck"):
        open_store(db)
