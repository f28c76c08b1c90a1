"""Write a run's report: ``index.html`` (self-contained), ``summary.md``, ``results.json``
and one replayable JSON file per counterexample under ``counterexamples/``."""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from convcheck.reports.figures import figure_svg
from convcheck.reports.math import render as math_html
from convcheck.verify.store import Store, StoredResult


def paper_titles(results: list[StoredResult]) -> dict[str, str]:
    """Paper key -> title, in the registry's discovery order: the title stored with the
    results, else the discovered paper's, else the key."""
    from convcheck.verify.claims import PAPERS, load_registry

    stored: dict[str, str] = {}
    for r in results:
        title = r.claim.get("paper_title")
        if title:
            stored.setdefault(r.paper, str(title))
    load_registry()
    keys = [k for k in PAPERS if any(r.paper == k for r in results)]
    keys += [k for k in dict.fromkeys(r.paper for r in results) if k not in keys]
    return {k: stored.get(k) or (PAPERS[k].title if k in PAPERS else k) for k in keys}


_env = Environment(loader=PackageLoader("convcheck.reports", "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
                   trim_blocks=True, lstrip_blocks=True)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


_env.filters["fmt"] = _fmt
_env.filters["math"] = math_html


def _figure_files(out: Path, results: list[StoredResult]) -> dict[str, list[str]]:
    """Each figure as a standalone SVG under ``figures/`` (for papers and slides); the page
    links them, so it stays small."""
    paths: dict[str, list[str]] = {}
    fdir = out / "figures"
    for r in results:
        if not r.evidence.figures or not CLAIM_ID.fullmatch(r.claim_id):
            continue
        fdir.mkdir(parents=True, exist_ok=True)
        for i, fig in enumerate(r.evidence.figures):
            p = fdir / f"{r.claim_id}-{i + 1}.svg"
            p.write_text(figure_svg(fig.to_json()))
            paths.setdefault(r.claim_id, []).append(str(p.relative_to(out)))
    return paths


def _findings(results: list[StoredResult]) -> list[tuple[str, list[StoredResult]]]:
    """REFUTED results grouped by the claim's finding grade."""
    order = ("typo", "substantive", "reading", None)
    groups: dict[str | None, list[StoredResult]] = {g: [] for g in order}
    for r in results:
        if r.verdict == "REFUTED":
            g = r.claim.get("finding")
            groups.setdefault(g if g in order else None, []).append(r)
    return [(g or "ungraded", rs) for g, rs in groups.items() if rs]


def results_json(store: Store, run_id: str) -> dict[str, Any]:
    """The machine-readable form of a run (also what ``verify --json`` writes)."""
    run = store.run(run_id)
    out = []
    for r in store.results(run_id):
        ev = r.evidence.to_json()
        out.append({
            "claim": r.claim_id,
            "paper": r.paper,
            "locator": r.claim.get("locator"),
            "kind": r.claim.get("kind"),
            "verdict": r.verdict,
            "expected": r.expected,
            "matches_expectation": r.matches,
            "evidence": ev,
            "counterexample": ev.get("counterexample"),
        })
    return {"run": run, "results": out}


#: a claim id as the registry makes them: dotted identifiers (ids read from a database are
#: untrusted; anything else would let a file name escape the report folder)
CLAIM_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


def _counterexample_files(out: Path, results: list[StoredResult]) -> dict[str, str]:
    paths = {}
    cdir = out / "counterexamples"
    for r in results:
        cx = r.evidence.counterexample
        if cx is None or not CLAIM_ID.fullmatch(r.claim_id):
            continue
        cdir.mkdir(parents=True, exist_ok=True)
        p = cdir / f"{r.claim_id}.json"
        p.write_text(json.dumps(cx.to_json(), indent=1))
        paths[r.claim_id] = str(p.relative_to(out))
    return paths


def _context(store: Store, run_id: str, cx_paths: dict[str, str], fig_paths: dict[str, list[str]]
             ) -> dict[str, Any]:
    """What the templates render for the run ``run_id``."""
    run = store.run(run_id)
    results = store.results(run_id)
    controls = store.control_outcomes() if hasattr(store, "control_outcomes") else {}
    by_paper: dict[str, list[StoredResult]] = defaultdict(list)
    for r in results:
        by_paper[r.paper].append(r)
    mismatches = [r for r in results if not r.matches]
    return {
        "run": run,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["started"])),
        "totals": dict(Counter(r.verdict for r in results)),
        "n": len(results),
        "mismatches": mismatches,
        "refuted": [r for r in results if r.verdict == "REFUTED"],
        "papers": [(k, title, by_paper[k]) for k, title in paper_titles(results).items()],
        "cx_paths": cx_paths,
        "fig_paths": fig_paths,
        "findings": _findings(results),
        "controls": {k: v for k, v in controls.items() if k[0] in {r.claim_id for r in results}},
        "substituted": [r for r in results if r.evidence.substitution],
        "bench": store.benchmarks(run_id),
        "ok": not mismatches,
        "trends": _trends(store, results),
    }


def _trends(store: Store, results: list[StoredResult], runs: int = 8) -> dict[str, list[dict[str, Any]]]:
    """Claim id -> its last ``runs`` results in the store, oldest first (verdict, tightness,
    time), for the per-claim trend line; only claims with more than one stored result."""
    out = {}
    for r in results:
        hist = store.history(r.claim_id, limit=runs)
        if len(hist) > 1:
            out[r.claim_id] = [{"run": h.run_id, "verdict": h.verdict, "tightness": h.evidence.tightness,
                                "elapsed_s": h.elapsed_s} for h in reversed(hist)]
    return out


def write_report(store: Store, run_id: str, out_dir: str | Path) -> dict[str, Path]:
    """Render the run ``run_id`` into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = store.results(run_id)
    ctx = _context(store, run_id, _counterexample_files(out, results), _figure_files(out, results))
    paths = {
        "html": out / "index.html",
        "markdown": out / "summary.md",
        "json": out / "results.json",
    }
    paths["html"].write_text(_env.get_template("index.html.j2").render(**ctx))
    paths["markdown"].write_text(_env.get_template("summary.md.j2").render(**ctx))
    paths["json"].write_text(json.dumps(results_json(store, run_id), indent=1))
    return paths


#: GitHub caps a step summary at 1 MiB
STEP_SUMMARY_MAX = 1024 * 1024


def github_actions(results: list[StoredResult], bad: list[StoredResult], *, store: Store | None = None,
                   run_id: str | None = None, report_dir: str | Path | None = None,
                   stream: Any = None) -> None:
    """When ``GITHUB_ACTIONS=true``: one ``::error file=...,line=...::`` annotation per result
    that does not match its expectation, and the run's summary appended to
    ``$GITHUB_STEP_SUMMARY`` (rendered from the store when no report was written; truncated
    to GitHub's 1 MiB with a note)."""
    import os
    import sys

    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    out = stream or sys.stdout

    def esc(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    for r in bad:
        where = ""
        if r.claim.get("file"):
            where = f"file={esc(str(r.claim['file'])).replace(',', '%2C')},line={r.claim.get('line') or 1},"
        reason = f"{r.verdict} (expected {r.expected}): {r.evidence.summary[:400]}"
        print(f"::error {where}title=convcheck::{esc(r.claim_id + ': ' + reason)}", file=out)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    md = Path(report_dir) / "summary.md" if report_dir else None
    if md is not None and md.exists():
        text = md.read_text()
    elif store is not None and run_id is not None:
        text = _env.get_template("summary.md.j2").render(**_context(store, run_id, {}, {}))
    else:
        return
    data = text.encode()
    if len(data) > STEP_SUMMARY_MAX:
        note = "\n\n_(summary truncated to GitHub's 1 MiB limit; the full report is in the artifact)_\n"
        data = data[: STEP_SUMMARY_MAX - len(note.encode()) - 4].decode(errors="ignore").encode() + note.encode()
    with open(target, "ab") as fh:
        fh.write(data + b"\n")
