"""pytest plugin: ``pytest --claims [PATTERN]`` collects each claim as a test item.

Items are collected at collection time (``collected N items``; ``--collect-only`` lists
them) with node ids ``convcheck::<paper>::<claim>`` and JUnit classname ``<paper>``. Each
item carries the markers ``paper_<key>``, ``kind_<kind>``, ``tier_fast`` / ``tier_full``
and ``slow`` (full-tier claims), so ``-m "paper_mypaper and not slow"`` and ``-k`` work through
pytest's own selection. An item passes when the claim's verdict matches its expectation; it
records the JUnit properties ``verdict``, ``expected``, ``tightness``, ``seed`` and
``replay`` (the command that reproduces it), and a failure message ends with that command::

    pytest --claims 'mypaper.*' --junitxml=claims.xml
    pytest --claims --claims-db convcheck.sqlite --claims-report report -m "not slow"
    pytest --claims 'mypaper.*' --claims-solver policy_evaluation=mypkg.eval:evaluate
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

_STATE = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("convcheck")
    g.addoption("--claims", action="store", nargs="?", const="*", default=None, metavar="PATTERN",
                help="collect convcheck claims matching PATTERN (glob; default all) as test items")
    g.addoption("--claims-tier", action="store", default="fast", choices=["fast", "full"],
                help="which claims to collect: fast (default) or full (adds the long sweeps)")
    g.addoption("--claims-seed", action="store", type=int, default=0, help="run seed for --claims")
    g.addoption("--claims-db", action="store", default=None, metavar="PATH",
                help="also record the run in this convcheck database")
    g.addoption("--claims-report", action="store", default=None, metavar="DIR",
                help="write the run's report (index.html, summary.md, results.json) to DIR; implies a database")
    g.addoption("--claims-solver", action="append", default=[], metavar="FAMILY=MOD:ATTR",
                help="substitute a solver family with your implementation (repeatable)")


def _marker(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--claims") is None:
        return
    for line in ("tier_fast: a convcheck claim of the fast tier",
                 "tier_full: a convcheck claim of the full tier",
                 "slow: long sweeps (full-tier claims)"):
        config.addinivalue_line("markers", line)
    from convcheck.verify.claims import PAPERS, load_registry
    from convcheck.verify.model import Kind

    load_registry()
    for key in PAPERS:
        config.addinivalue_line("markers", f"paper_{_marker(key)}: claims of the paper {key!r}")
    for kind in Kind:
        config.addinivalue_line("markers", f"kind_{kind.value}: claims of kind {kind.value}")
    config.stash[_STATE] = {"store": None, "run": None}


class ClaimItem(pytest.Item):
    """One claim, evaluated when the item runs."""

    def __init__(self, *, claim_id: str, **kw: Any):
        super().__init__(**kw)
        self.claim_id = claim_id
        self.evidence: Any = None

    def _replay(self) -> str:
        cfg = self.config
        cmd = f"convcheck verify {self.claim_id} --seed {cfg.getoption('--claims-seed')} " \
              f"--tier {cfg.getoption('--claims-tier')}"
        for spec in cfg.getoption("--claims-solver"):
            cmd += f" --solver {spec}"
        return cmd

    def runtest(self) -> None:
        from convcheck.verify.claims import load_registry
        from convcheck.verify.engine import evaluate
        from convcheck.verify.solverset import SolverSet, parse_solver_spec

        claim = load_registry()[self.claim_id]
        cfg = self.config
        solvers = SolverSet(dict(parse_solver_spec(s) for s in cfg.getoption("--claims-solver")))
        seed = cfg.getoption("--claims-seed")
        self.evidence = ev = evaluate(claim, seed=seed, tier=cfg.getoption("--claims-tier"), solvers=solvers)
        for key, value in (("verdict", str(ev.verdict)), ("expected", str(claim.expect)),
                           ("tightness", "" if ev.tightness is None else f"{ev.tightness:.6g}"),
                           ("seed", str(seed)), ("replay", self._replay())):
            self.user_properties.append((key, value))
        state = cfg.stash.get(_STATE, {})
        if state.get("store") is not None:
            state["store"].add_result(state["run"], claim.to_json(), ev, str(claim.expect))
        if not ev.matches(str(claim.expect)):
            raise ClaimMismatch(claim, ev, self._replay())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimMismatch):
            c, ev = excinfo.value.claim, excinfo.value.evidence
            lines = [f"{c.id} ({c.source.cite()})", f"statement: {c.statement}",
                     f"verdict {ev.verdict}, expected {c.expect}", ev.summary]
            if ev.counterexample:
                lines.append(f"counterexample params: {ev.counterexample.params}")
            for s in ev.substitution:
                if not s.get("agrees", True):
                    lines.append(f"substitute {s.get('substitute')} for {s.get('family')} disagrees with the "
                                 f"reference: {'; '.join(s.get('faults') or []) or s.get('max_rel_diff')}")
            if ev.error:
                lines.append(ev.error)
            lines.append(f"replay: {excinfo.value.replay}")
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int, str]:
        return ("convcheck", 0, f"claim {self.claim_id}")


class ClaimMismatch(Exception):
    def __init__(self, claim: Any, evidence: Any, replay: str):
        super().__init__(claim.id)
        self.claim, self.evidence, self.replay = claim, evidence, replay


class PaperCollector(pytest.Collector):
    """The claims of one paper (node id ``convcheck::<paper>``)."""

    def __init__(self, *, claims: list[Any], **kw: Any):
        super().__init__(**kw)
        self.claims = claims

    def collect(self) -> list[ClaimItem]:
        items = []
        for c in self.claims:
            item = ClaimItem.from_parent(self, name=c.id.split(".", 1)[1], claim_id=c.id)
            item.add_marker(f"paper_{_marker(c.paper)}")
            item.add_marker(f"kind_{c.kind.value}")
            item.add_marker(f"tier_{c.tier.value}")
            if c.tier.value == "full":
                item.add_marker("slow")
            items.append(item)
        return items


class ClaimsRoot(pytest.Collector):
    """All selected claims (node id ``convcheck``), one child per paper."""

    def __init__(self, *, pattern: str, **kw: Any):
        super().__init__(**kw)
        self.pattern = pattern

    def collect(self) -> list[PaperCollector]:
        from convcheck.verify.claims import paper_keys, select

        pats = [] if self.pattern in ("*", "") else [self.pattern]
        chosen = select(pats, tier=self.config.getoption("--claims-tier"))
        order = {k: i for i, k in enumerate(paper_keys())}
        papers = sorted({c.paper for c in chosen}, key=lambda k: order.get(k, len(order)))
        return [PaperCollector.from_parent(self, name=p, claims=[c for c in chosen if c.paper == p])
                for p in papers]


def _collect(node: pytest.Collector) -> list[pytest.Item]:
    """Collect ``node`` recursively, reporting each level as pytest's own collection does
    (so ``collected N items`` counts the claims)."""
    items: list[pytest.Item] = []
    try:
        children = list(node.collect())
    except Exception as e:  # noqa: BLE001 - shown as a collection error, like a broken test module
        rep = pytest.CollectReport(node.nodeid, "failed", f"{type(e).__name__}: {e}", [])
        node.ihook.pytest_collectreport(report=rep)
        return items
    rep = pytest.CollectReport(node.nodeid, "passed", None, children)
    node.ihook.pytest_collectreport(report=rep)
    for child in children:
        if isinstance(child, pytest.Item):
            items.append(child)
        else:
            items.extend(_collect(child))  # type: ignore[arg-type]
    return items


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """Add the claim items before ``-k`` / ``-m`` deselect (pytest's own mechanism)."""
    pattern = config.getoption("--claims")
    if pattern is None:
        return
    from convcheck.verify.claims import SelectionError

    try:
        root = ClaimsRoot.from_parent(session, name="convcheck", nodeid="convcheck", pattern=pattern)
        items.extend(_collect(root))
    except SelectionError as e:
        raise pytest.UsageError(f"--claims: {e}") from None


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    _CONFIG["config"] = config
    if config.getoption("--claims") is None:
        return
    db = config.getoption("--claims-db")
    report = config.getoption("--claims-report")
    if db is None and report is not None:
        db = f"{report.rstrip('/')}.sqlite"
    if db is None:
        return
    from convcheck.verify.solverset import SolverSpecError, parse_solver_spec
    from convcheck.verify.store import StoreError, open_store

    try:
        for spec in config.getoption("--claims-solver"):
            parse_solver_spec(spec)
        store = open_store(db)
    except (StoreError, SolverSpecError) as e:
        raise pytest.UsageError(f"convcheck: {e}") from None
    run = store.new_run(seed=config.getoption("--claims-seed"), tier=config.getoption("--claims-tier"),
                        argv=["pytest", *sys.argv[1:]], extra={"solvers": config.getoption("--claims-solver")})
    config.stash[_STATE] = {"store": store, "run": run, "db": db}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, {})
    store = state.get("store")
    if store is None:
        return
    store.finish_run(state["run"], "finished" if exitstatus in (0, 1) else "interrupted")
    report = session.config.getoption("--claims-report")
    from convcheck.reports.render import github_actions, write_report

    if report:
        write_report(store, state["run"], report)
    results = store.results(state["run"])
    github_actions(results, [r for r in results if not r.matches], store=store, run_id=state["run"],
                   report_dir=report)
    store.close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """JUnit classname = the paper key (the XML reporter's default would be ``convcheck.<paper>``)."""
    if not report.nodeid.startswith("convcheck::") or report.when != "call":
        return
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - the reporter's internals moved
        return
    cfg = _CONFIG.get("config")
    xml = cfg.stash.get(xml_key, None) if cfg is not None else None
    if xml is not None:
        xml.node_reporter(report).add_attribute("classname", report.nodeid.split("::")[1])


_CONFIG: dict[str, pytest.Config] = {}



