"""The command line end to end (in-process): exit codes, JSON, reports, replay, compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcheck.verify.cli import main

FAST_SUBSET = ["mdp.performance_difference", "mdp.policy_evaluation_fixed_point"]


def test_list_json_has_the_required_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--paper", "mdp", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) >= 10
    for row in data:
        assert {"id", "paper", "source", "locator", "kind", "tier", "expect", "statement"} <= set(row)
        assert row["paper"] == "mdp"


def test_verify_report_json_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite")
    rep = tmp_path / "rep"
    out = tmp_path / "run.json"
    assert main(["verify", *FAST_SUBSET, "--db", db, "--report", str(rep), "--json", str(out), "-q"]) == 0
    for name in ("index.html", "summary.md", "results.json"):
        assert (rep / name).stat().st_size > 0
    html = (rep / "index.html").read_text()
    # self-contained: nothing is loaded from the network
    for needle in ('src="http', "src='http", 'href="http', "<link ", "@import"):
        assert needle not in html
    data = json.loads(out.read_text())
    assert set(data) == {"run", "results"}
    assert [r["claim"] for r in data["results"]] == sorted(FAST_SUBSET)
    for r in data["results"]:
        assert {"claim", "verdict", "expected", "matches_expectation", "evidence", "counterexample"} <= set(r)
        assert r["verdict"] == "HOLDS" and r["matches_expectation"] is True
    assert main(["verify", *FAST_SUBSET, "--db", db, "-q"]) == 0
    capsys.readouterr()
    assert main(["compare", "latest~1", "latest", "--db", db]) == 0
    assert "compare" in capsys.readouterr().out
    assert main(["report", "latest", "--out", str(tmp_path / "rep2"), "--db", db]) == 0
    assert main(["show", "mdp.performance_difference", "--db", db]) == 0
    assert "recent results" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["verify", "mdp.bellman_contractoin"], "did you mean: mdp.bellman_contraction"),
        (["verify", "--paper", "nonsense"], "unknown paper"),
        (["list", "nothing.like.this"], "no claim matches"),
        (["verify", "mdp.bellman_contraction", "--jobs", "0"], "--jobs"),
        (["verify", "mdp.bellman_contraction", "--solver", "nonsense"], "FAMILY=module:attr"),
        (["verify", "mdp.bellman_contraction", "--solver", "no_such_family=os:getcwd"], "unknown solver family"),
        (["verify", "mdp.bellman_contraction", "--solver", "policy_evaluation=no_such_mod:f"], "cannot import"),
    ],
)
def test_bad_usage_exits_2_with_a_clear_message(argv: list[str], message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main([*argv, *(["--db", str(tmp_path / "x.sqlite")] if argv[0] == "verify" else [])]))
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_foreign_database_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "data.sqlite"
    f.write_text("not a database")
    assert main(["verify", "mdp.performance_difference", "--db", str(f), "-q"]) == 2
    assert "not an SQLite database" in capsys.readouterr().err
    assert f.read_text() == "not a database"


def test_replay_malformed_and_valid_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["replay", str(bad)]) == 2
    bad.write_text(json.dumps({"hello": 1}))
    assert main(["replay", str(bad)]) == 2
    assert main(["replay", str(tmp_path / "missing.json")]) == 2
    # a parameter set on which the claim holds: replay says so and exits 1 (no violation)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"claim": "mdp.performance_difference", "params": {
        "S": 2, "A": 2, "gamma": 0.5, "density": 1.0, "reward_range": [0.0, 1.0], "mu": "uniform",
        "absorbing": 0, "reward_at_bounds": False, "theta_scale": 1.0, "tau": 1.0,
        "deterministic_rows": False, "seed": 0}}))
    capsys.readouterr()
    assert main(["replay", str(ok)]) == 1
    assert "holds" in capsys.readouterr().out


def test_replay_rejects_bad_parameters_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = Path(__file__).parents[2] / "theorems" / "incentive_design" / "counterexamples" / "incentive_design_eq15.json"
    data = json.loads(src.read_text())
    data["params"]["tau"] = -1.0  # a temperature the paper forbids
    bad = tmp_path / "bad_tau.json"
    bad.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "tau=-1.0" in err and "Traceback" not in err and "outside the declared space" in err
    data["params"]["tau"] = 0.05
    data["params"]["S"] = "three"  # not an integer: also refused before any computation
    bad.write_text(json.dumps(data))
    assert main(["replay", str(bad)]) == 2
    assert "S='three'" in capsys.readouterr().err


def test_planted_bug_gives_exit_1_and_a_replayable_counterexample(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db, rep = str(tmp_path / "c.sqlite"), tmp_path / "rep"
    code = main(["verify", "mdp.policy_evaluation_fixed_point", "--db", db, "--report", str(rep), "-q",
                 "--solver", "policy_evaluation=tests.meta.mdp_mutants:evaluation_discount_squared"])
    assert code == 1
    (cx,) = (rep / "counterexamples").glob("*.json")
    assert "REFUTED" in (rep / "summary.md").read_text()
    capsys.readouterr()
    # replay with the same buggy solver shows the violation (exit 0), with the reference it holds
    assert main(["replay", str(cx), "--solver",
                 "policy_evaluation=tests.meta.mdp_mutants:evaluation_discount_squared"]) == 0
    assert "VIOLATED" in capsys.readouterr().out
    assert main(["replay", str(cx)]) == 1


def test_interrupted_run_resumes_without_redoing_finished_claims(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from convcheck.verify.claims import select
    from convcheck.verify.engine import evaluate
    from convcheck.verify.store import open_store

    db = tmp_path / "r.sqlite"
    store = open_store(db)
    run = store.new_run(seed=0, tier="fast", argv=["verify"])
    done = select(["mdp.performance_difference"])[0]
    ev = evaluate(done, seed=0)
    ev.summary = "MARKER from the interrupted run"
    store.add_result(run, done.to_json(), ev, "HOLDS")
    store.finish_run(run, "interrupted")
    store.close()
    assert main(["verify", *FAST_SUBSET, "--db", str(db), "--resume", run[:12], "-q"]) == 0
    assert f"1 of {len(FAST_SUBSET)} claims already done" in capsys.readouterr().err
    results = {r.claim_id: r for r in open_store(db).results(run)}
    assert set(results) == set(FAST_SUBSET)
    assert results["mdp.performance_difference"].evidence.summary == "MARKER from the interrupted run"
