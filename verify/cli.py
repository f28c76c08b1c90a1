"""The ``convcheck`` command line.

Exit status: 0 when every verdict matches its expectation, 1 when any does not (or a
compared run regressed), 2 for bad usage or bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convcheck.verify.claims import SelectionError, add_paper_modules, select
from convcheck.verify.model import Kind, Tier
from convcheck.verify.solverset import SolverSpecError
from convcheck.verify.store import StoreError, open_store

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A user mistake: printed as one clear line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        import difflib
        import re

        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'?([\w-]+)'?", m.group(2))
            close = difflib.get_close_matches(m.group(1), choices, n=1)
            if close:
                message = f"unknown command {m.group(1)!r}; did you mean {close[0]!r}?"
        self.print_usage(sys.stderr)
        sys.stderr.write(f"convcheck: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("patterns", nargs="*", metavar="ID",
                   help="claim ids or glob patterns (e.g. 'mypaper.*'); a paper key selects its claims")
    p.add_argument("--paper", metavar="KEY", help="only claims of this paper (see `convcheck list`)")
    p.add_argument("--kind", choices=[k.value for k in Kind], help="only claims of this kind")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", choices=[t.value for t in Tier], default="fast",
                   help="fast (default; every commit) or full (adds long sweeps)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0); results are deterministic in it")
    p.add_argument("--seeds", metavar="A-B|A,B,...",
                   help="run the selection under each of these seeds (one run each) and report every "
                        "claim whose verdict differs between seeds as FLAKY (exit 1)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1; --executor process)")
    p.add_argument("--executor", choices=["serial", "process", "dask"], default=None,
                   help="serial (default with -j 1), process (local worker processes, -j N) or dask "
                        "(a LocalCluster of --workers N, or the cluster at --scheduler)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="Dask LocalCluster workers (default -j)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="connect to this Dask scheduler instead of a LocalCluster")
    p.add_argument("--shard", metavar="I/N",
                   help="run only shard I of N (1-based) of the selection: claims are dealt to shards by a "
                        "stable hash of their id, so a CI matrix of N jobs covers every claim once")
    p.add_argument("--db", default="convcheck.sqlite", help="results database (default ./convcheck.sqlite)")
    p.add_argument("--report", metavar="DIR", help="write index.html, summary.md, results.json to DIR")
    p.add_argument("--json", metavar="PATH", help="write the run's results as JSON to PATH")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="per-claim time limit in seconds (default: each claim's own, 600 s)")
    p.add_argument("--solver", action="append", default=[], metavar="FAMILY=MOD:ATTR",
                   help="substitute a solver family with your implementation (repeatable)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run, skipping finished claims")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def _add_papers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--papers", action="append", default=[], metavar="MODULE",
                   help="also load the paper declared in MODULE (repeatable; see 'Verify your own paper')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="convcheck", description="Verify convergence claims of game-theoretic and "
                     "multi-agent learning papers, claim by claim.")
    from convcheck import __version__

    parser.add_argument("--version", action="version", version=f"convcheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list claims")
    _add_papers(p)
    _add_selection(p)
    p.add_argument("--tier", choices=[t.value for t in Tier], help="claims that run in this tier")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = sub.add_parser("verify", help="verify claims and record the results")
    _add_papers(p)
    _add_selection(p)
    _add_run_options(p)

    p = sub.add_parser("controls", help="run the claims' negative and positive controls")
    _add_papers(p)
    _add_selection(p)
    p.add_argument("--tier", choices=[t.value for t in Tier], default="fast")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--db", default="convcheck.sqlite", help="results database (default ./convcheck.sqlite)")
    p.add_argument("--quiet", "-q", action="store_true", help="only failures and the summary")

    p = sub.add_parser("show", help="show one claim and its recent results")
    _add_papers(p)
    p.add_argument("claim")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("runs", help="list the stored runs (newest first)")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--kind", choices=["verify", "bench", "controls"], default=None)
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = sub.add_parser("export", help="write stored results as a table (CSV, Parquet or JSON lines)")
    p.add_argument("runs", nargs="*", default=[], metavar="RUN", help="run ids or references (default: all runs)")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.csv, FILE.parquet or FILE.jsonl")

    p = sub.add_parser("report", help="write the report of a stored run")
    _add_papers(p)
    p.add_argument("run", nargs="?", default="latest", help="run id or prefix, 'latest' (default), 'latest~1'")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--bench", action="store_true", help="'latest' refers to the latest benchmark run")

    p = sub.add_parser("compare", help="compare two stored runs: verdict flips, tightness, rates, time")
    _add_papers(p)
    p.add_argument("run_a", help="baseline run (id, prefix, latest~1)")
    p.add_argument("run_b", help="new run (id, prefix, latest)")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--slower", type=float, default=1.5,
                   help="note claims slower by this factor (a note, never a failure: one wall-clock sample "
                        "is no evidence; use `convcheck bench` for speed)")
    p.add_argument("--bench", action="store_true",
                   help="'latest' refers to benchmark runs (speed regressions, noise-aware)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--fail-on-slower", action="store_true",
                   help="make a slower claim (by --slower) a failure; off by default: one wall-clock sample "
                        "on a shared machine is no evidence")

    p = sub.add_parser("test-solver", help="regression-test your implementation of a solver family")
    _add_papers(p)
    p.add_argument("target", help="module:attr of your implementation, or an installed plug-in name")
    p.add_argument("--family", required=True, help="the solver family it implements (see `convcheck solvers`)")
    p.add_argument("--property-only", action="store_true",
                   help="switch the differential comparison off: the substitute is caught only when "
                        "some claim's verdict differs from its expectation")
    _add_selection(p)
    _add_run_options(p)

    p = sub.add_parser("solvers", help="list solver families, the claims using each, installed plug-ins")
    _add_papers(p)
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--db", default="convcheck.sqlite",
                   help="results database whose latest results say which families each claim called")

    p = sub.add_parser("bench", help="time the performance-critical cores (see tests/benchmarks)")
    _add_papers(p)
    p.add_argument("--quick", action="store_true", help="a subset of cores and sizes (under 5 minutes)")
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                   help="backends to time (default all available; cuda skips cleanly without a GPU)")
    p.add_argument("--peers", action="store_true", help="include third-party peers (pip install -e '.[peers]')")
    p.add_argument("--core", action="append", default=[], help="only these cores (repeatable)")
    p.add_argument("--json", metavar="PATH", help="write one JSON object per measured row to PATH")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--report", metavar="DIR", help="write the benchmark report section to DIR")

    p = sub.add_parser("replay", help="re-run a saved counterexample and show the violation")
    _add_papers(p)
    p.add_argument("file", help="counterexample JSON (from a report's counterexamples/ folder)")
    p.add_argument("--solver", action="append", default=[], metavar="FAMILY=MOD:ATTR")
    return parser


# ---------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    claims = select(args.patterns, paper=args.paper, kind=args.kind, tier=args.tier)
    if args.format == "json":
        print(json.dumps([c.to_json() for c in claims], indent=1))
        return EXIT_OK
    if not claims:
        print("no claims match")
        return EXIT_OK
    w = max(len(c.id) for c in claims)
    print(f"{'id':<{w}}  {'kind':<10} {'tier':<4} {'expect':<8} locator")
    for c in claims:
        print(f"{c.id:<{w}}  {c.kind:<10} {c.tier:<4} {c.expect:<8} {c.locator}")
    print(f"\n{len(claims)} claims")
    return EXIT_OK


SEED_MAX = 2**63 - 1


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` or ``"0,3,7"`` (or a mix: ``"0-2,9"``) -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                a, b = part.split("-", 1) if not part.startswith("-") else ("-" + part[1:].split("-", 1)[0],
                                                                             part[1:].split("-", 1)[1])
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise UsageError(f"--seeds expects A-B or A,B,... of integers, got {text!r}") from None
    if not seeds or any(not 0 <= x <= SEED_MAX for x in seeds) or len(seeds) > 1000:
        raise UsageError(f"--seeds {text!r}: 1 to 1000 seeds in 0..2^63-1")
    return list(dict.fromkeys(seeds))


def cmd_verify_seeds(args: argparse.Namespace) -> int:
    """``verify --seeds``: one run per seed, then a verdict per claim across seeds (FLAKY if
    they differ)."""
    from collections import defaultdict

    if args.resume:
        raise UsageError("--seeds and --resume cannot be combined (resume each seed's run on its own)")
    seeds = parse_seeds(args.seeds)
    verdicts: dict[str, dict[int, str]] = defaultdict(dict)
    codes = []
    json_path, report_dir = args.json, args.report
    for seed in seeds:
        sub = argparse.Namespace(**{**vars(args), "seed": seed, "seeds": None,
                                    "json": f"{json_path}.seed{seed}.json" if json_path else None,
                                    "report": f"{report_dir}/seed{seed}" if report_dir else None})
        code = cmd_verify(sub)
        if code in (130, 143):  # interrupted: stop here, the other seeds are not started
            return code
        codes.append(code)
        store = open_store(args.db, create=False)
        run_id = store.resolve_run("latest")
        for r in store.results(run_id):
            verdicts[r.claim_id][seed] = r.verdict
        store.close()
    flaky = {cid: v for cid, v in verdicts.items() if len(set(v.values())) > 1}
    print(f"\nseeds {seeds[0]}..{seeds[-1]} ({len(seeds)} runs): {len(verdicts)} claims, "
          f"{len(flaky)} FLAKY")
    for cid, v in sorted(flaky.items()):
        print(f"  FLAKY {cid}: " + ", ".join(f"seed {s} {x}" for s, x in sorted(v.items())))
    if json_path:
        Path(json_path).write_text(json.dumps({"seeds": seeds, "verdicts": verdicts,
                                               "flaky": sorted(flaky)}, indent=1))
    return EXIT_MISMATCH if flaky or any(c != EXIT_OK for c in codes) else EXIT_OK


def _check_output_targets(args: argparse.Namespace) -> None:
    """Fail before the run, not after it: ``--json`` must be a writable file path in an
    existing folder, ``--report`` a folder (or a path that can become one)."""
    if getattr(args, "json", None):
        j = Path(args.json)
        if j.is_dir():
            raise UsageError(f"--json {j}: is a directory")
        if not j.parent.exists() if str(j.parent) else False:
            raise UsageError(f"--json {j}: folder {j.parent} does not exist")
    if getattr(args, "report", None):
        r = Path(args.report)
        if r.exists() and not r.is_dir():
            raise UsageError(f"--report {r}: exists and is not a folder")
        if not r.exists() and not r.parent.exists():
            raise UsageError(f"--report {r}: folder {r.parent} does not exist")


def _validate_run_options(args: argparse.Namespace) -> None:
    import math
    import os

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if getattr(args, "executor", None) is None:
        args.executor = "process" if args.jobs > 1 else "serial"
    if args.executor != "dask" and (args.workers or args.scheduler):
        raise UsageError("--workers and --scheduler belong to --executor dask")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    cpus = os.cpu_count() or 1
    if args.jobs > cpus:
        print(f"convcheck: note: --jobs {args.jobs} capped at the {cpus} CPUs of this machine", file=sys.stderr)
        args.jobs = cpus
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise UsageError(f"--time-limit must be a finite positive number of seconds, got {args.time_limit}")
    if not 0 <= args.seed <= SEED_MAX:
        raise UsageError(f"--seed must lie in 0..2^63-1, got {args.seed}")
    _check_output_targets(args)


def _restore_run(store: Any, args: argparse.Namespace) -> tuple[str, list[str]]:
    """``--resume RUN``: the run's own seed, tier, selection and substitutions; an option given
    on the command line that contradicts the stored one is an error naming both."""
    run_id = store.resolve_run(args.resume)
    info = store.run(run_id)
    if info.get("kind", "verify") != "verify":
        raise UsageError(f"run {run_id} is a {info.get('kind')} run, not a verification run")
    stored = {"seed": info.get("seed"), "tier": info.get("tier"), "solver": list(info.get("solvers") or []),
              "selection": list(info.get("selection") or [])}
    given = getattr(args, "_given", set())
    for opt in ("seed", "tier"):
        if opt in given and stored[opt] is not None and getattr(args, opt) != stored[opt]:
            raise UsageError(f"--{opt} {getattr(args, opt)} conflicts with run {run_id}, which used "
                             f"--{opt} {stored[opt]}")
    if args.solver and sorted(args.solver) != sorted(stored["solver"]):
        raise UsageError(f"--solver {args.solver} conflicts with run {run_id}, which used {stored['solver'] or 'none'}")
    if stored["seed"] is not None:
        args.seed = int(stored["seed"])
    if stored["tier"]:
        args.tier = stored["tier"]
    args.solver = stored["solver"]
    return run_id, stored["selection"]


def cmd_verify(args: argparse.Namespace) -> int:
    from convcheck.verify.runner import Progress, run_claims
    from convcheck.verify.solverset import parse_solver_spec

    if getattr(args, "seeds", None):
        return cmd_verify_seeds(args)
    _validate_run_options(args)
    store = open_store(args.db)
    selection: list[str] = []
    if args.resume:
        run_id, selection = _restore_run(store, args)
    for spec in args.solver:  # validate before starting anything
        parse_solver_spec(spec)
    if args.resume and selection and not args.patterns and not args.paper and not args.kind:
        claims = select(selection)
    else:
        claims = select(args.patterns, paper=args.paper, kind=args.kind, tier=args.tier)
    if getattr(args, "shard", None):
        claims = _shard(claims, args.shard)
    if not claims:
        where = (f" matching {' '.join(args.patterns)}" if args.patterns else "") + (
            f" of paper {args.paper!r}" if args.paper else "") + (f" of kind {args.kind!r}" if args.kind else "")
        raise UsageError(f"no claims{where} run in tier {args.tier!r}" if (args.patterns or args.paper or args.kind)
                         else f"no claims selected for tier {args.tier!r}")
    skip: set[str] = set()
    if args.resume:
        skip = store.done_claims(run_id, final_only=True)
        store.reopen_run(run_id)
        print(f"resuming run {run_id} (seed {args.seed}, tier {args.tier}"
              + (f", solvers {', '.join(args.solver)}" if args.solver else "")
              + f"): {len(skip)} of {len(claims)} claims already done", file=sys.stderr)
    else:
        run_id = store.new_run(seed=args.seed, tier=args.tier, argv=sys.argv[1:],
                               extra={"solvers": args.solver, "selection": [c.id for c in claims],
                                      "solver_packages": _solver_packages(args.solver)})
    todo = [c for c in claims if c.id not in skip]
    print(f"convcheck: verifying {len(todo)} claims (tier {args.tier}, seed {args.seed}, "
          f"jobs {args.jobs}) -> run {run_id} in {args.db}", file=sys.stderr)
    progress = Progress(len(todo), quiet=args.quiet, expected_s=store.recorded_costs([c.id for c in todo]),
                        parallel=args.workers or args.jobs if args.executor != "serial" else 1)
    hint = f"convcheck verify --resume {run_id} --db {args.db}"
    try:
        with _sigterm_as_interrupt():
            run_claims(claims, seed=args.seed, tier=args.tier, jobs=args.jobs, solver_specs=args.solver,
                       differential=not getattr(args, "property_only", False),
                       executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                       store=store, run_id=run_id, time_limit_s=args.time_limit, progress=progress,
                       skip=skip)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (_Terminated)
        store.finish_run(run_id, "interrupted")
        print(f"\ninterrupted; finished results are stored. Resume with: {hint}", file=sys.stderr)
        return 143 if isinstance(e, _Terminated) else 130
    store.finish_run(run_id)
    results = [r for r in store.results(run_id) if r.claim_id in {c.id for c in claims}]
    try:
        return _finish(store, run_id, results, args)
    finally:
        store.close()


def _shard(claims: list[Any], spec: str) -> list[Any]:
    """Shard ``I/N`` of ``claims``: a stable hash of each id deals it to one of N shards."""
    import zlib

    try:
        i, n = (int(x) for x in spec.split("/"))
        if not 1 <= i <= n:
            raise ValueError
    except ValueError:
        raise UsageError(f"--shard expects I/N with 1 <= I <= N, got {spec!r}") from None
    return [c for c in claims if zlib.crc32(c.id.encode()) % n == i - 1]


def _solver_packages(specs: list[str]) -> dict[str, str | None]:
    """The installed distribution and version behind each substituted solver's module."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    dists = metadata.packages_distributions()
    for spec in specs:
        target = spec.partition("=")[2]
        top = target.partition(":")[0].split(".")[0]
        names = dists.get(top) or []
        out[spec] = f"{names[0]} {metadata.version(names[0])}" if names else None
    return out


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so a run ends like an interrupted one."""


class _sigterm_as_interrupt:  # noqa: N801 - used as a context manager
    """Within the block, SIGTERM raises :class:`_Terminated` (main thread only)."""

    def __enter__(self) -> None:
        import signal
        import threading

        self._old = None
        if threading.current_thread() is threading.main_thread():
            def handler(signum: int, frame: Any) -> None:
                raise _Terminated()

            self._old = signal.signal(signal.SIGTERM, handler)

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _finish(store: Any, run_id: str, results: list[Any], args: argparse.Namespace) -> int:
    from collections import Counter

    counts = Counter(r.verdict for r in results)
    bad = [r for r in results if not r.matches]
    print(f"\nrun {run_id}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for r in bad:
        print(f"  MISMATCH {r.claim_id}: {r.verdict} (expected {r.expected}): "
              f"{textwrap.shorten(r.evidence.summary, 240)}")
    if args.json:
        from convcheck.reports.render import results_json

        data = results_json(store, run_id)
        data["results"] = [x for x in data["results"] if x["claim"] in {r.claim_id for r in results}]
        Path(args.json).write_text(json.dumps(data, indent=1))
        print(f"results JSON: {args.json}")
    if args.report:
        from convcheck.reports.render import write_report

        paths = write_report(store, run_id, args.report)
        print(f"report: {paths['html']} (also {paths['markdown'].name}, {paths['json'].name})")
    print("all verdicts match their expectations" if not bad else f"{len(bad)} verdict(s) differ from expectations")
    _github_actions(results, bad, args, store, run_id)
    return EXIT_OK if not bad else EXIT_MISMATCH


def _github_actions(results: list[Any], bad: list[Any], args: argparse.Namespace, store: Any = None,
                    run_id: str | None = None) -> None:
    """On GitHub Actions: one ``::error`` annotation per mismatch (at the claim's source file
    and line), and the run's summary appended to the job summary (``$GITHUB_STEP_SUMMARY``)."""
    from convcheck.reports.render import github_actions

    github_actions(results, bad, store=store, run_id=run_id,
                   report_dir=getattr(args, "report", None))


def cmd_controls(args: argparse.Namespace) -> int:
    """Run every selected claim's controls: exit 0 only when each negative control is detected
    (REFUTED with the differential off), each positive control HOLDS, and every claim has a
    control or a stated waiver."""
    from convcheck.verify.controls import run_control

    claims = select(args.patterns, paper=args.paper, kind=args.kind, tier=args.tier)
    if not claims:
        raise UsageError("no claims selected")
    store = open_store(args.db)
    run_id = store.new_run(seed=args.seed, tier=args.tier, argv=sys.argv[1:], kind="controls")
    bad: list[str] = []
    total = sum(len(c.controls) for c in claims)
    print(f"convcheck: {total} controls of {len(claims)} claims (tier {args.tier}, seed {args.seed}) "
          f"-> run {run_id} in {args.db}", file=sys.stderr)
    done = 0
    try:
        for c in claims:
            if not c.controls:
                line = f"  {'waived' if c.controls_waived else 'MISSING'} {c.id}: " + (
                    c.controls_waived or "no control and no controls_waived")
                if not c.controls_waived:
                    bad.append(line)
                if not args.quiet or not c.controls_waived:
                    print(line)
                continue
            for ctl in c.controls:
                out = run_control(c, ctl, seed=args.seed, tier=args.tier)
                store.add_control(run_id, out)
                done += 1
                word = ("detected" if out.ok else "NOT DETECTED") if ctl.kind == "negative" else (
                    "holds" if out.ok else "DOES NOT HOLD")
                line = (f"[{done}/{total}] {ctl.kind} {c.id} :: {ctl.name}: {word} ({out.verdict}, "
                        f"{out.elapsed_s:.1f}s)")
                if not out.ok:
                    bad.append(line + f": {textwrap.shorten(out.summary, 200)}")
                if not args.quiet or not out.ok:
                    print(line, flush=True)
    except KeyboardInterrupt:
        store.finish_run(run_id, "interrupted")
        return 130
    store.finish_run(run_id)
    store.close()
    print(f"\n{done} controls run; " + (f"{len(bad)} failed:" if bad else "every negative control was "
          "detected and every positive control holds"))
    for line in bad:
        print(line)
    return EXIT_OK if not bad else EXIT_MISMATCH


def cmd_show(args: argparse.Namespace) -> int:
    claims = select([args.claim])
    if len(claims) != 1 or claims[0].id != args.claim:
        if len(claims) == 1:
            claim = claims[0]
        else:
            raise UsageError(f"{args.claim!r} matches {len(claims)} claims; give one id: "
                             + ", ".join(c.id for c in claims[:8]))
    else:
        claim = claims[0]
    d = claim.to_json()
    if args.format == "json":
        hist, last = [], {}
        if Path(args.db).exists():
            st = open_store(args.db, readonly=True)
            hist = [{"run": r.run_id, "verdict": r.verdict, "matches": r.matches, "tightness": r.evidence.tightness,
                     "elapsed_s": r.elapsed_s, "summary": r.evidence.summary} for r in st.history(claim.id)]
            last = {name: o for (_, name), o in st.control_outcomes(claim.id).items()}
        print(json.dumps({**d, "history": hist, "control_outcomes": last}, indent=1))
        return EXIT_OK
    print(f"{d['id']}  [{d['kind']}, tier {d['tier']}, expect {d['expect']}]")
    print(f"source:   {claim.source.cite()}")
    print("statement:\n  " + "\n  ".join(textwrap.wrap(d["statement"], 90)))
    if d["reading"]:
        print("reading:\n  " + "\n  ".join(textwrap.wrap(d["reading"], 90)))
    if d["notes"]:
        print("notes:\n  " + "\n  ".join(textwrap.wrap(d["notes"], 90)))
    print(f"family:   {claim.family.name}: {textwrap.shorten(claim.family.description, 200)}")
    print(f"          parameters: {', '.join(claim.family.space)}; corners: {len(claim.family.corners)}; "
          f"n = {dict(claim.n)}; search = {dict(claim.search)}")
    if claim.tolerance:
        print(f"tolerance: rtol={claim.tolerance.rtol:g} atol={claim.tolerance.atol:g}: {claim.tolerance.why}")
    if claim.uses:
        print(f"solvers:  {', '.join(claim.uses)}")
    if claim.counterexample:
        print(f"pinned counterexample: {dict(claim.counterexample)}")
    if claim.finding:
        print(f"finding:  {claim.finding}")
    last = {}
    if Path(args.db).exists():
        store = open_store(args.db, readonly=True)
        last = store.control_outcomes(claim.id)
    for ctl in claim.controls:
        o = last.get((claim.id, ctl.name))
        seen = f"last: {o['verdict']} ({'ok' if o['ok'] else 'FAILED'}, run {o['run']})" if o else "not run yet"
        print(f"control:  {ctl.kind} {ctl.name}: {ctl.description} [{seen}]")
    if claim.controls_waived:
        print(f"controls waived: {claim.controls_waived}")
    if Path(args.db).exists():
        hist = store.history(claim.id)
        if hist:
            print("recent results:")
            for r in hist:
                t = r.evidence.tightness
                print(f"  {r.run_id}  {r.verdict:<12} tightness {t if t is None else f'{t:.4g}'}  "
                      f"{r.elapsed_s:.1f}s  {textwrap.shorten(r.evidence.summary, 100)}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from convcheck.reports.render import write_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    store = open_store(args.db, readonly=True)
    run_id = store.resolve_run(args.run, kind="bench" if args.bench else "verify")
    if store.run(run_id)["kind"] == "bench":
        from convcheck.reports.bench_report import write_stored_report

        paths = write_stored_report(args.db, run_id, args.out)
        print(f"benchmark report of run {run_id}: {paths.get('html', args.out)}")
        return EXIT_OK
    paths = write_report(store, run_id, args.out)
    print(f"report of run {run_id}: {paths['html']} (also {paths['markdown'].name}, {paths['json'].name})")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    store = open_store(args.db, readonly=True)
    kind = "bench" if args.bench else "verify"  # what 'latest' / 'latest~1' refer to
    a, b = store.resolve_run(args.run_a, kind=kind), store.resolve_run(args.run_b, kind=kind)
    kinds = {store.run(a)["kind"], store.run(b)["kind"]}
    if kinds == {"bench"}:
        from convcheck.verify.bench import compare_bench_runs

        regs, changes = compare_bench_runs(store, a, b)
        print(f"compare benchmarks {a} -> {b} (a slowdown counts only when the min-median ranges "
              f"over repeated rounds do not overlap)")
        for title, lines in (("regressions:", regs), ("changes:", changes)):
            if lines:
                print(title)
                print("\n".join(lines))
        if not regs and not changes:
            print("no differences")
        return EXIT_MISMATCH if regs else EXIT_OK
    if len(kinds) > 1:
        raise UsageError(f"cannot compare a {store.run(a)['kind']} run with a {store.run(b)['kind']} run")
    ra = {r.claim_id: r for r in store.results(a)}
    rb = {r.claim_id: r for r in store.results(b)}
    regressions, notes = [], []
    for cid in sorted(set(ra) | set(rb)):
        x, y = ra.get(cid), rb.get(cid)
        if x is None or y is None:
            notes.append(f"  {'added' if x is None else 'removed'}: {cid}")
            continue
        if x.verdict != y.verdict:
            line = f"  verdict {cid}: {x.verdict} -> {y.verdict}"
            (regressions if not y.matches else notes).append(line)
        tx, ty = x.evidence.tightness, y.evidence.tightness
        if tx is not None and ty is not None and ty > tx * (1 + 1e-6) + 1e-12:
            notes.append(f"  tightness {cid}: {tx:.6g} -> {ty:.6g} (closer to the bound)")
        for key in ("fitted_rate", "rate"):
            mx, my = x.evidence.metrics.get(key), y.evidence.metrics.get(key)
            if isinstance(mx, float) and isinstance(my, float) and my > mx * (1 + 1e-3):
                notes.append(f"  {key} {cid}: {mx:.6g} -> {my:.6g} (slower convergence)")
        if y.elapsed_s > args.slower * x.elapsed_s and y.elapsed_s - x.elapsed_s > 0.5:
            line = f"  slower {cid}: {x.elapsed_s:.2f}s -> {y.elapsed_s:.2f}s (one sample each)"
            (regressions if args.fail_on_slower else notes).append(line)
    ia, ib = store.run(a), store.run(b)
    setting = [f"{k} {ia.get(k)} vs {ib.get(k)}" for k in ("seed", "tier", "suite_version")
               if ia.get(k) != ib.get(k)]
    if sorted(ia.get("selection") or []) != sorted(ib.get("selection") or []):
        setting.append("claim selection")
    if (ia.get("solvers") or []) != (ib.get("solvers") or []):
        setting.append(f"solvers {ia.get('solvers') or 'none'} vs {ib.get('solvers') or 'none'}")
    if args.format == "json":
        print(json.dumps({"run_a": a, "run_b": b, "settings_differ": setting,
                          "regressions": [x.strip() for x in regressions],
                          "changes": [x.strip() for x in notes]}, indent=1))
        return EXIT_MISMATCH if regressions else EXIT_OK
    print(f"compare {a} -> {b}: {len(ra)} vs {len(rb)} claims")
    if setting:
        print("note: the runs differ in " + "; ".join(setting) + " (verdicts may differ for that reason)")
    if regressions:
        print("regressions:")
        print("\n".join(regressions))
    if notes:
        print("changes:")
        print("\n".join(notes))
    if not regressions and not notes:
        print("no differences")
    return EXIT_MISMATCH if regressions else EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from convcheck.verify.claims import load_registry
    from convcheck.verify.engine import replay
    from convcheck.verify.solverset import SolverSet, parse_solver_spec

    path = Path(args.file)
    try:
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text, parse_constant=lambda c: float(c))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text (a counterexample is a JSON file)") from e
    except (json.JSONDecodeError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise UsageError(f"{path} is not valid JSON: {why}") from e
    if not isinstance(data, dict) or not isinstance(data.get("claim"), str) or not isinstance(data.get("params"), dict):
        raise UsageError(f"{path} is not a convcheck counterexample (needs 'claim', a claim id, "
                         "and 'params', an object)")
    seed = data["params"].get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise UsageError(f"{path}: params.seed must be an integer in 0..2^63-1, got {seed!r}")
    reg = load_registry()
    claim = reg.get(data["claim"])
    if claim is None:
        select([data["claim"]])  # raises with suggestions
        raise UsageError(f"unknown claim {data['claim']!r}")
    solvers = SolverSet(dict(parse_solver_spec(s) for s in args.solver))
    missing = set(claim.family.space) - set(data["params"])
    if missing:
        raise UsageError(f"{path}: params lack {sorted(missing)} for family {claim.family.name}")
    outside = claim.family.out_of_range(data["params"])
    if outside:  # the claim is only stated on its family: refuse rather than mis-report
        raise UsageError(f"{path}: parameters outside the declared space of family "
                         f"{claim.family.name} (the claim's hypotheses): {'; '.join(outside)}")
    try:  # a parameter set the family's builder rejects is bad input, not a failing check
        claim.family.instance(data["params"])
    except ValueError as e:  # builders validate with ValueError; anything else is a bug, shown
        raise UsageError(f"{path}: parameters rejected by family {claim.family.name}: {e}") from e
    out = replay(claim, data["params"], solvers=solvers)
    print(f"claim {claim.id} ({claim.source.cite()})")
    print(f"statement: {claim.statement}")
    print(f"params: {data['params']}")
    if out.error:
        print(f"the check raised:\n{out.error}")
        return EXIT_MISMATCH
    r = out.result
    assert r is not None
    status = {True: "holds", False: "VIOLATED", None: "undecided"}[r.ok]
    print(f"result: {status}: {r.detail}")
    for k, v in r.metrics.items():
        print(f"  {k} = {v}")
    return EXIT_OK if r.ok is False else EXIT_MISMATCH


def cmd_test_solver(args: argparse.Namespace) -> int:
    from convcheck.verify.solverset import parse_solver_spec

    spec = f"{args.family}={args.target}"
    parse_solver_spec(spec)  # validates family and target (exit 2 on a bad spec)
    claims = select(args.patterns, paper=args.paper, kind=args.kind, tier=args.tier)
    observed = _observed_uses(args.db)
    using = [c for c in claims if args.family in c.uses or args.family in observed.get(c.id, ())]
    if not using:
        raise UsageError(f"no selected claim uses solver family {args.family!r}; "
                         f"see `convcheck solvers` for the claims of each family")
    args.solver = [*args.solver, spec]
    args.patterns = [c.id for c in using]
    args.paper = args.kind = None
    print(f"convcheck: testing {args.target} as {args.family} on {len(using)} claims", file=sys.stderr)
    code = cmd_verify(args)
    _print_substitution(args)
    return code


def _print_substitution(args: argparse.Namespace) -> None:
    store = open_store(args.db, readonly=True)
    run_id = store.resolve_run("latest")
    rows = [(r, s) for r in store.results(run_id) for s in r.evidence.substitution]
    if not rows:
        return
    print("\nsubstitute vs reference, per claim:")
    w = max(len(r.claim_id) for r, _ in rows)
    print(f"  {'claim':<{w}}  {'verdict':<12} {'agrees':<6} {'max rel diff':>12} {'diff/tol':>9} "
          f"{'speed ratio':>11} faults")
    for r, s in rows:
        ratio = s.get("speed_ratio")
        print(f"  {r.claim_id:<{w}}  {r.verdict:<12} {'yes' if s['agrees'] else 'NO':<6} "
              f"{s['max_rel_diff']:>12.3g} {s['max_diff_over_tolerance']:>9.3g} "
              f"{(f'{ratio:.2f}x' if ratio else '-'):>11} {'; '.join(s['faults']) or '-'}")
    print("  (speed ratio = substitute time / reference time on the same calls; "
          "tolerance: " + rows[0][1]["tolerance"] + ")")


def _observed_uses(db: str | None) -> dict[str, list[str]]:
    """Claim id -> families its check was seen to call (latest stored result), if ``db`` exists."""
    if not db or not Path(db).exists():
        return {}
    try:
        store = open_store(db, readonly=True)
    except StoreError:
        return {}
    try:
        return store.observed_uses()
    finally:
        store.close()


def cmd_solvers(args: argparse.Namespace) -> int:
    from convcheck.solvers.registry import PROTOCOLS, REFERENCE, load_all
    from convcheck.verify.claims import load_registry
    from convcheck.verify.solverset import installed_plugins

    load_all()
    reg = load_registry()
    observed = _observed_uses(args.db)
    rows = []
    for fam in sorted(REFERENCE):
        fn = REFERENCE[fam]
        seen = sorted(cid for cid, fams in observed.items() if fam in fams and cid in reg)
        rows.append({"family": fam, "reference": f"{fn.__module__}:{fn.__qualname__}",
                     "protocol": PROTOCOLS[fam].__name__ if fam in PROTOCOLS else None,
                     "claims": sorted({c.id for c in reg.values() if fam in c.uses} | set(seen)),
                     "claims_observed": seen})
    plugins = installed_plugins()
    if args.format == "json":
        print(json.dumps({"families": rows, "plugins": plugins}, indent=1))
        return EXIT_OK
    for r in rows:
        print(f"{r['family']:<34} {r['reference']:<55} {len(r['claims'])} claims")
    print("\ninstalled plug-ins (entry points 'convcheck.solvers'): "
          + (", ".join(f"{k} = {v}" for k, v in plugins.items()) or "none"))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from convcheck.reports.bench_report import write_bench_report
    from convcheck.verify.bench import run_bench

    return int(run_bench(args, write_report=write_bench_report))


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_store(args.db, readonly=True)
    runs = store.runs(limit=max(args.limit, 1), kind=args.kind)
    rows = []
    for r in runs:
        counts = store.verdict_counts(r["id"])
        rows.append({"id": r["id"], "kind": r["kind"], "status": r["status"], "started": r["started"],
                     "seed": r.get("seed"), "tier": r.get("tier"), "verdicts": counts,
                     "git_commit": r.get("git_commit"), "solvers": r.get("solvers") or []})
    if args.format == "json":
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    import time as _time

    for r in rows:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(r["started"]))
        v = ", ".join(f"{k} {n}" for k, n in sorted(r["verdicts"].items())) or "-"
        print(f"{r['id']}  {r['kind']:<8} {r['status']:<11} {when}  seed {r['seed']}  tier {r['tier']}  {v}")
    if not rows:
        print("no runs")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from convcheck.verify.store import results_frame

    out = Path(args.out)
    if out.suffix not in (".csv", ".parquet", ".jsonl"):
        raise UsageError(f"--out {out}: name a .csv, .parquet or .jsonl file")
    if not out.parent.exists():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    store = open_store(args.db, readonly=True)
    runs = [store.resolve_run(r, kind=None) for r in args.runs] or None
    df = results_frame(store, runs)
    if out.suffix == ".csv":
        df.to_csv(out, index=False)
    elif out.suffix == ".jsonl":
        df.to_json(out, orient="records", lines=True)
    else:
        try:
            df.to_parquet(out, index=False)
        except ImportError as e:
            raise UsageError(f"Parquet needs pyarrow (pip install pyarrow): {e}") from None
    print(f"{len(df)} results of {df['run_id'].nunique() if len(df) else 0} runs -> {out}")
    return EXIT_OK


COMMANDS = {
    "bench": cmd_bench,
    "runs": cmd_runs,
    "export": cmd_export,
    "controls": cmd_controls,
    "test-solver": cmd_test_solver,
    "solvers": cmd_solvers,
    "list": cmd_list,
    "verify": cmd_verify,
    "show": cmd_show,
    "report": cmd_report,
    "compare": cmd_compare,
    "replay": cmd_replay,
}


def _report_load_errors() -> bool:
    from convcheck.verify.claims import LOAD_ERRORS, load_registry

    load_registry()
    for mod, err in LOAD_ERRORS.items():
        first = err.strip().splitlines()[0]
        print(f"convcheck: error: paper module {mod} failed to import; its claims are "
              f"missing: {first}", file=sys.stderr)
    return bool(LOAD_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    args._given = {a.lstrip("-").split("=")[0].replace("-", "_") for a in raw if a.startswith("--")}
    try:
        add_paper_modules(getattr(args, "papers", []))
        broken = (_report_load_errors() if args.command in ("list", "verify", "test-solver", "controls")
                  else False)
        code = int(COMMANDS[args.command](args))
        if broken and args.command in ("verify", "test-solver", "controls"):
            code = EXIT_USAGE  # a paper that does not import was not verified: never a pass
        return code
    except (UsageError, SelectionError, StoreError, SolverSpecError) as e:
        print(f"convcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
