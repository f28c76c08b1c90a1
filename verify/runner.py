"""Run selected claims (serially or in worker processes), show progress, store results.

Deterministic given the run seed: each claim's instances depend only on ``(seed, claim id)``.
Every result is committed to the store the moment it arrives; ``resume`` skips claims a
previous (interrupted) run already finished.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, TextIO

from convcheck.verify.claims import Claim, load_registry
from convcheck.verify.engine import ClaimTimeout, evaluate
from convcheck.verify.model import Evidence, Verdict
from convcheck.verify.solverset import SolverSet, parse_solver_spec
from convcheck.verify.store import Store

GRACE_S = 30.0


@dataclass
class RunOutcome:
    claim: Claim
    evidence: Evidence

    @property
    def matches(self) -> bool:
        return self.evidence.matches(str(self.claim.expect))


def _alarm(signum: int, frame: Any) -> None:
    raise ClaimTimeout()


def evaluate_with_limit(claim: Claim, seed: int, tier: str, solvers: SolverSet,
                        time_limit_s: float | None) -> Evidence:
    """``evaluate`` with a hard wall-clock guard (SIGALRM, main thread only) on top of the
    engine's own soft deadline."""
    limit = min(claim.time_limit_s, time_limit_s or float("inf"))
    use_alarm = hasattr(signal, "SIGALRM") and limit != float("inf")
    if use_alarm:
        try:
            old = signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, limit + GRACE_S)
        except ValueError:  # not in the main thread
            use_alarm = False
    t0 = time.monotonic()
    try:
        return evaluate(claim, seed=seed, tier=tier, solvers=solvers, time_limit_s=limit)
    except ClaimTimeout:
        return Evidence(claim=claim.id, verdict=Verdict.INCONCLUSIVE,
                        summary=f"hard time limit {limit + GRACE_S:.0f}s exceeded",
                        elapsed_s=time.monotonic() - t0, seed=seed, tier=tier)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def _worker_init(paper_modules: Sequence[str] = (), process_worker: bool = True) -> None:
    """A worker process: dies with its parent (Linux), ignores Ctrl-C (the driver handles it),
    one BLAS/OpenMP thread (threadpoolctl caps OpenBLAS, MKL, BLIS and OpenMP whatever was
    loaded first), one torch thread, and the same papers as the driver."""
    if process_worker and sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - no glibc
            pass
    if process_worker:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-style stacks
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    from convcheck.verify.claims import add_paper_modules

    add_paper_modules(paper_modules)


_WORKER_READY: list[bool] = []


def _work(claim_id: str, seed: int, tier: str, solver_specs: Sequence[str],
          time_limit_s: float | None, differential: bool = True,
          paper_modules: Sequence[str] | None = None) -> dict[str, Any]:
    """One claim in a worker (process pool or Dask); returns the evidence as JSON.  A Dask
    worker is initialised on its first task (thread caps, the driver's papers)."""
    if paper_modules is not None and not _WORKER_READY:
        _worker_init(paper_modules, process_worker=False)
        _WORKER_READY.append(True)
    reg = load_registry()
    claim = reg[claim_id]
    solvers = SolverSet(dict(parse_solver_spec(s) for s in solver_specs), differential=differential)
    return evaluate_with_limit(claim, seed, tier, solvers, time_limit_s).to_json()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class Progress:
    """One line per finished claim; on a terminal, a live status line as well; and, for a
    claim still running after ``heartbeat_s`` seconds (full-tier training claims run for
    minutes), a "still running" line every ``heartbeat_s`` from a background thread."""

    def __init__(self, total: int, stream: TextIO | None = None, quiet: bool = False,
                 heartbeat_s: float = 60.0, expected_s: dict[str, float] | None = None, parallel: int = 1):
        #: claim id -> its recorded cost (seconds, from the store's latest result), for the ETA
        self.expected_s = dict(expected_s or {})
        self.parallel = max(parallel, 1)
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.t0 = time.monotonic()
        self.heartbeat_s = heartbeat_s
        self.running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def started(self, claim_id: str) -> None:
        with self._lock:
            self.running[claim_id] = time.monotonic()
            if self.tty and not self.quiet:
                self.stream.write(f"\r\033[K[{self.done}/{self.total}] running {claim_id} ...")
                self.stream.flush()
        if not self.quiet and self.heartbeat_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="convcheck-progress",
                                            daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            now = time.monotonic()
            with self._lock:
                for claim_id, t in self.running.items():
                    if now - t >= self.heartbeat_s:
                        lead = "\r\033[K" if self.tty else ""
                        self.stream.write(f"{lead}  ... {claim_id} still running "
                                          f"({now - t:.0f} s)\n")
                self.stream.flush()

    def close(self) -> None:
        """Stop the heartbeat thread (idempotent)."""
        self._stop.set()

    def finished(self, out: RunOutcome) -> None:
        with self._lock:
            self.running.pop(out.claim.id, None)
            self.done += 1
            if self.quiet:
                return
            ev = out.evidence
            mark = "ok " if out.matches else "!! "
            exp = "" if out.matches else f" (expected {out.claim.expect})"
            for sub in ev.substitution:
                agree = "agrees" if sub["agrees"] else "DISAGREES"
                ratio = sub.get("speed_ratio")
                exp += (f" [{sub['family']}: {agree}, max rel diff {sub['max_rel_diff']:.2g}"
                        + (f", {ratio:.2f}x reference time" if ratio else "") + "]")
            self.expected_s.pop(out.claim.id, None)
            left = self.total - self.done
            eta = ""
            if left and self.expected_s:
                eta = f"  (ETA ~{_duration(sum(self.expected_s.values()) / self.parallel)} from recorded costs)"
            line = (f"[{self.done}/{self.total}] {mark}{ev.verdict:<12} {out.claim.id}{exp} "
                    f"{ev.elapsed_s:.1f}s{eta}")
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(line + "\n")
            self.stream.flush()


def run_claims(
    claims: Sequence[Claim],
    *,
    seed: int = 0,
    tier: str = "fast",
    jobs: int = 1,
    solver_specs: Sequence[str] = (),
    differential: bool = True,
    executor: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    store: Store | None = None,
    run_id: str | None = None,
    time_limit_s: float | None = None,
    progress: Progress | None = None,
    skip: Iterable[str] = (),
    on_result: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """Evaluate ``claims`` and return their outcomes in the order given."""
    skip = set(skip)
    todo = [c for c in claims if c.id not in skip]
    progress = progress or Progress(len(todo), quiet=True)
    results: dict[str, RunOutcome] = {}

    def record(claim: Claim, ev: Evidence) -> None:
        out = RunOutcome(claim, ev)
        results[claim.id] = out
        if store is not None and run_id is not None:
            store.add_result(run_id, claim.to_json(), ev, str(claim.expect))
        progress.finished(out)
        if on_result:
            on_result(out)

    try:
        if executor == "dask":
            _run_dask(todo, seed, tier, solver_specs, time_limit_s, progress, record, differential,
                      workers=workers or jobs, scheduler=scheduler)
        else:
            _run(todo, seed, tier, 1 if executor == "serial" else jobs, solver_specs, time_limit_s, progress,
                 record, differential)
    finally:
        progress.close()
    return [results[c.id] for c in todo if c.id in results]


def _run(todo: list[Claim], seed: int, tier: str, jobs: int, solver_specs: Sequence[str],
         time_limit_s: float | None, progress: Progress,
         record: Callable[[Claim, Evidence], None], differential: bool = True) -> None:
    """Evaluate ``todo`` in this process or in ``jobs`` spawned workers, recording each."""
    if jobs <= 1 or len(todo) <= 1:
        solvers = SolverSet(dict(parse_solver_spec(s) for s in solver_specs), differential=differential)
        for c in todo:
            progress.started(c.id)
            record(c, evaluate_with_limit(c, seed, tier, solvers.fresh(), time_limit_s))
    else:
        _run_pool(todo, seed, tier, jobs, solver_specs, time_limit_s, progress, record, differential)


def _run_dask(todo: list[Claim], seed: int, tier: str, solver_specs: Sequence[str], time_limit_s: float | None,
              progress: Progress, record: Callable[[Claim, Evidence], None], differential: bool, *,
              workers: int, scheduler: str | None) -> None:
    """Claims as Dask tasks: a ``LocalCluster`` of ``workers`` single-threaded worker processes,
    or the cluster at ``scheduler`` (dask-jobqueue, dask-kubernetes, dask-gateway...).  Results
    stream back to this driver, which alone writes the store; a task whose worker dies is
    retried elsewhere (``retries=1``).  Each task's result depends only on (seed, claim), never
    on where or when it ran."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise RuntimeError("the dask executor needs dask.distributed: pip install 'convcheck[dask]'") from e
    from convcheck.verify.claims import _EXTRA

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {}
        for c in todo:
            progress.started(c.id)
            fut = client.submit(_work, c.id, seed, tier, list(solver_specs), time_limit_s, differential,
                                list(_EXTRA), key=f"convcheck-{seed}-{tier}-{c.id}", pure=False, retries=1)
            futures[fut] = c
        for fut in as_completed(list(futures)):
            c = futures[fut]
            try:
                ev = Evidence.from_json(fut.result())
            except Exception as e:  # noqa: BLE001 - a task that failed twice is an ERROR of that claim
                ev = _dead_worker_evidence(c, seed, tier, f"{type(e).__name__}: {e}")
            record(c, ev)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _pool(jobs: int) -> ProcessPoolExecutor:
    from convcheck.verify.claims import _EXTRA

    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_worker_init,
                               initargs=(list(_EXTRA),))


def _dead_worker_evidence(c: Claim, seed: int, tier: str, why: str) -> Evidence:
    from convcheck.verify.store import INFRASTRUCTURE

    return Evidence(claim=c.id, verdict=Verdict.ERROR, summary=f"{INFRASTRUCTURE}: {why}", seed=seed, tier=tier,
                    error=f"{INFRASTRUCTURE}: {why}")


def _run_pool(todo: list[Claim], seed: int, tier: str, jobs: int, solver_specs: Sequence[str],
              time_limit_s: float | None, progress: Progress,
              record: Callable[[Claim, Evidence], None], differential: bool) -> None:
    """Claims in ``jobs`` spawned workers.  A worker that dies (killed, segfault) costs only the
    claim it was running: the claims in flight when the pool broke are retried one at a time
    in a fresh single-worker pool; a claim that kills its worker again is an ERROR
    ("worker died"), the others finish."""
    from concurrent.futures.process import BrokenProcessPool

    args = (seed, tier, list(solver_specs), time_limit_s, differential)
    queue = list(todo)
    suspects: list[Claim] = []
    while queue or suspects:
        for c in suspects:  # isolate: one fresh worker per suspect
            with _pool(1) as solo:
                try:
                    ev = Evidence.from_json(solo.submit(_work, c.id, *args).result())
                except BrokenProcessPool as e:
                    ev = _dead_worker_evidence(c, seed, tier, f"the worker process ended abruptly ({e})")
            record(c, ev)
        suspects = []
        if not queue:
            break
        pool = _pool(jobs)
        pending: dict[Future[dict[str, Any]], Claim] = {}
        try:
            while queue or pending:
                while queue and len(pending) < jobs:
                    c = queue.pop(0)
                    progress.started(c.id)
                    pending[pool.submit(_work, c.id, *args)] = c
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    c = pending.pop(fut)
                    try:
                        ev = Evidence.from_json(fut.result())
                    except BrokenProcessPool:
                        suspects.append(c)
                        continue
                    except Exception as e:  # noqa: BLE001 - a result that cannot be read is an ERROR
                        ev = Evidence(claim=c.id, verdict=Verdict.ERROR,
                                      summary=f"worker failed: {type(e).__name__}: {e}",
                                      seed=seed, tier=tier, error=repr(e))
                    record(c, ev)
                if suspects:
                    suspects.extend(pending.values())
                    pending.clear()
                    break
        except BaseException:  # Ctrl-C / SIGTERM in the driver: stop the workers now, quietly
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
