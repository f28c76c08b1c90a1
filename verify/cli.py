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

from verify.claims import PAPER_KEYS, SelectionError, select
from verify.model import Kind, Tier
from verify.solverset import SolverSpecError
from verify.store import StoreError, open_store

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A user mistake: printed as one clear line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"convcheck: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("patterns", nargs="*", metavar="ID",
                   help="claim ids or glob patterns (e.g. 'mdp.*'); a paper key selects its claims")
    p.add_argument("--paper", choices=PAPER_KEYS, help="only claims of this paper")
    p.add_argument("--kind", choices=[k.value for k in Kind], help="only claims of this kind")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", choices=[t.value for t in Tier], default="fast",
                   help="fast (default; every commit) or full (adds long sweeps)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0); results are deterministic in it")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--db", default="convcheck.sqlite", help="results database (default ./convcheck.sqlite)")
    p.add_argument("--report", metavar="DIR", help="write index.html, summary.md, results.json to DIR")
    p.add_argument("--json", metavar="PATH", help="write the run's results as JSON to PATH")
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="per-claim time limit in seconds (default: each claim's own, 600 s)")
    p.add_argument("--solver", action="append", default=[], metavar="FAMILY=MOD:ATTR",
                   help="substitute a solver family with your implementation (repeatable)")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run, skipping finished claims")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="convcheck", description="Verify convergence claims of game-theoretic and "
                     "multi-agent learning papers, claim by claim.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list claims")
    _add_selection(p)
    p.add_argument("--tier", choices=[t.value for t in Tier], help="claims that run in this tier")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = sub.add_parser("verify", help="verify claims and record the results")
    _add_selection(p)
    _add_run_options(p)

    p = sub.add_parser("show", help="show one claim and its recent results")
    p.add_argument("claim")
    p.add_argument("--db", default="convcheck.sqlite")

    p = sub.add_parser("report", help="write the report of a stored run")
    p.add_argument("run", nargs="?", default="latest", help="run id or prefix, 'latest' (default), 'latest~1'")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--bench", action="store_true", help="'latest' refers to the latest benchmark run")

    p = sub.add_parser("compare", help="compare two stored runs: verdict flips, tightness, rates, time")
    p.add_argument("run_a", help="baseline run (id, prefix, latest~1)")
    p.add_argument("run_b", help="new run (id, prefix, latest)")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--slower", type=float, default=1.5, help="flag claims slower by this factor (default 1.5)")
    p.add_argument("--bench", action="store_true",
                   help="'latest' refers to benchmark runs (speed regressions, noise-aware)")

    p = sub.add_parser("test-solver", help="regression-test your implementation of a solver family")
    p.add_argument("target", help="module:attr of your implementation, or an installed plug-in name")
    p.add_argument("--family", required=True, help="the solver family it implements (see `convcheck solvers`)")
    _add_selection(p)
    _add_run_options(p)

    p = sub.add_parser("solvers", help="list solver families, the claims using each, installed plug-ins")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = sub.add_parser("bench", help="time the performance-critical cores (see tests/benchmarks)")
    p.add_argument("--quick", action="store_true", help="a subset of cores and sizes (under 5 minutes)")
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                   help="backends to time (default all available; cuda skips cleanly without a GPU)")
    p.add_argument("--peers", action="store_true", help="include third-party peers (pip install -e '.[peers]')")
    p.add_argument("--core", action="append", default=[], help="only these cores (repeatable)")
    p.add_argument("--json", metavar="PATH", help="write one JSON object per measured row to PATH")
    p.add_argument("--db", default="convcheck.sqlite")
    p.add_argument("--report", metavar="DIR", help="write the benchmark report section to DIR")

    p = sub.add_parser("replay", help="re-run a saved counterexample and show the violation")
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


def cmd_verify(args: argparse.Namespace) -> int:
    from verify.runner import Progress, run_claims
    from verify.solverset import parse_solver_spec

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.time_limit is not None and args.time_limit <= 0:
        raise UsageError("--time-limit must be positive")
    for spec in args.solver:  # validate before starting anything
        parse_solver_spec(spec)
    claims = select(args.patterns, paper=args.paper, kind=args.kind, tier=args.tier)
    if not claims:
        raise UsageError(f"no claims selected for tier {args.tier!r}")
    store = open_store(args.db)
    skip: set[str] = set()
    if args.resume:
        run_id = store.resolve_run(args.resume)
        skip = store.done_claims(run_id)
        print(f"resuming run {run_id}: {len(skip)} claims already done", file=sys.stderr)
    else:
        run_id = store.new_run(seed=args.seed, tier=args.tier, argv=sys.argv[1:],
                               extra={"solvers": args.solver})
    todo = [c for c in claims if c.id not in skip]
    print(f"convcheck: verifying {len(todo)} claims (tier {args.tier}, seed {args.seed}, "
          f"jobs {args.jobs}) -> run {run_id} in {args.db}", file=sys.stderr)
    progress = Progress(len(todo), quiet=args.quiet)
    try:
        run_claims(claims, seed=args.seed, tier=args.tier, jobs=args.jobs, solver_specs=args.solver,
                   store=store, run_id=run_id, time_limit_s=args.time_limit, progress=progress,
                   skip=skip)
    except KeyboardInterrupt:
        store.finish_run(run_id, "interrupted")
        print(f"\ninterrupted; finished results are stored. Resume with: convcheck verify "
              f"--resume {run_id} --db {args.db}", file=sys.stderr)
        return 130
    store.finish_run(run_id)
    results = [r for r in store.results(run_id) if r.claim_id in {c.id for c in claims}]
    return _finish(store, run_id, results, args)


def _finish(store: Any, run_id: str, results: list[Any], args: argparse.Namespace) -> int:
    from collections import Counter

    counts = Counter(r.verdict for r in results)
    bad = [r for r in results if not r.matches]
    print(f"\nrun {run_id}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for r in bad:
        print(f"  MISMATCH {r.claim_id}: {r.verdict} (expected {r.expected}): "
              f"{textwrap.shorten(r.evidence.summary, 240)}")
    if args.json:
        from reports.render import results_json

        data = results_json(store, run_id)
        data["results"] = [x for x in data["results"] if x["claim"] in {r.claim_id for r in results}]
        Path(args.json).write_text(json.dumps(data, indent=1))
        print(f"results JSON: {args.json}")
    if args.report:
        from reports.render import write_report

        paths = write_report(store, run_id, args.report)
        print(f"report: {paths['html']} (also {paths['markdown'].name}, {paths['json'].name})")
    print("all verdicts match their expectations" if not bad else f"{len(bad)} verdict(s) differ from expectations")
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
    if Path(args.db).exists():
        store = open_store(args.db, create=False)
        hist = store.history(claim.id)
        if hist:
            print("recent results:")
            for r in hist:
                t = r.evidence.tightness
                print(f"  {r.run_id}  {r.verdict:<12} tightness {t if t is None else f'{t:.4g}'}  "
                      f"{r.elapsed_s:.1f}s  {textwrap.shorten(r.evidence.summary, 100)}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from reports.render import write_report

    store = open_store(args.db, create=False)
    run_id = store.resolve_run(args.run, kind="bench" if args.bench else "verify")
    if store.run(run_id)["kind"] == "bench":
        from verify.bench import write_stored_report

        paths = write_stored_report(args.db, run_id, args.out)
        print(f"benchmark report of run {run_id}: {paths.get('html', args.out)}")
        return EXIT_OK
    paths = write_report(store, run_id, args.out)
    print(f"report of run {run_id}: {paths['html']} (also {paths['markdown'].name}, {paths['json'].name})")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    store = open_store(args.db, create=False)
    kind = "bench" if args.bench else "verify"  # what 'latest' / 'latest~1' refer to
    a, b = store.resolve_run(args.run_a, kind=kind), store.resolve_run(args.run_b, kind=kind)
    kinds = {store.run(a)["kind"], store.run(b)["kind"]}
    if kinds == {"bench"}:
        from verify.bench import compare_bench_runs

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
            regressions.append(f"  slower {cid}: {x.elapsed_s:.2f}s -> {y.elapsed_s:.2f}s")
    print(f"compare {a} -> {b}: {len(ra)} vs {len(rb)} claims")
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
    from verify.claims import load_registry
    from verify.engine import replay
    from verify.solverset import SolverSet, parse_solver_spec

    path = Path(args.file)
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(data, dict) or "claim" not in data or not isinstance(data.get("params"), dict):
        raise UsageError(f"{path} is not a convcheck counterexample (needs 'claim' and 'params')")
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
    from verify.solverset import parse_solver_spec

    spec = f"{args.family}={args.target}"
    parse_solver_spec(spec)  # validates family and target (exit 2 on a bad spec)
    claims = select(args.patterns, paper=args.paper, kind=args.kind, tier=args.tier)
    using = [c for c in claims if args.family in c.uses]
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
    store = open_store(args.db, create=False)
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


def cmd_solvers(args: argparse.Namespace) -> int:
    from solvers.registry import PROTOCOLS, REFERENCE, load_all
    from verify.claims import load_registry
    from verify.solverset import installed_plugins

    load_all()
    reg = load_registry()
    rows = []
    for fam in sorted(REFERENCE):
        fn = REFERENCE[fam]
        rows.append({"family": fam, "reference": f"{fn.__module__}:{fn.__qualname__}",
                     "protocol": PROTOCOLS[fam].__name__ if fam in PROTOCOLS else None,
                     "claims": sorted(c.id for c in reg.values() if fam in c.uses)})
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
    from verify.bench import run_bench

    return int(run_bench(args))


COMMANDS = {
    "bench": cmd_bench,
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
    from verify.claims import LOAD_ERRORS, load_registry

    load_registry()
    for mod, err in LOAD_ERRORS.items():
        last = err.strip().splitlines()[-1]
        print(f"convcheck: warning: theorem module {mod} failed to import; its claims are "
              f"missing: {last}", file=sys.stderr)
    return bool(LOAD_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        broken = _report_load_errors() if args.command in ("list", "verify", "test-solver") else False
        code = int(COMMANDS[args.command](args))
        if broken and args.command in ("verify", "test-solver") and code == EXIT_OK:
            code = EXIT_MISMATCH
        return code
    except (UsageError, SelectionError, StoreError, SolverSpecError) as e:
        print(f"convcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
