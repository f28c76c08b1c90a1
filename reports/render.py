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
        "papers": [(k, title, by_paper[k]) for k, title in paper_titles(results).items()],
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
