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

SCHEMA_VERSION = 2
#: version -> the SQL that takes a database from that version to the next (applied in order,
#: in one transaction, when a read-write command opens an older database)
MIGRATIONS: dict[int, str] = {
    1: """CREATE TABLE IF NOT EXISTS controls (
        run_id TEXT NOT NULL REFERENCES runs(id), claim_id TEXT NOT NULL, control TEXT NOT NULL,
        kind TEXT NOT NULL, verdict TEXT NOT NULL, ok INTEGER NOT NULL, summary TEXT NOT NULL,
        elapsed_s REAL NOT NULL, PRIMARY KEY (run_id, claim_id, control));
       CREATE INDEX IF NOT EXISTS results_by_claim ON results (claim_id);""",
}
#: how long a finished result waits for a locked database before going to a sidecar file
WRITE_PATIENCE_S = 120.0
#: summary prefix of an ERROR that the infrastructure caused (a dead worker), not the claim
INFRASTRUCTURE = "worker died"
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


def _process_alive(pid: Any, host: Any) -> bool:
    """Whether process ``pid`` on ``host`` may still be running (unknown hosts: assume yes)."""
    if not isinstance(pid, int) or host != platform.node():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _git_dirty() -> bool | None:
    """Whether the working directory's repository has uncommitted changes (None outside git)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                             text=True, timeout=5, cwd=os.getcwd())
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def _threadpools() -> list[dict[str, Any]]:
    """The BLAS / OpenMP thread pools of this process (threadpoolctl), recorded with a run."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return []
    return [{k: d.get(k) for k in ("user_api", "internal_api", "num_threads")} for d in threadpool_info()]


def _git_commit(where: str | os.PathLike[str] | None = None) -> str | None:
    """The git commit of the repository at ``where`` (default: the working directory, i.e. the
    user's repository), or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=where or os.getcwd(),
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
        "git_commit": _git_commit(),  # the repository the run was started in (the user's)
        "git_dirty": _git_dirty(),
        "convcheck_git_commit": _git_commit(Path(__file__).resolve().parent.parent),
        "threadpools": _threadpools(),
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
        info["pid"] = os.getpid()
        info["host"] = platform.node()
        info.update(extra or {})
        with self._tx():
            self.conn.execute(
                "INSERT INTO runs (id, started, status, kind, seed, tier, info) VALUES (?,?,?,?,?,?,?)",
                (run_id, time.time(), "running", kind, seed, tier, json.dumps(info)),
            )
        return run_id

    def reopen_run(self, run_id: str) -> None:
        """Mark a resumed run as running in this process."""
        info = self.run(run_id)
        extra = {k: v for k, v in info.items()
                 if k not in ("id", "started", "finished", "status", "kind", "seed", "tier")}
        extra.update(pid=os.getpid(), host=platform.node())
        with self._tx():
            self.conn.execute("UPDATE runs SET status = 'running', finished = NULL, info = ? WHERE id = ?",
                              (json.dumps(extra), run_id))

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
        info = json.loads(row[7])
        status = row[3]
        if status == "running" and not _process_alive(info.get("pid"), info.get("host")):
            status = "interrupted"  # its process is gone: resumable, not running
        return {"id": row[0], "started": row[1], "finished": row[2], "status": status, "kind": row[4],
                "seed": row[5], "tier": row[6], **info}

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
        """Store one finished result.  Lock contention is retried with backoff (up to
        ``WRITE_PATIENCE_S``); if the database still refuses, the result goes to a sidecar JSON
        file beside it (named in the error) rather than being lost."""
        matches = evidence.matches(expected)
        row = (run_id, claim["id"], claim["paper"], str(evidence.verdict), expected, int(matches),
               evidence.elapsed_s, json.dumps(evidence.to_json()), json.dumps(claim))
        deadline = time.monotonic() + WRITE_PATIENCE_S
        delay = 0.05
        while True:
            try:
                with self._tx():
                    self.conn.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?)", row)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if time.monotonic() > deadline:
                    side = Path(f"{self.path}.{run_id}.pending.jsonl")
                    with open(side, "a") as fh:
                        fh.write(json.dumps({"run_id": run_id, "claim": claim, "expected": expected,
                                             "evidence": evidence.to_json()}) + "\n")
                    raise StoreError(f"{self.path} stayed locked for {WRITE_PATIENCE_S:.0f} s; the result of "
                                     f"{claim['id']} was written to {side} instead") from e
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

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

    def done_claims(self, run_id: str, *, final_only: bool = False) -> set[str]:
        """Claims with a stored result; ``final_only`` leaves out results that an
        infrastructure fault produced (a worker that died), so a resume redoes them."""
        rows = self.conn.execute("SELECT claim_id, verdict, evidence FROM results WHERE run_id = ?",
                                 (run_id,)).fetchall()
        if not final_only:
            return {r[0] for r in rows}
        return {cid for cid, verdict, ev in rows
                if not (verdict == "ERROR" and json.loads(ev).get("summary", "").startswith(INFRASTRUCTURE))}

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
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='controls'").fetchone():
            return {}  # a database written before controls existed
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
        """The claim's latest ``limit`` results, newest first (one query)."""
        rows = self.conn.execute(
            "SELECT r.run_id, r.claim_id, r.paper, r.verdict, r.expected, r.matches, r.elapsed_s, r.evidence, "
            "r.claim FROM results r JOIN runs u ON u.id = r.run_id WHERE r.claim_id = ? "
            "ORDER BY u.started DESC LIMIT ?", (claim_id, limit),
        ).fetchall()
        return [StoredResult(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6],
                             Evidence.from_json(json.loads(r[7])), json.loads(r[8])) for r in rows]

    def recorded_costs(self, claim_ids: list[str]) -> dict[str, float]:
        """Claim id -> seconds its latest stored result took (for progress ETAs)."""
        out: dict[str, float] = {}
        for cid, elapsed in self.conn.execute(
                "SELECT r.claim_id, r.elapsed_s FROM results r JOIN runs u ON u.id = r.run_id "
                "ORDER BY u.started"):
            out[cid] = float(elapsed)
        return {c: out[c] for c in claim_ids if c in out}

    def verdict_counts(self, run_id: str) -> dict[str, int]:
        return {v: n for v, n in self.conn.execute(
            "SELECT verdict, COUNT(*) FROM results WHERE run_id = ? GROUP BY verdict", (run_id,))}

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


def _read_only_uri(p: Path) -> str:
    """A read-only ``file:`` URI for ``p``, its path percent-encoded (a raw '#', '?' or '%'
    would change the URI).  Without a -wal file nothing is mid-write, and the file is read as
    immutable (no -wal/-shm side files are created); with one, its content must be read
    through the shared-memory index that comes with it."""
    wal = Path(f"{p}-wal")
    return p.resolve().as_uri() + ("?mode=ro" if wal.exists() else "?mode=ro&immutable=1")


def open_store(path: str | os.PathLike[str] = "convcheck.sqlite", *, create: bool = True,
               readonly: bool = False) -> Store:
    """Open (or create) a convcheck database.

    Refuses, without modifying it, a file that is not SQLite or is an SQLite database of
    another application.  ``create=False`` refuses a missing file.  ``readonly=True`` (the
    commands that only read: show, report, compare) opens it read-only and never writes —
    it works on read-only storage and leaves no -wal/-shm files behind.
    """
    if readonly:
        create = False
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
            ro = sqlite3.connect(_read_only_uri(p), uri=True)
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
    if readonly:
        try:
            conn = sqlite3.connect(_read_only_uri(p), uri=True, isolation_level=None, timeout=30)
            v = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
            conn.execute("SELECT run_id, claim_id, verdict, evidence FROM results LIMIT 1").fetchall()
        except (sqlite3.DatabaseError, TypeError) as e:
            raise StoreError(f"{p} is a damaged convcheck database: {e}") from e
        if int(v) > SCHEMA_VERSION:
            conn.close()
            raise StoreError(f"{p} was written by a newer convcheck (schema {v}; this one reads up to "
                             f"{SCHEMA_VERSION}): upgrade convcheck")
        return Store(conn, str(p))  # an older schema reads as it is (its missing tables read empty)
    try:
        conn = sqlite3.connect(p, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA application_id={APP_ID}")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        v = int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
        if v > SCHEMA_VERSION:
            conn.close()
            raise StoreError(f"{p} was written by a newer convcheck (schema {v}; this one reads up to "
                             f"{SCHEMA_VERSION}): upgrade convcheck")
        if v < SCHEMA_VERSION:  # migrate forward, keeping every stored row, after a backup copy
            import shutil

            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy2(p, f"{p}.bak-{v}")
            conn.execute("BEGIN IMMEDIATE")
            for step in range(v, SCHEMA_VERSION):
                for stmt in MIGRATIONS[step].split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except (sqlite3.DatabaseError, ValueError, TypeError) as e:
        raise StoreError(f"cannot open {p}: {e}") from e
    return Store(conn, str(p))


def results_frame(store: Store, runs: list[str] | None = None) -> Any:
    """Stored results as a pandas DataFrame, one row per (run, claim): run metadata, verdict,
    expectation, whether it matches, tightness, time, instance counts, the seed and the
    counterexample parameters (JSON).  ``runs=None``: every run."""
    import pandas as pd

    q = ("SELECT r.run_id, u.started, u.seed AS run_seed, u.tier, r.claim_id, r.paper, r.verdict, r.expected, "
         "r.elapsed_s, r.evidence, r.claim, u.info FROM results r JOIN runs u ON u.id = r.run_id")
    args: tuple[Any, ...] = ()
    if runs:
        q += f" WHERE r.run_id IN ({','.join('?' * len(runs))})"
        args = tuple(runs)
    from convcheck.verify.verdict import matches

    rows = []
    for run_id, started, seed, tier, cid, paper, verdict, expected, elapsed, ev, cl, info in store.conn.execute(
            q + " ORDER BY u.started, r.claim_id", args):
        e, c, i = json.loads(ev), json.loads(cl), json.loads(info)
        cx = e.get("counterexample")
        row = {"run_id": run_id, "started": pd.Timestamp(started, unit="s"), "seed": seed, "tier": tier,
               "claim": cid, "paper": paper, "verdict": verdict, "expected": expected,
               "matches": matches(verdict, expected, e.get("substitution")), "finding": c.get("finding"),
               "tightness": e.get("tightness"), "elapsed_s": elapsed,
               "n_instances": e.get("n_instances"), "n_failed": e.get("n_failed"),
               "solvers": ",".join(i.get("solvers") or []),
               "counterexample": json.dumps(cx.get("params")) if cx else None}
        for k, v in (e.get("metrics") or {}).items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                row[f"metric.{k}"] = v
        rows.append(row)
    cols = ["run_id", "started", "seed", "tier", "claim", "paper", "verdict", "expected", "matches", "finding",
            "tightness", "elapsed_s", "n_instances", "n_failed", "solvers", "counterexample"]
    df = pd.DataFrame(rows)
    return df if len(df) else pd.DataFrame(columns=cols)


def load_results(path: str | os.PathLike[str] = "convcheck.sqlite", run: str | None = None,
                 runs: list[str] | None = None) -> Any:
    """Results of a convcheck database as a pandas DataFrame (see :func:`results_frame`): one
    ``run`` or several ``runs`` (ids or references: ``latest``, ``latest~1``, prefixes), or all."""
    if run is not None:
        runs = [run, *(runs or [])]
    store = open_store(path, readonly=True)
    try:
        ids = [store.resolve_run(r, kind=None) for r in runs] if runs else None
        return results_frame(store, ids)
    finally:
        store.close()
