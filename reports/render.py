"""Write a run's report: ``index.html`` (self-contained), ``summary.md``, ``results.json``
and one replayable JSON file per counterexample under ``counterexamples/``."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.figures import figure_svg
from verify.store import Store, StoredResult

PAPER_TITLES = {
    "mdp": "Foundations of tabular MDPs",
    "d2d_stackelberg": "Seed 000: D2D reuse-pricing Stackelberg game and ST-Q",
    "stochastic_stackelberg": "Seed 001: Learning in stochastic Stackelberg games",
    "incentive_design": "Seed 002: Incentive design with side payments",
    "mean_field_marl": "Seed 003: Mean-field MARL on a network of states",
    "n2o_dual_averaging": "Seed 004: N2O distributed dual averaging over graphs",
}

_env = Environment(loader=PackageLoader("reports", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


_env.filters["fmt"] = _fmt


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


def _counterexample_files(out: Path, results: list[StoredResult]) -> dict[str, str]:
    paths = {}
    cdir = out / "counterexamples"
    for r in results:
        cx = r.evidence.counterexample
        if cx is None:
            continue
        cdir.mkdir(parents=True, exist_ok=True)
        p = cdir / f"{r.claim_id}.json"
        p.write_text(json.dumps(cx.to_json(), indent=1))
        paths[r.claim_id] = str(p.relative_to(out))
    return paths


def write_report(store: Store, run_id: str, out_dir: str | Path) -> dict[str, Path]:
    """Render the run ``run_id`` into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = store.run(run_id)
    results = store.results(run_id)
    cx_paths = _counterexample_files(out, results)
    by_paper: dict[str, list[StoredResult]] = defaultdict(list)
    for r in results:
        by_paper[r.paper].append(r)
    totals = Counter(r.verdict for r in results)
    mismatches = [r for r in results if not r.matches]
    refuted = [r for r in results if r.verdict == "REFUTED"]
    bench = store.benchmarks(run_id)
    ctx = {
        "run": run,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["started"])),
        "totals": dict(totals),
        "n": len(results),
        "mismatches": mismatches,
        "refuted": refuted,
        "papers": [(k, PAPER_TITLES.get(k, k), by_paper[k]) for k in PAPER_TITLES if k in by_paper]
        + [(k, k, v) for k, v in by_paper.items() if k not in PAPER_TITLES],
        "cx_paths": cx_paths,
        "svg": figure_svg,
        "bench": bench,
        "ok": not mismatches,
    }
    paths = {
        "html": out / "index.html",
        "markdown": out / "summary.md",
        "json": out / "results.json",
    }
    paths["html"].write_text(_env.get_template("index.html.j2").render(**ctx))
    paths["markdown"].write_text(_env.get_template("summary.md.j2").render(**ctx))
    paths["json"].write_text(json.dumps(results_json(store, run_id), indent=1))
    return paths
