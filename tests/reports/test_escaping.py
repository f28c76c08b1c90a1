"""The HTML report escapes every text that reaches it, and writes only inside ``--out``."""

from __future__ import annotations

from pathlib import Path

from convcheck.reports.render import write_report
from convcheck.verify.model import Counterexample, Evidence, Verdict
from convcheck.verify.store import open_store

SCRIPT = "<script>alert(1)</script>"


def test_injected_markup_is_escaped_in_every_field(tmp_path: Path) -> None:
    s = open_store(tmp_path / "db.sqlite")
    run = s.new_run(seed=0, tier="fast", argv=["verify"])
    claim = {"id": "p.x", "paper": "p", "paper_title": SCRIPT, "locator": SCRIPT, "kind": "bound",
             "tier": "fast", "statement": SCRIPT, "reading": SCRIPT, "notes": SCRIPT, "source": SCRIPT,
             "authors": SCRIPT}
    ev = Evidence(claim="p.x", verdict=Verdict.REFUTED, summary=SCRIPT, error=SCRIPT,
                  worst_params={"k": SCRIPT}, metrics={SCRIPT: 1.0},
                  counterexample=Counterexample("p.x", {"a": SCRIPT}, SCRIPT, 2.0, None))
    s.add_result(run, claim, ev, "HOLDS")
    out = tmp_path / "rep"
    paths = write_report(s, run, out)
    html = paths["html"].read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_counterexample_files_stay_inside_the_report_folder(tmp_path: Path) -> None:
    s = open_store(tmp_path / "db.sqlite")
    run = s.new_run(seed=0, tier="fast", argv=["verify"])
    for cid in ("../escaped.x", "/tmp/abs.x", "ok.claim"):
        ev = Evidence(claim=cid, verdict=Verdict.REFUTED, summary="",
                      counterexample=Counterexample(cid, {"a": 1}, "d", 2.0, None))
        s.add_result(run, {"id": cid, "paper": "p"}, ev, "REFUTED")
    out = tmp_path / "rep"
    write_report(s, run, out)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert written == ["rep/counterexamples/ok.claim.json", "rep/results.json"], written
