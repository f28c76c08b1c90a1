"""Results store: an embedded SQLite database (``./convcheck.sqlite`` by default).

Tables: ``runs`` (metadata), ``results`` (one row per claim and run: verdict, evidence JSON,
counterexample JSON), ``benchmarks`` (timing rows).  Every result is committed as it
arrives, so an interrupted run loses nothing already finished and can be resumed.
A file that is not a convcheck database is refused with a clear error and left untouched.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from convcheck.verify.model import Evidence

SCHEMA_VERSION = 1
APP_ID = 0x63636B31  # "cck1", stored in PRAGMA application_id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'verify',
    seed INTEGER,
    tier TEXT,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id),
    claim_id TEXT NOT NULL,
    paper TEXT NOT NULL,
    verdict TEXT NOT NULL,
    expected TEXT NOT NULL,
    matches INTEGER NOT NULL,
    elapsed_s REAL NOT NULL,
    evidence TEXT NOT NULL,
    claim TEXT NOT NULL,
    PRIMARY KEY (run_id, claim_id)
);
CREATE TABLE IF NOT EXISTS controls (
    run_id TEXT NOT NULL REFERENCES runs(id),
    claim_id TEXT NOT NULL,
    control TEXT NOT NULL,
    kind TEXT NOT NULL,
    verdict TEXT NOT NULL,
    ok INTEGER NOT NULL,
    summary TEXT NOT NULL,
    elapsed_s REAL NOT NULL,
    PRIMARY KEY (run_id, claim_id, control)
);
CREATE TABLE IF NOT EXISTS benchmarks (
    run_id TEXT NOT NULL REFERENCES runs(id),
    core TEXT NOT NULL,
    size REAL,
    backend TEXT,
    implementation TEXT NOT NULL,
    median_s REAL,
    min_s REAL,
    row TEXT NOT NULL
);
"""


class StoreError(ValueError):
    """The database file cannot be used (not SQLite, not convcheck's, unreadable)."""


@dataclass
class StoredResult:
    run_id: str
    claim_id: str
    paper: str
    verdict: str
    expected: str
    stored_matches: bool  # what the rule said when the row was written (kept for audit)
    elapsed_s: float
    evidence: Evidence
    claim: dict[str, Any]

    @property
    def matches(self) -> bool:
        """The verdict rule applied to the stored inputs (verdict, expectation, substitution)."""
        from convcheck.verify.verdict import matches

        return matches(self.verdict, self.expected, self.evidence.substitution)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent.parent,
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment_info() -> dict[str, Any]:
    """Suite version, git commit, package versions and machine, recorded with each run."""
    pkgs = {}
    for name in ("convcheck", "numpy", "scipy", "torch", "cvxpy", "hypothesis", "networkx", "pandas"):
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    from convcheck.verify import __version__

    return {
        "suite_version": __version__,
        "git_commit": _git_commit(),
        "packages": pkgs,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "hostname": platform.node(),
        },
    }


class Store:
    """A convcheck results database.  Use :func:`open_store`."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path

    # -- runs ---------------------------------------------------------------
    def new_run(self, *, seed: int, tier: str, argv: list[str], kind: str = "verify",
                extra: dict[str, Any] | None = None) -> str:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        info = environment_info()
        info["argv"] = argv
        info.update(extra or {})
        with self._tx():
            self.conn.execute(
                "INSERT INTO runs (id, started, status, kind, seed, tier, info) VALUES (?,?,?,?,?,?,?)",
                (run_id, time.time(), "running", kind, seed, tier, json.dumps(info)),
            )
        return run_id

    def finish_run(self, run_id: str, status: str = "finished") -> None:
        with self._tx():
            self.conn.execute("UPDATE runs SET finished = ?, status = ? WHERE id = ?",
                              (time.time(), status, run_id))

    def run(self, run_id: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT id, started, finished, status, kind, seed, tier, info FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            known = [r["id"] for r in self.runs(limit=5)]
            raise StoreError(f"no run {run_id!r} in {self.path}; recent runs: {', '.join(known) or 'none'}")
        return {"id": row[0], "started": row[1], "finished": row[2], "status": row[3], "kind": row[4],
                "seed": row[5], "tier": row[6], **json.loads(row[7])}

    def runs(self, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
        q = "SELECT id FROM runs"
        args: tuple[Any, ...] = ()
        if kind:
            q += " WHERE kind = ?"
            args = (kind,)
        q += " ORDER BY started DESC, rowid DESC LIMIT ?"
        rows = self.conn.execute(q, (*args, limit)).fetchall()
        return [self.run(r[0]) for r in rows]

    def resolve_run(self, ref: str | None, kind: str | None = "verify") -> str:
        """A run id from a reference: ``None``/``latest`` = newest, ``latest~1`` = the one
        before, or a unique prefix of an id."""
        if ref in (None, "latest", "last"):
            runs = self.runs(1, kind)
            if not runs:
                raise StoreError(f"{self.path} holds no {kind or ''} runs yet; run `convcheck verify` first")
            return str(runs[0]["id"])
        assert ref is not None
        if ref.startswith("latest~"):
            try:
                k = int(ref.split("~", 1)[1])
            except ValueError as e:
                raise StoreError(f"bad run reference {ref!r}") from e
            runs = self.runs(k + 1, kind)
            if len(runs) <= k:
                raise StoreError(f"{self.path} has only {len(runs)} runs")
            return str(runs[k]["id"])
        rows = self.conn.execute("SELECT id FROM runs WHERE id LIKE ?", (ref + "%",)).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            known = [r["id"] for r in self.runs(5)]
            raise StoreError(f"no run {ref!r} in {self.path}; recent runs: {', '.join(known) or 'none'}")
        raise StoreError(f"run reference {ref!r} is ambiguous: {', '.join(r[0] for r in rows)}")

    # -- results ------------------------------------------------------------
    def add_result(self, run_id: str, claim: dict[str, Any], evidence: Evidence, expected: str) -> None:
        matches = evidence.matches(expected)
        with self._tx():
            self.conn.execute(
                "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?)",
                (run_id, claim["id"], claim["paper"], str(evidence.verdict), expected, int(matches),
                 evidence.elapsed_s, json.dumps(evidence.to_json()), json.dumps(claim)),
            )

    def results(self, run_id: str) -> list[StoredResult]:
        rows = self.conn.execute(
            "SELECT run_id, claim_id, paper, verdict, expected, matches, elapsed_s, evidence, claim "
            "FROM results WHERE run_id = ? ORDER BY claim_id", (run_id,),
        ).fetchall()
        return [
            StoredResult(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6],
                         Evidence.from_json(json.loads(r[7])), json.loads(r[8]))
            for r in rows
        ]

    def done_claims(self, run_id: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT claim_id FROM results WHERE run_id = ?", (run_id,))}

    # -- controls -------------------------------------------------------------
    def add_control(self, run_id: str, outcome: Any) -> None:
        """Store one :class:`~convcheck.verify.controls.ControlOutcome`."""
        with self._tx():
            self.conn.execute(
                "INSERT OR REPLACE INTO controls VALUES (?,?,?,?,?,?,?,?)",
                (run_id, outcome.claim, outcome.name, outcome.kind, outcome.verdict, int(outcome.ok),
                 outcome.summary, outcome.elapsed_s))

    def control_outcomes(self, claim_id: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """The latest stored outcome of each (claim, control), optionally of one claim."""
        q = ("SELECT c.claim_id, c.control, c.kind, c.verdict, c.ok, c.summary, c.run_id, u.started "
             "FROM controls c JOIN runs u ON u.id = c.run_id")
        args: tuple[Any, ...] = ()
        if claim_id is not None:
            q += " WHERE c.claim_id = ?"
            args = (claim_id,)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for cid, name, kind, verdict, ok, summary, run_id, _ in self.conn.execute(q + " ORDER BY u.started", args):
            out[(cid, name)] = {"kind": kind, "verdict": verdict, "ok": bool(ok), "summary": summary,
                                "run": run_id}
        return out

    def observed_uses(self) -> dict[str, list[str]]:
        """Claim id -> the solver families its check called in its latest stored result."""
        rows = self.conn.execute(
            "SELECT r.claim_id, r.evidence FROM results r JOIN runs u ON u.id = r.run_id "
            "ORDER BY u.started").fetchall()
        out: dict[str, list[str]] = {}
        for cid, ev in rows:
            try:
                called = json.loads(ev).get("solvers_called")
            except (ValueError, AttributeError):
                continue
            if isinstance(called, list):
                out[cid] = [str(x) for x in called]
        return out

    def history(self, claim_id: str, limit: int = 10) -> list[StoredResult]:
        rows = self.conn.execute(
            "SELECT r.run_id FROM results r JOIN runs u ON u.id = r.run_id WHERE r.claim_id = ? "
            "ORDER BY u.started DESC LIMIT ?", (claim_id, limit),
        ).fetchall()
        out = []
        for (rid,) in rows:
            out.extend(x for x in self.results(rid) if x.claim_id == claim_id)
        return out

    # -- benchmarks -----------------------------------------------------------
    def add_benchmarks(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        with self._tx():
            self.conn.executemany(
                "INSERT INTO benchmarks VALUES (?,?,?,?,?,?,?,?)",
                [(run_id, r.get("core"), r.get("size"), r.get("backend"), r.get("implementation"),
                  r.get("median_s"), r.get("min_s"), json.dumps(r)) for r in rows],
            )

    def benchmarks(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT row FROM benchmarks WHERE run_id = ? ORDER BY rowid",
                                 (run_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")  # a failed BEGIN opened nothing to roll back
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()


def open_store(path: str | os.PathLike[str] = "convcheck.sqlite", *, create: bool = True) -> Store:
    """Open (or create) a convcheck database.

    Refuses, without modifying it, a file that is not SQLite or is an SQLite database of
    another application.  ``create=False`` refuses a missing file.
    """
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"{p} is a directory, not a database file")
    exists = p.exists() and p.stat().st_size > 0
    if not exists and not create:
        raise StoreError(f"no database at {p}; run `convcheck verify --db {p}` first")
    if exists:
        try:
            with open(p, "rb") as fh:
                header = fh.read(16)
        except OSError as e:
            raise StoreError(f"cannot read {p}: {e}") from e
        if header != b"SQLite format 3\x00":
            raise StoreError(f"{p} is not an SQLite database (convcheck leaves it untouched)")
        try:
            # a file: URI with the path percent-encoded (a raw '#', '?' or '%' would change it)
            ro = sqlite3.connect(p.resolve().as_uri() + "?mode=ro", uri=True)
            app = ro.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            ro.close()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{p} is not a readable SQLite database: {e}") from e
        if app != APP_ID:
            if not tables:
                raise StoreError(f"{p} is an SQLite database that is not convcheck's (application_id "
                                 f"{app}); convcheck leaves it untouched")
            raise StoreError(
                f"{p} is an SQLite database of another application (tables: "
                f"{', '.join(sorted(tables))}); convcheck leaves it untouched"
            )
    else:
        if p.parent and not p.parent.exists():
            raise StoreError(f"directory {p.parent} does not exist")
    try:
        conn = sqlite3.connect(p, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA application_id={APP_ID}")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        v = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise StoreError(f"cannot open {p}: {e}") from e
    if int(v) != SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{p} has schema version {v}; this convcheck reads version {SCHEMA_VERSION}")
    return Store(conn, str(p))
