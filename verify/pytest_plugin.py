"""pytest plugin: ``pytest --claims [PATTERN]`` turns each claim into a test item.

Each item evaluates one claim (tier from ``--claims-tier``, seed from ``--claims-seed``)
and passes when its verdict matches the registry's expectation, so users get JUnit XML,
``-k`` selection and the rest of pytest for free::

    pytest --claims 'mypaper.*' --junitxml=claims.xml
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("convcheck")
    g.addoption("--claims", action="store", nargs="?", const="*", default=None, metavar="PATTERN",
                help="collect convcheck claims matching PATTERN (glob; default all) as test items")
    g.addoption("--claims-tier", action="store", default="fast", choices=["fast", "full"],
                help="tier for --claims (default fast)")
    g.addoption("--claims-seed", action="store", type=int, default=0, help="run seed for --claims")


class ClaimItem(pytest.Item):
    def __init__(self, *, claim_id: str, **kw: Any):
        super().__init__(**kw)
        self.claim_id = claim_id
        self.evidence: Any = None

    def runtest(self) -> None:
        from convcheck.verify.claims import load_registry
        from convcheck.verify.engine import evaluate

        claim = load_registry()[self.claim_id]
        cfg = self.config
        self.evidence = evaluate(claim, seed=cfg.getoption("--claims-seed"),
                                 tier=cfg.getoption("--claims-tier"))
        if not self.evidence.matches(str(claim.expect)):
            raise ClaimMismatch(claim, self.evidence)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimMismatch):
            c, ev = excinfo.value.claim, excinfo.value.evidence
            lines = [f"{c.id} ({c.source.cite()})", f"statement: {c.statement}",
                     f"verdict {ev.verdict}, expected {c.expect}", ev.summary]
            if ev.counterexample:
                lines.append(f"counterexample params: {ev.counterexample.params}")
            if ev.error:
                lines.append(ev.error)
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[str, int, str]:
        return ("convcheck", 0, f"claim {self.claim_id}")


class ClaimMismatch(Exception):
    def __init__(self, claim: Any, evidence: Any):
        super().__init__(claim.id)
        self.claim, self.evidence = claim, evidence


class ClaimsCollector(pytest.Collector):
    def __init__(self, *, pattern: str, **kw: Any):
        super().__init__(**kw)
        self.pattern = pattern

    def collect(self) -> Iterator[ClaimItem]:
        from convcheck.verify.claims import select

        pats = [] if self.pattern in ("*", "") else [self.pattern]
        for c in select(pats, tier=self.config.getoption("--claims-tier")):
            yield ClaimItem.from_parent(self, name=c.id, claim_id=c.id)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    pattern = config.getoption("--claims")
    if pattern is None:
        return
    collector = ClaimsCollector.from_parent(session, name="convcheck-claims", pattern=pattern)
    new = list(collector.collect())
    # honour -k / -m deselection for claim items as pytest does for ordinary ones
    kw = config.getoption("keyword")
    if kw:
        from _pytest.mark.expression import Expression

        expr = Expression.compile(kw)
        new = [i for i in new if expr.evaluate(lambda name, i=i: name in i.name)]
    items.extend(new)
