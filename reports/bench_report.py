"""Benchmark section of the report: ``bench.html`` (self-contained, inline SVG log-log
scaling plots with fitted exponents, CPU vs GPU), ``bench.md`` and ``bench.json``.

Everything is derived from a bench run's rows (``Store.benchmarks``) plus the run's info, so
the section can be re-rendered from the store; targets and fits are recomputed when not
given.
"""

from __future__ import annotations

import io
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("convcheck.reports", "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
                   trim_blocks=True, lstrip_blocks=True)


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


_env.filters["fmt"] = _fmt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    plt.close(fig)
    s = buf.getvalue()
    i = s.find("<svg")
    return s[i:] if i >= 0 else s


def scaling_plots(rows: list[dict[str, Any]], fits: list[dict[str, Any]]) -> dict[str, str]:
    """One log-log plot per core: median time against size for every implementation and
    backend (CPU and GPU side by side), min-median band, fitted exponent in the legend."""
    fit_of = {(f["core"], f["backend"], f["implementation"]): f for f in fits}
    by_core: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["core"] == "machine" or not r.get("median_s"):
            continue
        by_core[r["core"]][(r["implementation"], r["backend"])].append(r)
    out = {}
    for core, series in by_core.items():
        if max(len({x["size"] for x in v}) for v in series.values()) < 2:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
        for (impl, be), rs in sorted(series.items()):
            rs = sorted(rs, key=lambda x: x["size"])
            x = [r["size"] for r in rs]
            y = [r["median_s"] for r in rs]
            f = fit_of.get((core, be, impl))
            label = f"{impl[:42]} [{be}]" + (f", p={f['exponent']:.2f}" if f else "")
            style = "--" if be == "torch-cuda" else ("-" if r.get("role") == "implementation" else ":")
            ax.plot(x, y, style, marker="o", ms=3, lw=1.2, label=label)
            ax.fill_between(x, [r["min_s"] for r in rs], y, alpha=0.15)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("size", fontsize=8)
        ax.set_ylabel("seconds per call (median; band: min)", fontsize=8)
        ax.set_title(core, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
        fig.tight_layout()
        out[core] = _svg(fig)
    return out


def write_bench_report(run: dict[str, Any], rows: list[dict[str, Any]], out_dir: str | Path, *,
                       targets: list[dict[str, Any]] | None = None,
                       fits: list[dict[str, Any]] | None = None) -> dict[str, Path]:
    """Write the benchmark section of run ``run`` into ``out_dir``; returns the paths."""
    from convcheck.verify.bench import evaluate_targets, scaling_fits

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = evaluate_targets(rows) if targets is None else targets
    fits = scaling_fits(rows) if fits is None else fits
    bench = run.get("bench", {})
    machine = [r for r in rows if r["core"] == "machine"]
    cores: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["core"] != "machine":
            cores[r["core"]].append(r)
    ctx = {
        "run": run,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.get("started", time.time()))),
        "bench": bench,
        "device": bench.get("device", {}),
        "machine": machine,
        "cores": dict(cores),
        "targets": targets,
        "fits": fits,
        "plots": scaling_plots(rows, fits),
    }
    paths = {"html": out / "bench.html", "markdown": out / "bench.md", "json": out / "bench.json"}
    paths["html"].write_text(_env.get_template("bench.html.j2").render(**ctx))
    paths["markdown"].write_text(_markdown(ctx))
    paths["json"].write_text(json.dumps({"run": run, "rows": rows, "targets": targets, "fits": fits}, indent=1))
    return paths


def _markdown(ctx: dict[str, Any]) -> str:
    run, dev, bench = ctx["run"], ctx["device"], ctx["bench"]
    lines = [f"# convcheck benchmarks, run {run.get('id')}", "",
             f"- started {ctx['started']}; device: {dev.get('cpu')} ({dev.get('cpus')} CPUs)"
             + (f", GPU {dev.get('gpu')} (driver {dev.get('gpu_driver')}, CUDA {dev.get('torch_cuda')})"
                if dev.get("gpu") else ", no GPU"),
             f"- threads: {bench.get('threads', {}).get('requested')}; "
             f"backends: {', '.join(bench.get('backends', []))}; "
             f"peers: {', '.join(bench.get('peers', [])) or 'none'}",
             "- machine: " + ", ".join(f"{m['implementation']} {m['value']:.3g} {m['unit']}" for m in ctx["machine"]),
             "", "## Targets", "", "| id | target | measured | met |", "|---|---|---|---|"]
    for t in ctx["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['id']} | {t['target']} | {t['measured']} | {met} |")
    lines += ["", "## Scaling exponents (time ~ size^p)", "", "| core | implementation | backend | p | 95% CI |",
              "|---|---|---|---|---|"]
    for f in ctx["fits"]:
        lines.append(f"| {f['core']} | {f['implementation']} | {f['backend']} | {f['exponent']:.2f} | "
                     f"[{f['ci_low']:.2f}, {f['ci_high']:.2f}] |")
    lines += ["", "## Rows", "",
              "| core | size | backend | implementation | median s | min s | peer | ratio to peer | limit | fraction |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for rs in ctx["cores"].values():
        for r in rs:
            lines.append("| " + " | ".join(_fmt(r.get(k)) for k in (
                "core", "size", "backend", "implementation", "median_s", "min_s", "peer", "ratio_to_peer", "limit",
                "fraction_of_limit")) + " |")
    return "\n".join(lines) + "\n"


def write_stored_report(db: str, run: str | None, out_dir: str) -> dict[str, Path]:
    """Re-render the benchmark section of a stored bench run (``run``: id, prefix or
    ``latest``), e.g. for ``convcheck report`` of a bench run."""
    from convcheck.verify.store import open_store

    store = open_store(db, readonly=True)
    try:
        run_id = store.resolve_run(run, kind="bench")
        return write_bench_report(store.run(run_id), store.benchmarks(run_id), out_dir)
    finally:
        store.close()
