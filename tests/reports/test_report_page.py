"""The report page: statements as MathML (no fallbacks for any claim), an overview first with
one row per claim, figures as standalone SVG files, findings grouped by grade."""

from __future__ import annotations

import re
from pathlib import Path

from convcheck.reports import math as M
from convcheck.reports.render import write_report
from convcheck.verify.claims import load_registry, select
from convcheck.verify.engine import evaluate
from convcheck.verify.store import open_store


def test_every_statement_and_reading_renders_to_mathml_without_fallback() -> None:
    before = len(M.FALLBACKS)
    n = 0
    for c in load_registry().values():
        for text in (c.statement, c.reading):
            if text:
                html = str(M.render(text))
                assert "<script" not in html
                n += 1
    assert n > 100
    assert M.FALLBACKS[before:] == [], M.FALLBACKS[before:]
    assert "<math" in str(M.render(r"\|TV - TV'\|_\infty \le \gamma \|V - V'\|_\infty"))
    assert str(M.render("no maths here")) == "no maths here"


def test_a_formula_that_does_not_parse_falls_back_to_code() -> None:
    before = len(M.FALLBACKS)
    html = str(M.render(r"x = \frac{1}{"))
    assert html.startswith("<code>") and len(M.FALLBACKS) == before + 1


def test_overview_rows_figures_and_findings(tmp_path: Path) -> None:
    s = open_store(tmp_path / "db.sqlite")
    run = s.new_run(seed=0, tier="fast", argv=["verify"])
    for c in select(["mdp.bellman_contraction", "mdp.performance_difference"]):
        s.add_result(run, c.to_json(), evaluate(c, seed=0), str(c.expect))
    paths = write_report(s, run, tmp_path / "rep")
    html = paths["html"].read_text()
    assert html.index('id="overview"') < html.index('id="paper-mdp"')
    assert set(re.findall(r'data-claim="([^"]+)"', html)) == {"mdp.bellman_contraction", "mdp.performance_difference"}
    svgs = list((tmp_path / "rep" / "figures").glob("*.svg"))
    assert svgs and all(p.read_text().startswith("<svg") for p in svgs)
    assert "<svg" not in html  # figures are linked files, the page stays small
    assert len(html) < 60_000
    run2 = s.new_run(seed=1, tier="fast", argv=["verify"])
    for c in select(["mdp.performance_difference"]):
        s.add_result(run2, c.to_json(), evaluate(c, seed=1), str(c.expect))
    html = write_report(s, run2, tmp_path / "rep2")["html"].read_text()
    assert "<b>Trend</b> (last 2 runs, oldest first): HOLDS" in html
