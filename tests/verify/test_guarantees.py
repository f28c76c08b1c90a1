"""The README's guarantees: what survives which fault, and what a bad input gets.

Each test reproduces a case found by a reliability probe of the command line and the store.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcheck.verify.cli import main
from convcheck.verify.store import open_store

CHEAP = ["mdp.bellman_contraction", "mdp.policy_gradient_direct"]


def _main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse usage errors
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_resume_restores_seed_tier_selection_and_refuses_conflicts(tmp_path: Path) -> None:
    db = str(tmp_path / "r.sqlite")
    code, _, _ = _main(["verify", *CHEAP, "--seed", "3", "--db", db, "-q"])
    assert code == 0
    s = open_store(db)
    run = s.resolve_run("latest")
    s.conn.execute("DELETE FROM results WHERE claim_id = ?", (CHEAP[1],))
    s.conn.execute("UPDATE runs SET status = 'interrupted' WHERE id = ?", (run,))
    s.close()
    code, _, err = _main(["verify", "--resume", run, "--db", db, "-q"])
    assert code == 0, err
    assert "seed 3" in err and "1 of 2 claims already done" in err
    s = open_store(db, readonly=True)
    rs = {r.claim_id: r for r in s.results(run)}
    assert set(rs) == set(CHEAP) and rs[CHEAP[1]].evidence.seed == 3
    assert s.run(run)["status"] == "finished"
    s.close()
    code, _, err = _main(["verify", "--resume", run, "--seed", "4", "--db", db, "-q"])
    assert code == 2 and "--seed 4 conflicts" in err and "--seed 3" in err


@pytest.mark.parametrize("argv, message", [
    (["verify", *CHEAP, "--seed", str(2**63)], "--seed must lie in"),
    (["verify", *CHEAP, "--time-limit", "nan"], "--time-limit must be a finite positive"),
    (["verify", *CHEAP, "--json", "no/such/dir/x.json"], "does not exist"),
    (["verify", "d2d*", "--paper", "mdp"], "no claims matching d2d* of paper 'mdp'"),
])
def test_bad_options_fail_before_the_run(argv: list[str], message: str, tmp_path: Path) -> None:
    code, _, err = _main([*argv, "--db", str(tmp_path / "x.sqlite")])
    assert code == 2 and message in err, err
    assert err.count("\n") == 1, err


def test_report_into_an_existing_file_fails_before_the_run(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("keep")
    code, _, err = _main(["verify", *CHEAP, "--report", str(f), "--db", str(tmp_path / "x.sqlite")])
    assert code == 2 and "not a folder" in err and f.read_text() == "keep"


def test_read_only_commands_never_write(tmp_path: Path) -> None:
    db = tmp_path / "ro.sqlite"
    assert _main(["verify", *CHEAP, "--db", str(db), "-q"])[0] == 0
    assert _main(["verify", *CHEAP, "--db", str(db), "-q"])[0] == 0
    assert not list(tmp_path.glob("ro.sqlite-*"))  # verify closed (checkpointed) the database
    before = db.read_bytes()
    assert _main(["show", CHEAP[0], "--db", str(db)])[0] == 0
    assert _main(["compare", "latest~1", "latest", "--db", str(db)])[0] in (0, 1)
    assert _main(["report", "latest", "--db", str(db), "--out", str(tmp_path / "rep")])[0] == 0
    assert db.read_bytes() == before
    assert not list(tmp_path.glob("ro.sqlite-*"))


def test_sigterm_interrupts_like_ctrl_c_and_the_run_resumes(tmp_path: Path) -> None:
    db = str(tmp_path / "t.sqlite")
    p = subprocess.Popen([sys.executable, "-m", "convcheck", "verify", "mdp", "--db", db, "-q"],
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the run exists
        time.sleep(0.5)
        if Path(db).exists():
            try:
                if open_store(db, readonly=True).runs(1):
                    break
            except Exception:  # noqa: BLE001 - being created
                pass
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 143, err
    assert "Resume with: convcheck verify --resume" in err
    s = open_store(db, readonly=True)
    assert s.runs(1)[0]["status"] == "interrupted"


def test_a_run_whose_process_is_gone_shows_as_interrupted(tmp_path: Path) -> None:
    s = open_store(tmp_path / "g.sqlite")
    run = s.new_run(seed=0, tier="fast", argv=["verify"])
    info = json.loads(s.conn.execute("SELECT info FROM runs WHERE id = ?", (run,)).fetchone()[0])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info["pid"] = dead.pid
    s.conn.execute("UPDATE runs SET info = ? WHERE id = ?", (json.dumps(info), run))
    assert s.run(run)["status"] == "interrupted"


# -- fuzzing: arbitrary files never produce a traceback ---------------------------------------

FUZZ = settings(max_examples=int(os.environ.get("CONVCHECK_FUZZ_EXAMPLES", "25")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12)


def _quiet(code: int, err: str) -> bool:
    """Exit 0, 1 or 2 with at most one line on stderr and no traceback."""
    return code in (0, 1, 2) and "Traceback" not in err and err.count("\n") <= 1


@FUZZ
@given(blob=st.binary(max_size=300))
def test_replay_of_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    f = tmp_path_factory.mktemp("fz") / "cx.json"
    f.write_bytes(blob)
    code, _, err = _main(["replay", str(f)])
    assert _quiet(code, err), (code, err)
    assert code != 0  # arbitrary bytes are never a counterexample that replays


@FUZZ
@given(doc=JSON, claim=st.sampled_from(["mdp.bellman_contraction", "nope.x", 3, None]))
def test_replay_of_arbitrary_json(tmp_path_factory: pytest.TempPathFactory, doc: object, claim: object) -> None:
    f = tmp_path_factory.mktemp("fz") / "cx.json"
    payload = {"claim": claim, "params": doc} if isinstance(doc, dict) else doc
    f.write_text(json.dumps(payload))
    code, _, err = _main(["replay", str(f)])
    assert _quiet(code, err), (code, err)


@FUZZ
@given(blob=st.binary(max_size=600), sqlite_header=st.booleans())
def test_commands_on_arbitrary_database_files(tmp_path_factory: pytest.TempPathFactory, blob: bytes,
                                              sqlite_header: bool) -> None:
    d = tmp_path_factory.mktemp("fz")
    f = d / "db.sqlite"
    data = (b"SQLite format 3\x00" + blob) if sqlite_header else blob
    f.write_bytes(data)
    for argv in (["show", "mdp.bellman_contraction"], ["report", "latest", "--out", str(d / "rep")],
                 ["compare", "latest~1", "latest"]):
        code, _, err = _main([*argv, "--db", str(f)])
        assert _quiet(code, err), (argv, code, err)
    assert f.read_bytes() == data


def test_a_foreign_database_is_never_modified_by_any_command(tmp_path: Path) -> None:
    f = tmp_path / "app.sqlite"
    con = sqlite3.connect(f)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    data = f.read_bytes()
    for argv in (["verify", CHEAP[0], "-q"], ["show", CHEAP[0]], ["compare", "latest~1", "latest"],
                 ["report", "latest", "--out", str(tmp_path / "rep")]):
        code, _, err = _main([*argv, "--db", str(f)])
        assert (code == 2 and "untouched" in err) or code == 2, (argv, err)
    assert f.read_bytes() == data
