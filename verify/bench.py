r"""Benchmark harness: ``convcheck bench``.

Times the performance-critical cores (registered by the papers with ``@bench_core``) on every available backend,
side by side with peers and baselines measured **in the same run on the same inputs**, next
to machine references measured in the same run, and records rows in the results store.

Method
------
* **Interleaving.**  For one case (core, size) every implementation is warmed up once (that
  call also yields the deterministic proxy metrics: iterations, matrix-vector products,
  certified error bounds), calibrated to a sample length, and then timed in ``rounds``
  rounds; the order of implementations alternates between rounds, so machine noise hits
  all of them alike.  A row reports the ``min_s`` and ``median_s`` over rounds of the
  per-call time.  CUDA implementations call ``torch.cuda.synchronize()`` before the clock
  stops.
* **Ratios.**  ``ratio_to_peer`` is a *speed-up*: ``peer time / implementation time`` per
  unit of work (``units``: e.g. backups for value iteration, else 1); above 1 means the
  implementation is faster.  Each implementation row names its primary ``peer``
  (the third-party peer when ``--peers`` is given and installed, else a baseline) and
  lists every other comparison in ``ratios``.
* **Limits.**  Machine references are measured first in the same run: dense GEMM GFLOP/s,
  LU (``getrf``) GFLOP/s, streaming bandwidth (array copy, GB/s).  A row's ``limit`` says
  which one bounds it (``flops-bound: LU``, ``bandwidth-bound: stream``) and
  ``fraction_of_limit`` is the achieved rate over that reference.
* **Threads.**  The machine may be shared; BLAS and torch are pinned to
  ``CONVCHECK_BENCH_THREADS`` threads (default 1; ``0`` leaves them alone) for the whole run,
  references included, and the setting is recorded with the run.
* **Scaling.**  Every (core, backend, implementation) with three or more sizes gets a
  log-log fit ``time ~ C size^p`` (:func:`verify.checks.fit_power_law`, bootstrap CI).
* **Targets.**  :func:`evaluate_targets` turns rows into the papers' pass/fail targets (``@bench_targets``);
  they are a pure function of the rows, so a stored run can be re-judged.
* **Regressions.**  :func:`compare_bench` flags a speed regression only when the new
  ``[min, median]`` range lies entirely above the old one *and* the medians differ by more
  than a factor (default 1.25), and flags any increase of a deterministic proxy metric.

The same case builders back ``tests/benchmarks/bench_cores.py`` (pytest-benchmark).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------
# Environment: threads, devices
# ---------------------------------------------------------------------------


#: the threadpool limiter of this process, kept alive for the whole benchmark run
_LIMITS: list[Any] = []


def set_threads(n: int) -> dict[str, Any]:
    """Limit every BLAS / OpenMP thread pool loaded in this process (threadpoolctl: OpenBLAS,
    MKL, BLIS, OpenMP, whichever numpy, scipy and torch loaded) and torch to ``n`` threads;
    returns what was done.  ``n <= 0`` changes nothing."""
    done: dict[str, Any] = {"requested": n, "blas": [], "torch": None}
    if n <= 0:
        return done
    import scipy.linalg
    import scipy.sparse.linalg  # noqa: F401
    from threadpoolctl import threadpool_info, threadpool_limits

    _LIMITS.append(threadpool_limits(limits=n))
    done["blas"] = [f"{d.get('internal_api')}:{d.get('num_threads')}" for d in threadpool_info()]
    try:
        import torch

        torch.set_num_threads(n)
        done["torch"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return done


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def device_info() -> dict[str, Any]:
    """CPU model, core count, torch/CUDA versions, GPU name and driver (when present)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cpus": os.cpu_count(), "numpy": np.__version__}
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda_available"] = bool(torch.cuda.is_available())
        info["torch_cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            cap = torch.cuda.get_device_capability(0)
            info["gpu_capability"] = f"{cap[0]}.{cap[1]}"
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                     capture_output=True, text=True, timeout=10)
                info["gpu_driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
            except (OSError, subprocess.SubprocessError, IndexError):
                info["gpu_driver"] = None
    except ImportError:  # pragma: no cover
        info["torch"] = None
    return info


def peer_available(module: str) -> bool:
    """Whether an optional peer package can be imported (imported lazily, never required)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ---------------------------------------------------------------------------
# Cases and timing
# ---------------------------------------------------------------------------


@dataclass
class Impl:
    """One implementation of a case.  ``fn`` takes no arguments (inputs are bound).

    ``role`` is ``implementation`` (ours), ``peer`` (third party) or ``baseline`` (a
    reference solver, a bare formula, a Python loop).  ``describe(result)`` maps the
    warm-up result to deterministic proxy metrics; the special keys ``units`` (work units per
    call for per-unit ratios), ``limit_kind`` (``flops``/``bandwidth``) and ``work`` (flops or
    bytes per call) set the limit accounting."""

    name: str
    fn: Callable[[], Any]
    backend: str = "numpy"
    role: str = "implementation"
    describe: Callable[[Any], dict[str, Any]] | None = None
    sync: Callable[[], None] | None = None
    device: str = "cpu"


@dataclass
class Case:
    core: str
    size: float
    impls: list[Impl]
    #: implementation name -> primary peer name
    compare: dict[str, str] = field(default_factory=dict)
    #: implementation name -> further comparisons (names)
    also: dict[str, list[str]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timing:
    samples: list[float]
    number: int
    proxies: dict[str, Any]

    @property
    def min_s(self) -> float:
        return min(self.samples)

    @property
    def median_s(self) -> float:
        return float(statistics.median(self.samples))


def _call(im: Impl, n: int) -> tuple[float, Any]:
    out = None
    t0 = time.perf_counter()
    for _ in range(n):
        out = im.fn()
    if im.sync is not None:
        im.sync()
    return time.perf_counter() - t0, out


class ImplTimeout(Exception):
    """An implementation's warm-up call exceeded the per-implementation time limit."""


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`ImplTimeout` in the main thread after ``seconds`` (SIGALRM; a no-op where
    unavailable).  Interrupts Python-level loops; a long C call is interrupted when it returns."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise ImplTimeout(f"exceeded {seconds:g}s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, old)


def time_case(case: Case, *, rounds: int, sample_s: float, budget_s: float,
              impl_timeout_s: float | None = None, log: Callable[[str], None] | None = None
              ) -> dict[str, Timing]:
    """Warm up, calibrate and time every implementation of ``case`` in interleaved rounds.

    Rounds stop early (but never before 3) when the case has used ``budget_s`` seconds.  An
    implementation whose warm-up call exceeds ``impl_timeout_s`` is dropped from the case
    (logged; its row is absent) instead of stalling the run."""
    number: dict[str, int] = {}
    proxies: dict[str, dict[str, Any]] = {}
    dropped = []
    for im in case.impls:
        try:
            with _time_limit(impl_timeout_s):
                t, out = _call(im, 1)  # warm-up; its result gives the proxy metrics
                if im.sync is not None or t < 1.0:  # calibrate on a warm call (caches, lazy init)
                    t, out = _call(im, 1)
        except ImplTimeout as e:
            dropped.append(im)
            if log:
                log(f"    {im.name} [{im.backend}] dropped: warm-up call {e}")
            continue
        proxies[_key(im)] = im.describe(out) if im.describe else {}
        number[_key(im)] = int(min(10_000, max(1, math.ceil(sample_s / max(t, 1e-7)))))
    impls = [im for im in case.impls if im not in dropped]
    case.impls[:] = impls
    samples: dict[str, list[float]] = {_key(im): [] for im in impls}
    start = time.perf_counter()
    for r in range(rounds):
        order = impls if r % 2 == 0 else impls[::-1]
        for im in order:
            k = _key(im)
            t, _ = _call(im, number[k])
            samples[k].append(t / number[k])
        if r >= 2 and time.perf_counter() - start > budget_s:
            break
    return {_key(im): Timing(samples[_key(im)], number[_key(im)], proxies[_key(im)]) for im in impls}


# ---------------------------------------------------------------------------
# Machine references
# ---------------------------------------------------------------------------


def machine_references(quick: bool) -> dict[str, dict[str, float]]:
    """Dense GEMM and LU rates (GFLOP/s) and streaming copy bandwidth (GB/s), best of a few
    repetitions (peak rates are the relevant limits)."""
    import scipy.linalg as sla

    rng = np.random.default_rng(0)
    reps = 3 if quick else 5
    n = 1024
    A = rng.standard_normal((n, n))
    B = rng.standard_normal((n, n))
    A @ B
    t = min(_timeit(lambda: A @ B) for _ in range(reps))
    gemm = 2.0 * n**3 / t / 1e9
    m = 1500
    M = rng.standard_normal((m, m)) + m * np.eye(m)
    t = min(_timeit(lambda: sla.lu_factor(M, check_finite=False)) for _ in range(reps))
    lu = (2.0 / 3.0) * m**3 / t / 1e9
    k = 1 << 24  # 128 MiB per array, far beyond cache
    src = np.ones(k)
    dst = np.empty(k)
    np.copyto(dst, src)
    t = min(_timeit(lambda: np.copyto(dst, src)) for _ in range(reps))
    stream = 16.0 * k / t / 1e9  # read + write
    return {"gemm": {"value": gemm, "unit": "GFLOP/s", "size": n},
            "lu": {"value": lu, "unit": "GFLOP/s", "size": m},
            "stream": {"value": stream, "unit": "GB/s", "size": k}}


def _timeit(f: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------
# Core definitions
# ---------------------------------------------------------------------------


@dataclass
class Context:
    quick: bool
    backends: list[str]  # numpy, torch-cpu, torch-cuda
    peers: bool
    seed: int = 0


@dataclass
class Core:
    name: str
    title: str
    sizes_quick: list[int]
    sizes_full: list[int]
    build: Callable[[int, Context], Case]
    size_label: str = "S"
    module: str = ""


# ---------------------------------------------------------------------------
# Registry: papers register their cores and targets
# ---------------------------------------------------------------------------

#: core name -> Core, filled by ``@bench_core`` in the papers' ``bench`` modules
CORES: dict[str, Core] = {}
#: target functions ``(rows, add) -> None``, filled by ``@bench_targets``
TARGETS: list[Callable[[list[dict[str, Any]], Callable[..., None]], None]] = []


def bench_core(name: str, title: str, *, quick: list[int], full: list[int],
               size_label: str = "S") -> Callable[[Callable[[int, Context], Case]], Callable[[int, Context], Case]]:
    """Register the decorated case builder ``(size, ctx) -> Case`` as benchmark core ``name``.

    ``quick`` are the sizes of ``convcheck bench --quick``, ``full`` those of a full run."""

    def deco(build: Callable[[int, Context], Case]) -> Callable[[int, Context], Case]:
        other = CORES.get(name)
        if other is not None and other.module != build.__module__:
            raise RuntimeError(f"benchmark core {name!r} registered twice: in {other.module} and {build.__module__}")
        CORES[name] = Core(name, title, list(quick), list(full), build, size_label, build.__module__)
        return build

    return deco


def bench_targets(fn: Callable[[list[dict[str, Any]], Callable[..., None]], None]
                  ) -> Callable[[list[dict[str, Any]], Callable[..., None]], None]:
    """Register ``fn(rows, add)``: it judges targets from rows and calls
    ``add(id, text, measured, met)`` for each (``met`` None when not measured in this run)."""
    if fn not in TARGETS:
        TARGETS.append(fn)
    return fn


def load_cores() -> dict[str, Core]:
    """Import the ``bench`` module of every discovered paper package (by convention)."""
    import importlib.util

    from convcheck.verify.claims import SOURCES, load_registry

    load_registry()
    for mod in list(SOURCES):
        name = f"{mod}.bench"
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            importlib.import_module(name)
    return CORES


def torch_impls(name: str, make: Callable[[str], Callable[[], Any]], ctx: Context,
                 describe: Callable[[Any], dict[str, Any]] | None = None,
                 role: str = "implementation") -> list[Impl]:
    out = []
    for be in ctx.backends:
        if not be.startswith("torch-"):
            continue
        dev = "cuda" if be == "torch-cuda" else "cpu"
        sync = None
        if dev == "cuda":
            import torch

            sync = torch.cuda.synchronize
        out.append(Impl(name, make(dev), backend=be, role=role, describe=describe, sync=sync, device=dev))
    return out


def lu_work(S: float) -> dict[str, Any]:
    return {"limit_kind": "flops", "work": (2.0 / 3.0) * S**3 + 2.0 * S**2}


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------

ROW_KEYS = ("core", "size", "backend", "implementation", "median_s", "min_s", "peer", "ratio_to_peer",
            "limit", "fraction_of_limit")


def _key(im: Impl) -> str:
    return im.name + "@" + im.backend


def case_rows(case: Case, timings: dict[str, Timing], refs: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Rows of one timed case (see the module docstring for the ratio and limit rules)."""
    key_of: dict[str, str] = {}
    for im in case.impls:  # a name refers to its first (CPU) implementation
        key_of.setdefault(im.name, _key(im))

    def per_unit(key: str) -> float:
        t = timings[key]
        return t.median_s / float(t.proxies.get("units", 1) or 1)

    rows = []
    for im in case.impls:
        me = _key(im)
        t = timings[me]
        prox = dict(t.proxies)
        units = prox.pop("units", 1)
        kind = prox.pop("limit_kind", None)
        work = prox.pop("work", None)
        peer = case.compare.get(me) or (case.compare.get(im.name) if me == key_of[im.name] else None)
        ratio = per_unit(key_of[peer]) / per_unit(me) if peer in key_of else None
        also = case.also.get(im.name, []) if me == key_of[im.name] else []
        ratios = {o: per_unit(key_of[o]) / per_unit(me) for o in also if o in key_of}
        limit = fraction = None
        if kind == "flops" and work and im.device == "cpu":
            ref = refs.get("lu", {}).get("value")
            limit = f"flops-bound: LU {ref:.3g} GFLOP/s" if ref else None
            fraction = work / t.median_s / 1e9 / ref if ref else None
        elif kind == "bandwidth" and work and im.device == "cpu":
            ref = refs.get("stream", {}).get("value")
            limit = f"bandwidth-bound: stream {ref:.3g} GB/s" if ref else None
            fraction = work / t.median_s / 1e9 / ref if ref else None
        rows.append({
            "core": case.core, "size": case.size, "backend": im.backend, "implementation": im.name,
            "median_s": t.median_s, "min_s": t.min_s,
            "peer": peer if peer in key_of else None, "ratio_to_peer": ratio,
            "limit": limit, "fraction_of_limit": fraction,
            "role": im.role, "device": im.device, "rounds": len(t.samples), "number": t.number,
            "units": units, "ratios": ratios or None, "params": case.params, **prox,
        })
    return rows


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ---------------------------------------------------------------------------
# Scaling fits and targets
# ---------------------------------------------------------------------------


def scaling_fits(rows: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """log-log fits ``median_s ~ C size^p`` per (core, backend, implementation), 3+ sizes."""
    from convcheck.verify.checks import fit_power_law

    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for r in rows:
        if r["core"] == "machine" or not r.get("median_s") or not r.get("size"):
            continue
        groups.setdefault((r["core"], r["backend"], r["implementation"]), []).append((r["size"], r["median_s"]))
    out = []
    for (core, be, impl), pts in groups.items():
        pts = sorted(set(pts))
        if len({p[0] for p in pts}) < 3:
            continue
        x = [p[0] for p in pts]
        y = [p[1] for p in pts]
        fit = fit_power_law(x, [y], np.random.default_rng(seed))
        out.append({"core": core, "backend": be, "implementation": impl, "exponent": fit.value,
                    "ci_low": fit.ci_low, "ci_high": fit.ci_high, "sizes": x, "medians": y})
    return out


def rows_of(rows: list[dict[str, Any]], core: str, impl: str, backend: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r["core"] == core and r["implementation"] == impl
            and (backend is None or r["backend"] == backend)]


def median_of(rows: list[dict[str, Any]], core: str, impl: str, size: float, backend: str | None = None,
            per_unit: bool = False) -> float | None:
    for r in rows_of(rows, core, impl, backend):
        if r["size"] == size:
            return r["median_s"] / (r.get("units") or 1) if per_unit else r["median_s"]
    return None


def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The papers' targets judged from rows: each has ``met`` True/False, or None when the
    rows needed were not measured in this run (e.g. no peers, no GPU, quick subset)."""
    load_cores()
    T: list[dict[str, Any]] = []

    def add(tid: str, text: str, measured: str | None, met: bool | None) -> None:
        T.append({"id": tid, "target": text, "measured": measured or "not measured in this run", "met": met})

    for fn in TARGETS:
        fn(rows, add)
    return T


# ---------------------------------------------------------------------------
# Regression comparison (noise-aware)
# ---------------------------------------------------------------------------

PROXY_KEYS = ("iterations", "matvecs", "cg_iterations")


def compare_bench(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]], factor: float = 1.25
                  ) -> tuple[list[str], list[str]]:
    """Speed regressions from baseline rows ``a`` to new rows ``b``.

    A row regresses when ``min_b > median_a`` (its whole min-median range over repeated rounds
    lies above the old one) *and* ``median_b > factor * median_a``; a single noisy timing
    cannot trigger it.  A deterministic proxy metric (iterations, matvecs) that grows is
    always a regression.  Returns ``(regressions, notes)`` as printable lines."""
    idx = {(r["core"], r["size"], r["backend"], r["implementation"]): r for r in rows_a}
    regs, notes = [], []
    for r in rows_b:
        k = (r["core"], r["size"], r["backend"], r["implementation"])
        a = idx.get(k)
        if a is None or not a.get("median_s") or not r.get("median_s"):
            continue
        label = f"{k[0]} size={k[1]:g} {k[3]} [{k[2]}]"
        if r["min_s"] > a["median_s"] and r["median_s"] > factor * a["median_s"]:
            regs.append(f"  slower {label}: median {a['median_s']:.3g}s -> {r['median_s']:.3g}s "
                        f"(new min {r['min_s']:.3g}s above old median)")
        elif a["min_s"] > r["median_s"] and a["median_s"] > factor * r["median_s"]:
            notes.append(f"  faster {label}: median {a['median_s']:.3g}s -> {r['median_s']:.3g}s")
        for p in PROXY_KEYS:
            x, y = a.get(p), r.get(p)
            if isinstance(x, int | float) and isinstance(y, int | float) and y > x:
                regs.append(f"  more {p} {label}: {x} -> {y}")
    return regs, notes


def compare_bench_runs(store: Any, run_a: str, run_b: str, factor: float = 1.25) -> tuple[list[str], list[str]]:
    """:func:`compare_bench` on two stored bench runs."""
    return compare_bench(store.benchmarks(run_a), store.benchmarks(run_b), factor)


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def select_backends(device: str) -> tuple[list[str], list[str]]:
    """Backends to time for ``--device`` and the notes on skipped ones."""
    notes = []
    backends = ["numpy"]
    if device in ("cpu", "all"):
        backends.append("torch-cpu")
    if device in ("cuda", "all"):
        if cuda_available():
            backends.append("torch-cuda")
        else:
            notes.append("torch CUDA skipped: torch.cuda.is_available() is False")
    if device == "cuda":
        backends = [b for b in backends if b != "torch-cpu"] + (["torch-cpu"] if "torch-cuda" in backends else [])
    return backends, notes


def run_cases(cores: Iterable[str], ctx: Context, refs: dict[str, dict[str, float]], *,
              rounds: int, sample_s: float, budget_s: float, sizes: dict[str, list[int]] | None = None,
              impl_timeout_s: float | None = None, log: Callable[[str], None] = print,
              on_rows: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Build, time and turn into rows every (core, size); ``on_rows`` receives each case's rows
    as soon as they exist (the driver stores them, so an interrupted run keeps them)."""
    rows: list[dict[str, Any]] = []
    for name in cores:
        core = CORES[name]
        for size in (sizes or {}).get(name) or (core.sizes_quick if ctx.quick else core.sizes_full):
            t0 = time.perf_counter()
            try:
                case = core.build(size, ctx)
            except Exception as e:  # noqa: BLE001 - a broken core must not stop the others
                log(f"  {name} {core.size_label}={size}: setup failed: {type(e).__name__}: {e}")
                continue
            if not case.impls:
                log(f"  {name} {core.size_label}={size}: no backend available, skipped")
                continue
            try:
                timings = time_case(case, rounds=rounds, sample_s=sample_s, budget_s=budget_s,
                                    impl_timeout_s=impl_timeout_s, log=log)
            except Exception as e:  # noqa: BLE001
                log(f"  {name} {core.size_label}={size}: failed: {type(e).__name__}: {e}")
                continue
            new = [_jsonable(r) for r in case_rows(case, timings, refs)]
            rows.extend(new)
            if on_rows is not None:
                on_rows(new)
            best = ", ".join(f"{r['implementation'][:38]}[{r['backend']}] {r['median_s']:.3g}s" for r in new)
            log(f"  {name} {core.size_label}={size} ({time.perf_counter() - t0:.1f}s): {best}")
    return rows


def run_bench(args: argparse.Namespace, write_report: Callable[..., dict[str, Path]] | None = None) -> int:
    """``convcheck bench``: time the cores, store rows, write ``--json`` and ``--report``.

    Exit status 0 on success (targets that are not met are reported, not errors), 2 for
    bad usage (unknown core)."""
    from convcheck.verify.store import open_store

    load_cores()
    unknown = [c for c in (args.core or []) if c not in CORES]
    if unknown:
        print(f"convcheck: error: unknown core(s) {', '.join(unknown)}; known: {', '.join(CORES)}",
              file=sys.stderr)
        return 2
    threads = int(os.environ.get("CONVCHECK_BENCH_THREADS", "1"))
    pinned = set_threads(threads)
    backends, notes = select_backends(args.device)
    peers_used = []
    if args.peers:
        for mod in ("mdptoolbox", "networkx", "nashpy"):
            if peer_available(mod):
                peers_used.append(mod)
            else:
                notes.append(f"peer {mod} not installed (pip install -e '.[peers]'): its rows are skipped")
    ctx = Context(quick=bool(args.quick), backends=backends, peers=bool(args.peers))
    cores = list(args.core or CORES)
    dev = device_info()
    t_start = time.perf_counter()
    print(f"convcheck bench ({'quick' if ctx.quick else 'full'}): backends {', '.join(backends)}; "
          f"threads {threads or 'unpinned'}; peers {', '.join(peers_used) or 'none'}")
    for n in notes:
        print(f"  note: {n}")
    refs = machine_references(ctx.quick)
    print("  machine: " + ", ".join(f"{k} {v['value']:.3g} {v['unit']}" for k, v in refs.items()))
    store = open_store(args.db)
    run_id = store.new_run(seed=ctx.seed, tier="quick" if ctx.quick else "full", argv=sys.argv[1:], kind="bench",
                           extra={"bench": {"device": dev, "threads": pinned, "backends": backends,
                                            "peers": peers_used, "notes": notes, "references": refs}})
    rows = [{"core": "machine", "size": v["size"], "backend": "numpy", "implementation": k,
             "median_s": None, "min_s": None, "peer": None, "ratio_to_peer": None, "limit": None,
             "fraction_of_limit": None, "role": "reference", "value": v["value"], "unit": v["unit"]}
            for k, v in refs.items()]
    store.add_benchmarks(run_id, rows)
    try:
        rows += run_cases(cores, ctx, refs, rounds=5 if ctx.quick else 7, sample_s=0.02 if ctx.quick else 0.05,
                          budget_s=8.0 if ctx.quick else 30.0, impl_timeout_s=20.0 if ctx.quick else 120.0,
                          on_rows=lambda new: store.add_benchmarks(run_id, new))
    except KeyboardInterrupt:
        store.finish_run(run_id, "interrupted")
        print(f"interrupted; the rows measured so far are in run {run_id}", file=sys.stderr)
        store.close()
        return 130
    store.finish_run(run_id)
    targets = evaluate_targets(rows)
    fits = scaling_fits(rows)
    elapsed = time.perf_counter() - t_start
    print(f"bench run {run_id}: {len(rows)} rows in {elapsed:.0f}s -> {store.path}")
    for f in fits:
        print(f"  scaling {f['core']} {f['implementation'][:40]} [{f['backend']}]: exponent {f['exponent']:.2f} "
              f"[{f['ci_low']:.2f}, {f['ci_high']:.2f}]")
    for t in targets:
        mark = {True: "MET", False: "NOT MET", None: "n/a"}[t["met"]]
        print(f"  target {t['id']} {mark}: {t['target']} -- {t['measured']}")
    if args.json:
        write_json_rows(rows, args.json)
        print(f"  rows: {args.json}")
    if args.report:
        if write_report is None:
            raise ValueError("run_bench: --report needs a report writer")
        run = store.run(run_id)
        paths = write_report(run, rows, args.report, targets=targets, fits=fits)
        print(f"  report: {paths['html']}")
    store.close()
    return 0


def write_json_rows(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """A JSON array with one object per measured row (one per line); every object has the
    keys of :data:`ROW_KEYS` (null where not applicable) plus proxy metrics."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**{k: r.get(k) for k in ROW_KEYS}, **r}) for r in rows]
    p.write_text("[\n" + ",\n".join(lines) + "\n]\n")
