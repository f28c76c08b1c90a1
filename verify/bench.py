r"""Benchmark harness: ``convcheck bench``.

Times the performance-critical cores (the rows of issue 8) on every available backend,
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
* **Targets.**  :func:`evaluate_targets` turns rows into the issue's pass/fail targets;
  they are a pure function of the rows, so a stored run can be re-judged.
* **Regressions.**  :func:`compare_bench` flags a speed regression only when the new
  ``[min, median]`` range lies entirely above the old one *and* the medians differ by more
  than a factor (default 1.25), and flags any increase of a deterministic proxy metric.

The same case builders back ``tests/benchmarks/bench_cores.py`` (pytest-benchmark).
"""

from __future__ import annotations

import argparse
import ctypes
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


def set_threads(n: int) -> dict[str, Any]:
    """Pin OpenBLAS (every copy loaded in this process: numpy's and scipy's) and torch to
    ``n`` threads; returns what was done.  ``n <= 0`` changes nothing."""
    done: dict[str, Any] = {"requested": n, "blas": [], "torch": None}
    if n <= 0:
        return done
    import scipy.linalg
    import scipy.sparse.linalg  # noqa: F401

    libs = set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1] if line.split() else ""
                if "openblas" in path.lower() and (".so" in path or path.endswith(".dylib")):
                    libs.add(path)
    except OSError:
        pass
    for lib in sorted(libs):
        try:
            h = ctypes.CDLL(lib)
        except OSError:
            continue
        for sym in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                    "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(h, sym, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                done["blas"].append(f"{Path(lib).name}:{sym}")
                break
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


def _torch_impls(name: str, make: Callable[[str], Callable[[], Any]], ctx: Context,
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


def _lu_work(S: float) -> dict[str, Any]:
    return {"limit_kind": "flops", "work": (2.0 / 3.0) * S**3 + 2.0 * S**2}


def _random_mdp(S: int, A: int, seed: int):  # type: ignore[no-untyped-def]
    from solvers.mdp import random_mdp

    return random_mdp(np.random.default_rng(seed), S, A, 0.9, mu="uniform")


# -- 1. policy evaluation ----------------------------------------------------------


def build_policy_evaluation(S: int, ctx: Context) -> Case:
    from solvers import fast_mdp, mdp

    A = 4
    m = _random_mdp(S, A, ctx.seed + S)
    rng = np.random.default_rng(ctx.seed + 7 * S)
    pol = rng.integers(0, A, S)
    pi = np.zeros((S, A))
    pi[np.arange(S), pol] = 1.0
    ar = np.arange(S)
    g = m.gamma

    def bare() -> Any:
        return np.linalg.solve(np.eye(S) - g * m.P[ar, pol], m.R[ar, pol])

    def describe_cert(res: Any) -> dict[str, Any]:
        info = res.info
        d: dict[str, Any] = {"method": info.method, "matvecs": info.matvecs,
                             "certified_rel_error": info.error_bound, "rel_residual": info.residual}
        if info.method == "direct":
            d.update(_lu_work(S))
        else:  # gather P_pi (S^2 reads) + matvecs over S^2 doubles
            d.update({"limit_kind": "bandwidth", "work": 8.0 * S * S * (1 + info.matvecs)})
        return d

    impls = [
        Impl("fast_mdp.certified_policy_evaluation", lambda: fast_mdp.certified_policy_evaluation(m, pi),
             describe=describe_cert),
        Impl("mdp.policy_evaluation", lambda: mdp.policy_evaluation(m, pi), role="baseline",
             describe=lambda _: _lu_work(S)),
        Impl("numpy.linalg.solve (bare)", bare, role="baseline", describe=lambda _: _lu_work(S)),
    ]
    if any(b.startswith("torch-") for b in ctx.backends):
        import torch

        def make(dev: str) -> Callable[[], Any]:
            P = torch.tensor(m.P[None], device=dev)
            R = torch.tensor(m.R[None], device=dev)
            pt = torch.tensor(pi[None], device=dev)
            return lambda: fast_mdp.policy_evaluation_batched_torch(P, R, g, pt, device=dev)

        impls += _torch_impls("fast_mdp.policy_evaluation_batched_torch", make, ctx,
                              describe=lambda _: _lu_work(S))
    compare = {"fast_mdp.certified_policy_evaluation": "numpy.linalg.solve (bare)"}
    also = {"fast_mdp.certified_policy_evaluation": ["numpy.linalg.solve (bare)", "mdp.policy_evaluation"]}
    if ctx.peers and peer_available("mdptoolbox"):
        import mdptoolbox.mdp as mtb

        pit = mtb.PolicyIteration(np.ascontiguousarray(m.P.transpose(1, 0, 2)), np.ascontiguousarray(m.R),
                                  g, policy0=pol, eval_type=0)

        def peer() -> Any:
            pit.policy = pol
            pit._evalPolicyMatrix()
            return pit.V

        impls.append(Impl("pymdptoolbox.PolicyIteration._evalPolicyMatrix", peer, role="peer",
                          describe=lambda _: _lu_work(S)))
        compare["fast_mdp.certified_policy_evaluation"] = "pymdptoolbox.PolicyIteration._evalPolicyMatrix"
        also["fast_mdp.certified_policy_evaluation"].append("pymdptoolbox.PolicyIteration._evalPolicyMatrix")
    for im in impls:
        if im.backend.startswith("torch-"):
            compare[im.name + "@" + im.backend] = "numpy.linalg.solve (bare)"
    return Case("policy_evaluation", S, impls, compare, also, {"A": A, "gamma": g, "policy": "deterministic"})


def build_state_visitation(S: int, ctx: Context) -> Case:
    from solvers import fast_mdp, mdp

    A = 4
    m = _random_mdp(S, A, ctx.seed + S)
    pi = mdp.softmax_policy(np.random.default_rng(ctx.seed + 3 * S).standard_normal((S, A)))

    def describe(res: Any) -> dict[str, Any]:
        info = res.info
        d: dict[str, Any] = {"method": info.method, "matvecs": info.matvecs,
                             "certified_rel_error": info.error_bound}
        if info.method == "direct":
            d.update(_lu_work(S))
        else:
            d.update({"limit_kind": "bandwidth", "work": 8.0 * S * S * (A + info.matvecs)})
        return d

    impls = [Impl("fast_mdp.certified_state_visitation", lambda: fast_mdp.certified_state_visitation(m, pi),
                  describe=describe),
             Impl("mdp.state_visitation", lambda: mdp.state_visitation(m, pi), role="baseline",
                  describe=lambda _: _lu_work(S))]
    return Case("state_visitation", S, impls, {"fast_mdp.certified_state_visitation": "mdp.state_visitation"},
                params={"A": A, "gamma": m.gamma, "policy": "softmax"})


# -- 2. batched evaluation --------------------------------------------------------


def build_batched(B: int, ctx: Context) -> Case:
    from solvers import fast_mdp, mdp

    S, A, g = 20, 4, 0.9
    rng = np.random.default_rng(ctx.seed + B)
    P = rng.exponential(size=(B, S, A, S))
    P /= P.sum(-1, keepdims=True)
    R = rng.random((B, S, A))
    pol = rng.integers(0, A, (B, S))
    pi = np.zeros((B, S, A))
    np.put_along_axis(pi, pol[..., None], 1.0, axis=2)
    eye = np.eye(S)
    work = {"limit_kind": "flops", "work": B * ((2.0 / 3.0) * S**3 + 2.0 * S**2)}

    def loop() -> Any:
        out = np.empty((B, S))
        for b in range(B):
            Ppi = np.matmul(pi[b][:, None, :], P[b])[:, 0, :]
            out[b] = np.linalg.solve(eye - g * Ppi, (pi[b] * R[b]).sum(1))
        return out

    impls = [
        Impl("fast_mdp.policy_evaluation_batched_fast", lambda: fast_mdp.policy_evaluation_batched_fast(P, R, g, pi),
             describe=lambda _: work),
        Impl("mdp.policy_evaluation_batched", lambda: mdp.policy_evaluation_batched(P, R, g, pi), role="baseline",
             describe=lambda _: work),
        Impl("python loop of numpy solves", loop, role="baseline", describe=lambda _: work),
    ]
    if any(b.startswith("torch-") for b in ctx.backends):
        import torch

        def make(dev: str) -> Callable[[], Any]:
            Pt, Rt, pt = (torch.as_tensor(x, device=dev) for x in (P, R, pi))
            return lambda: fast_mdp.policy_evaluation_batched_torch(Pt, Rt, g, pt, device=dev)

        impls += _torch_impls("fast_mdp.policy_evaluation_batched_torch", make, ctx, describe=lambda _: work)
    name = "fast_mdp.policy_evaluation_batched_fast"
    compare = {name: "python loop of numpy solves"}
    also = {name: ["python loop of numpy solves", "mdp.policy_evaluation_batched"]}
    if ctx.peers and peer_available("mdptoolbox"):
        import mdptoolbox.mdp as mtb

        objs = [mtb.PolicyIteration(np.ascontiguousarray(P[b].transpose(1, 0, 2)), R[b], g, policy0=pol[b],
                                    eval_type=0) for b in range(B)]

        def peer() -> Any:
            for o, p in zip(objs, pol, strict=True):
                o.policy = p
                o._evalPolicyMatrix()
            return objs[-1].V

        impls.append(Impl("loop of pymdptoolbox._evalPolicyMatrix", peer, role="peer", describe=lambda _: work))
        compare[name] = "loop of pymdptoolbox._evalPolicyMatrix"
        also[name].append("loop of pymdptoolbox._evalPolicyMatrix")
    for im in impls:
        if im.backend.startswith("torch-"):
            compare[im.name + "@" + im.backend] = name
    return Case("batched_evaluation", B, impls, compare, also, {"S": S, "A": A, "gamma": g})


# -- 3. gradient, HVP, implicit gradient ---------------------------------------------


def build_gradient(S: int, ctx: Context) -> Case:
    from solvers import fast_mdp, mdp

    A = 4
    m = _random_mdp(S, A, ctx.seed + S)
    rng = np.random.default_rng(ctx.seed + 11 * S)
    th = rng.standard_normal((S, A))
    v = rng.standard_normal((S, A))
    pi = mdp.softmax_policy(th)
    gw = ({"limit_kind": "flops", "work": (2.0 / 3.0) * S**3 + 4.0 * S**2 + 4.0 * S * A * S}
          if S <= fast_mdp.DIRECT_MAX else {})
    impls = [
        Impl("fast_mdp.policy_gradient_fast", lambda: fast_mdp.policy_gradient_fast(m, th), describe=lambda _: gw),
        Impl("one policy evaluation", lambda: fast_mdp.certified_policy_evaluation(m, pi),
             role="baseline", describe=lambda res: {"method": res.info.method}),
        Impl("mdp.policy_gradient", lambda: mdp.policy_gradient(m, th), role="baseline", describe=lambda _: gw),
        Impl("fast_mdp.value_hvp_fast", lambda: fast_mdp.value_hvp_fast(m, th, v), describe=lambda _: gw),
    ]
    compare = {"fast_mdp.policy_gradient_fast": "mdp.policy_gradient"}
    also = {"fast_mdp.policy_gradient_fast": ["mdp.policy_gradient", "one policy evaluation"],
            "fast_mdp.value_hvp_fast": ["fast_mdp.policy_gradient_fast"]}
    if S <= 500:
        impls.append(Impl("mdp.value_hvp (torch autograd)", lambda: mdp.value_hvp(m, th, v), role="baseline",
                          backend="torch-cpu"))
        compare["fast_mdp.value_hvp_fast"] = "mdp.value_hvp (torch autograd)"
        also["fast_mdp.value_hvp_fast"].append("mdp.value_hvp (torch autograd)")
    else:
        compare["fast_mdp.value_hvp_fast"] = "fast_mdp.policy_gradient_fast"
    return Case("policy_gradient", S, impls, compare, also, {"A": A, "gamma": m.gamma, "policy": "softmax"})


IMPLICIT_A1, IMPLICIT_A2 = 2, 8


def build_implicit(n: int, ctx: Context) -> Case:
    """Leader total gradient (18) by CG on follower HVPs; ``n = |S| * |A_2|``."""
    from solvers import stochastic_stackelberg as ss

    S = max(1, n // IMPLICIT_A2)
    game = ss.random_game(S, IMPLICIT_A1, IMPLICIT_A2, gamma=0.9, lam=0.5, seed=ctx.seed + S)
    rng = np.random.default_rng(ctx.seed + S)
    th1 = rng.standard_normal((S, IMPLICIT_A1))
    th2 = ss.soft_best_response(game, th1).theta2

    def describe(res: Any) -> dict[str, Any]:
        return {"cg_iterations": res.cg_iterations, "cg_rel_residual": res.cg_residual}

    impls = [Impl("stochastic_stackelberg.total_gradient_cg", lambda: ss.total_gradient_cg(game, th1, th2),
                  backend="torch-cpu", describe=describe)]
    compare: dict[str, str] = {}
    if n <= 800:
        impls.append(Impl("stochastic_stackelberg.stackelberg_total_gradient (dense Hessian)",
                          lambda: ss.stackelberg_total_gradient(game, th1, th2), backend="torch-cpu",
                          role="baseline"))
        compare["stochastic_stackelberg.total_gradient_cg"] = \
            "stochastic_stackelberg.stackelberg_total_gradient (dense Hessian)"
    return Case("implicit_gradient", n, impls, compare,
                params={"S": S, "A1": IMPLICIT_A1, "A2": IMPLICIT_A2, "gamma": 0.9, "lam": 0.5})


# -- 4. soft value iteration ----------------------------------------------------------


def build_soft_vi(S: int, ctx: Context) -> Case:
    from solvers import fast_mdp, mdp

    A, lam = 4, 0.1
    m = _random_mdp(S, A, ctx.seed + S)
    per_backup = 8.0 * S * A * S

    def vi_describe(res: Any) -> dict[str, Any]:
        return {"iterations": res.iterations, "units": res.iterations, "unit": "backup",
                "limit_kind": "bandwidth", "work": per_backup * res.iterations, "certified_error": res.residual}

    def pi_describe(res: Any) -> dict[str, Any]:
        return {"iterations": res.iterations, "unit": "evaluation", "certified_error": res.residual}

    impls = [
        Impl("fast_mdp.soft_value_iteration_fast", lambda: fast_mdp.soft_value_iteration_fast(m, lam),
             describe=vi_describe),
        Impl("mdp.soft_value_iteration", lambda: mdp.soft_value_iteration(m, lam), role="baseline",
             describe=vi_describe),
        Impl("fast_mdp.soft_policy_iteration", lambda: fast_mdp.soft_policy_iteration(m, lam),
             describe=pi_describe),
    ]
    name = "fast_mdp.soft_value_iteration_fast"
    compare = {name: "mdp.soft_value_iteration", "fast_mdp.soft_policy_iteration": name}
    also = {name: ["mdp.soft_value_iteration"]}
    if ctx.peers and peer_available("mdptoolbox"):
        import mdptoolbox.mdp as mtb

        vi = mtb.ValueIteration(np.ascontiguousarray(m.P.transpose(1, 0, 2)), np.ascontiguousarray(m.R), m.gamma,
                                epsilon=1e-10, max_iter=10)
        V0 = np.random.default_rng(S).random(S)
        impls.append(Impl("pymdptoolbox.ValueIteration._bellmanOperator", lambda: vi._bellmanOperator(V0),
                          role="peer", describe=lambda _: {"units": 1, "unit": "backup", "limit_kind": "bandwidth",
                                                           "work": per_backup}))
        compare[name] = "pymdptoolbox.ValueIteration._bellmanOperator"
        also[name].append("pymdptoolbox.ValueIteration._bellmanOperator")
    return Case("soft_value_iteration", S, impls, compare, also,
                {"A": A, "gamma": m.gamma, "lam": lam, "tol": 1e-10})


# -- 5. spectral gap -----------------------------------------------------------------


def _spectral_case(core: str, g: Any, N: int, ctx: Context, extra: dict[str, Any], peer_max: int) -> Case:
    from solvers import graphs

    W = graphs.gossip_matrix(g)
    dmax = float(g.degrees().max())
    holder: dict[str, float] = {}

    def ours() -> Any:
        return graphs.spectral_gap(W, tol=1e-10)

    def describe(res: Any) -> dict[str, Any]:
        holder["ours"] = res.one_minus_lambda2
        return {"method": res.method, "one_minus_lambda2": res.one_minus_lambda2, "sigma2": res.sigma2,
                "both_ends": bool(res.lambda_min_exact) or "gershgorin"}

    impls = [Impl("graphs.spectral_gap", ours, backend="scipy", describe=describe)]
    compare: dict[str, str] = {}
    if ctx.peers and peer_available("networkx") and N <= peer_max:
        import networkx as nx

        G = nx.from_scipy_sparse_array(g.adjacency)

        def peer() -> Any:
            return nx.algebraic_connectivity(G, method="tracemin_lu", tol=1e-10, normalized=False)

        def peer_describe(a: Any) -> dict[str, Any]:
            gap_peer = float(a) / (dmax + 1.0)
            out: dict[str, Any] = {"one_minus_lambda2": gap_peer}
            if "ours" in holder:
                out["gap_rel_diff_vs_ours"] = abs(gap_peer - holder["ours"]) / abs(holder["ours"])
            return out

        impls.append(Impl("networkx.algebraic_connectivity (tracemin_lu)", peer, backend="scipy", role="peer",
                          describe=peer_describe))
        compare["graphs.spectral_gap"] = "networkx.algebraic_connectivity (tracemin_lu)"
    return Case(core, N, impls, compare, params={"N": N, "delta_max": dmax, **extra})


def build_spectral_grid(side: int, ctx: Context) -> Case:
    from solvers import graphs

    return _spectral_case("spectral_gap_grid", graphs.grid_graph(side), side * side, ctx, {"side": side},
                          peer_max=70_000)


def build_spectral_rgg(N: int, ctx: Context) -> Case:
    from solvers import graphs

    seed = ctx.seed
    while True:  # the first connected draw (recorded)
        g = graphs.random_geometric(N, 0.5, seed)
        if g.is_connected():
            break
        seed += 1
    return _spectral_case("spectral_gap_rgg", g, N, ctx, {"eps": 0.5, "seed": seed}, peer_max=20_000)


# -- 6. dual averaging ---------------------------------------------------------------


def build_dual_averaging(N: int, ctx: Context) -> Case:
    from solvers import dual_averaging as da
    from solvers import graphs

    side = round(math.sqrt(N))
    g = graphs.grid_graph(side)
    W = graphs.gossip_matrix(g)
    n = side * side
    d = 4
    rng = np.random.default_rng(ctx.seed + n)
    Z = rng.standard_normal((n, d))
    G = rng.standard_normal((n, d))
    box = da.Box(np.zeros(d), np.ones(d))
    nnz = W.nnz
    bytes_update = nnz * 12.0 + (n + 1) * 4.0 + 3.0 * n * d * 8.0
    bytes_step = bytes_update + 2.0 * n * d * 8.0

    impls = [
        Impl("z <- W^T z + g (reference expression)", lambda: W.T @ Z + G, backend="scipy",
             describe=lambda _: {"limit_kind": "bandwidth", "work": bytes_update, "nnz": nnz}),
        Impl("z <- W z + g (W symmetric, CSR kernel)", lambda: W @ Z + G, backend="scipy", role="baseline",
             describe=lambda _: {"limit_kind": "bandwidth", "work": bytes_update, "nnz": nnz}),
        Impl("dual_averaging.dual_averaging_step (with projection)",
             lambda: da.dual_averaging_step(Z, G, W, 0.1, box), backend="scipy",
             describe=lambda _: {"limit_kind": "bandwidth", "work": bytes_step, "nnz": nnz}),
    ]
    return Case("dual_averaging_step", n, impls, params={"side": side, "d": d, "nnz": nnz})


# -- 7. stage game, team Q, DQL ---------------------------------------------------------


#: nashpy's Lemke-Howson did not return within minutes on a random 32 x 32 game (observed
#: with nashpy 0.0.43), so the peer is timed up to this size only
NASHPY_MAX = 16


def build_stage_game(A: int, ctx: Context) -> Case:
    from solvers import stackelberg_games as sg

    rng = np.random.default_rng(ctx.seed + A)
    U = rng.random((2, A, A))
    impls = [Impl("stackelberg_games.stage_stackelberg (multiple LPs)", lambda: sg.stage_stackelberg(U),
                  backend="scipy", describe=lambda _: {"lps_at_most": A})]
    compare: dict[str, str] = {}
    if ctx.peers and peer_available("nashpy") and A <= NASHPY_MAX:
        import warnings

        import nashpy

        game = nashpy.Game(U[0], U[1])

        def lemke_howson() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return game.lemke_howson(0)

        impls.append(Impl("nashpy.Game.lemke_howson (Nash, not Stackelberg)", lemke_howson, role="peer"))
        compare["stackelberg_games.stage_stackelberg (multiple LPs)"] = \
            "nashpy.Game.lemke_howson (Nash, not Stackelberg)"
    return Case("stage_stackelberg", A, impls, compare, params={"A0": A, "A1": A})


def build_team_q(n_agents: int, ctx: Context) -> Case:
    from solvers import mean_field as mf

    graph = mf.path_graph(4)
    system = mf.random_local_system(graph, n_agents, 2, 0.9, seed=ctx.seed + n_agents)
    team = mf.team_policy(mf.random_individual_policy(4, n_agents, 2, seed=ctx.seed + 1), system.space)
    impls = [Impl("mean_field.team_q (enumeration + sparse solve)", lambda: mf.team_q(system, team),
                  backend="scipy", describe=lambda _: {"n_configurations": int(system.space.n_mu)})]
    return Case("team_q", n_agents, impls, params={"states": 4, "actions": 2, "n_mu": int(system.space.n_mu)})


def build_incentive_iteration(joint_states: int, ctx: Context) -> Case:
    """One Algorithm 1 iteration (seed 002) on the Section 4 gridworld: exact f, q and their
    gradients on the joint space S^2 (37^2 states, 16 joint actions), then the projected
    steps; direct and softmax side by side."""
    import numpy as np

    from solvers import incentive as inc

    g = inc.gridworld()
    if joint_states != g.followers[0].n_states ** len(g.followers):
        raise ValueError(f"incentive_algorithm1 is benchmarked on the Section 4 fixture only "
                         f"({g.followers[0].n_states ** len(g.followers)} joint states)")
    z0 = np.array([2.0, 2.0])
    pis = inc.gridworld_initial_policies(g, z0, 1)
    impls = []
    for kind in ("direct", "softmax"):
        par = inc.Parameterisation(kind, 1.0)
        theta = pis if kind == "direct" else inc.softmax_logits_for(pis, 1.0, margin=2.0)
        impls.append(Impl(f"incentive.algorithm1_step ({kind})",
                          lambda par=par, theta=theta: inc.algorithm1_step(
                              g, par, z0, theta, 1e-3, 1.0, "tangent")))
    return Case("incentive_algorithm1", joint_states, impls,
                params={"robots": len(g.followers), "joint_actions": 16})


def build_dql(batch: int, ctx: Context) -> Case:
    import torch

    from solvers.edge_dql import dqn_target

    n_in, n_out, hidden = 8, 5, 64
    impls = []
    for be in ctx.backends:
        if not be.startswith("torch-"):
            continue
        dev = "cuda" if be == "torch-cuda" else "cpu"
        gen = torch.Generator().manual_seed(ctx.seed + batch)
        net = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, n_out)).double().to(dev)
        tgt = torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, n_out)).double().to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        s = torch.randn(batch, n_in, generator=gen, dtype=torch.float64).to(dev)
        s2 = torch.randn(batch, n_in, generator=gen, dtype=torch.float64).to(dev)
        a = torch.randint(0, n_out, (batch,), generator=gen).to(dev)
        r = torch.rand(batch, generator=gen, dtype=torch.float64).to(dev)
        ends = (torch.rand(batch, generator=gen) < 0.05).to(dev)

        def step(net=net, tgt=tgt, opt=opt, s=s, s2=s2, a=a, r=r, ends=ends) -> Any:
            with torch.no_grad():
                y = dqn_target(r, tgt(s2), ends, 0.9)
            q = net(s).gather(1, a[:, None])[:, 0]
            loss = torch.mean((q - y) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        sync = torch.cuda.synchronize if dev == "cuda" else None
        impls.append(Impl("DQL update step (MLP 8-64-5, float64)", step, backend=be, sync=sync, device=dev))
    return Case("dql_update", batch, impls, params={"hidden": hidden, "inputs": n_in, "actions": n_out})


CORES: dict[str, Core] = {c.name: c for c in [
    Core("policy_evaluation", "Policy evaluation (dense random MDP, A = 4, gamma = 0.9)",
         [50, 200, 1000], [50, 100, 200, 500, 1000, 2000, 4000], build_policy_evaluation),
    Core("state_visitation", "Discounted state visitation (transposed solve)",
         [], [200, 1000, 4000], build_state_visitation),
    Core("batched_evaluation", "Batched evaluation of B MDPs with S = 20, A = 4",
         [64, 1024], [16, 64, 256, 1024, 4096], build_batched, "B"),
    Core("policy_gradient", "Exact softmax policy gradient and Hessian-vector product (A = 4)",
         [50, 200], [50, 100, 200, 500, 1000, 2000], build_gradient),
    Core("implicit_gradient", "Stackelberg total gradient (18) by CG on HVPs (A1 = 2, A2 = 8)",
         [80], [80, 400, 1600, 10000], build_implicit, "|S|*|A2|"),
    Core("soft_value_iteration", "Soft value iteration to 1e-10 (A = 4, lambda = 0.1) and soft policy iteration",
         [50, 200], [50, 100, 200, 500, 1000, 2000], build_soft_vi),
    Core("spectral_gap_grid", "sigma_2 of W_N(G), k = 1 grids", [1024, 4096],
         [1024, 4096, 16384, 65536, 262144, 1000000], lambda n, c: build_spectral_grid(round(math.sqrt(n)), c), "N"),
    Core("spectral_gap_rgg", "sigma_2 of W_N(G), random geometric graphs (eps = 0.5)", [1024, 4096],
         [1024, 4096, 16384, 65536], build_spectral_rgg, "N"),
    Core("dual_averaging_step", "Dual-averaging step z <- W^T z + g (grid, d = 4)", [10_000, 100_000],
         [10_000, 100_000, 1_000_000], build_dual_averaging, "N"),
    Core("stage_stackelberg", "Stage-game Stackelberg equilibrium (bimatrix A x A)", [4, 16],
         [2, 4, 8, 16, 32, 64], build_stage_game, "A"),
    Core("team_q", "Mean-field team Q (path of 4 states, 2 actions)", [2, 4], [2, 4, 8, 12, 16],
         build_team_q, "agents"),
    Core("dql_update", "DQL update step", [32, 256], [32, 128, 512, 2048], build_dql, "batch"),
    Core("incentive_algorithm1", "One Algorithm 1 iteration, Section 4 gridworld (2 robots)",
         [37 * 37], [37 * 37], build_incentive_iteration, "joint states"),
]}


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
    from verify.checks import fit_power_law

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


def _rows(rows: list[dict[str, Any]], core: str, impl: str, backend: str | None = None) -> list[dict[str, Any]]:
    return [r for r in rows if r["core"] == core and r["implementation"] == impl
            and (backend is None or r["backend"] == backend)]


def _median(rows: list[dict[str, Any]], core: str, impl: str, size: float, backend: str | None = None,
            per_unit: bool = False) -> float | None:
    for r in _rows(rows, core, impl, backend):
        if r["size"] == size:
            return r["median_s"] / (r.get("units") or 1) if per_unit else r["median_s"]
    return None


def evaluate_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets judged from rows: each has ``met`` True/False, or None when the
    rows needed were not measured in this run (e.g. no peers, no GPU, quick subset)."""
    T: list[dict[str, Any]] = []

    def add(tid: str, text: str, measured: str | None, met: bool | None) -> None:
        T.append({"id": tid, "target": text, "measured": measured or "not measured in this run", "met": met})

    core = "policy_evaluation"
    ours = "fast_mdp.certified_policy_evaluation"
    peer = "pymdptoolbox.PolicyIteration._evalPolicyMatrix"
    big = [r for r in _rows(rows, core, ours) if r["size"] >= 4000]
    if big:
        r = big[-1]
        ratio = (r.get("ratios") or {}).get(peer)
        cert = r.get("certified_rel_error")
        ok = None if ratio is None else bool(ratio >= 8 and cert is not None and cert <= 1e-10)
        add("1a", "policy evaluation S = 4000: >= 8x faster than pymdptoolbox, certified rel. error <= 1e-10",
            f"{ratio:.3g}x, certified {cert:.2g} ({r.get('method')}, {r.get('matvecs')} matvecs)"
            if ratio is not None else f"peer not measured; certified {cert}", ok)
    else:
        add("1a", "policy evaluation S = 4000: >= 8x faster than pymdptoolbox, certified rel. error <= 1e-10",
            None, None)
    small = [r for r in _rows(rows, core, ours) if r["size"] <= 200]
    vals = [(r["size"], 1.0 / r["ratios"]["numpy.linalg.solve (bare)"]) for r in small
            if (r.get("ratios") or {}).get("numpy.linalg.solve (bare)")]
    add("1b", "policy evaluation S <= 200: within 1.5x of a bare numpy.linalg.solve",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in vals) or None,
        None if not vals else all(v <= 1.5 for _, v in vals))

    core = "batched_evaluation"
    ours = "fast_mdp.policy_evaluation_batched_fast"
    rs = _rows(rows, core, ours, "numpy")
    r = max(rs, key=lambda x: x["size"]) if rs else None
    rat = (r.get("ratios") or {}) if r else {}
    p = rat.get("loop of pymdptoolbox._evalPolicyMatrix")
    loop = rat.get("python loop of numpy solves")
    add("2a", "batched evaluation (largest B): >= 20x faster than looping pymdptoolbox",
        f"B={r['size']:g}: {p:.3g}x" if r and p else None, None if not p else p >= 20)
    add("2b", "batched evaluation (largest B): >= 4x faster than a Python loop of numpy solves",
        f"B={r['size']:g}: {loop:.3g}x" if r and loop else None, None if not loop else loop >= 4)
    cu = _median(rows, core, "fast_mdp.policy_evaluation_batched_torch", 4096, "torch-cuda")
    cpu = _median(rows, core, ours, 4096, "numpy")
    add("2c", "batched evaluation B = 4096: torch CUDA >= 20x the CPU path",
        f"{cpu / cu:.3g}x" if cu and cpu else None, None if not (cu and cpu) else cpu / cu >= 20)

    core = "policy_gradient"
    sizes = sorted({r["size"] for r in _rows(rows, core, "fast_mdp.policy_gradient_fast")})
    gr, hv = [], []
    for s in sizes:
        g = _median(rows, core, "fast_mdp.policy_gradient_fast", s)
        e = _median(rows, core, "one policy evaluation", s)
        h = _median(rows, core, "fast_mdp.value_hvp_fast", s)
        if g and e:
            gr.append((s, g / e))
        if g and h:
            hv.append((s, h / g))
    add("3a", "gradient <= 1.5x one policy evaluation (same method: LU or GMRES) at every size",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in gr) or None, None if not gr else all(v <= 1.5 for _, v in gr))
    add("3b", "HVP <= 3x one gradient at every size",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in hv) or None, None if not hv else all(v <= 3 for _, v in hv))
    ig = [r for r in _rows(rows, "implicit_gradient", "stochastic_stackelberg.total_gradient_cg")
          if r["size"] >= 10_000]
    add("3c", "implicit gradient by CG on HVPs at |S||A| = 1e4 without forming a Hessian",
        f"{ig[0]['median_s']:.3g} s, {ig[0].get('cg_iterations')} CG iterations" if ig else None,
        True if ig else None)

    core = "soft_value_iteration"
    ours = "fast_mdp.soft_value_iteration_fast"
    sv = [(r["size"], (r.get("ratios") or {}).get("pymdptoolbox.ValueIteration._bellmanOperator"))
          for r in _rows(rows, core, ours)]
    sv = [(s, v) for s, v in sv if v]
    add("4a", "soft VI per backup >= 2x faster than pymdptoolbox's VI backup (every size)",
        ", ".join(f"S={s:g}: {v:.2f}x" for s, v in sv) or None, None if not sv else all(v >= 2 for _, v in sv))
    it = []
    for r in _rows(rows, core, "fast_mdp.soft_policy_iteration"):
        vi = [x for x in _rows(rows, core, ours) if x["size"] == r["size"]]
        if vi and vi[0].get("iterations"):
            it.append((r["size"], r.get("iterations"), vi[0]["iterations"]))
    add("4b", "soft policy iteration (Newton) needs far fewer backups (<= 1/10 of soft VI's)",
        ", ".join(f"S={s:g}: {a} vs {b}" for s, a, b in it) or None,
        None if not it else all(a * 10 <= b for _, a, b in it))

    for cname, label in (("spectral_gap_grid", "grids"), ("spectral_gap_rgg", "random geometric graphs")):
        sp = [(r["size"], r.get("ratio_to_peer")) for r in _rows(rows, cname, "graphs.spectral_gap")
              if r["size"] >= 4096 and r.get("ratio_to_peer")]
        add(f"5a-{label.split()[0]}", f"sigma_2: >= 3x faster than networkx algebraic_connectivity, N >= 4096 {label}",
            ", ".join(f"N={s:g}: {v:.2f}x" for s, v in sp) or None, None if not sp else all(v >= 3 for _, v in sp))
    acc = [r.get("gap_rel_diff_vs_ours") for c in ("spectral_gap_grid", "spectral_gap_rgg")
           for r in _rows(rows, c, "networkx.algebraic_connectivity (tracemin_lu)")]
    acc = [a for a in acc if a is not None]
    add("5b", "sigma_2 gap agrees with networkx to 1e-10 relative",
        f"max rel. difference {max(acc):.2g}" if acc else None, None if not acc else max(acc) <= 1e-10)
    mil = [r for r in _rows(rows, "spectral_gap_grid", "graphs.spectral_gap") if r["size"] >= 1_000_000]
    add("5c", "sigma_2 for N = 1e6 (grid) under 30 s", f"{mil[0]['median_s']:.3g} s" if mil else None,
        None if not mil else mil[0]["median_s"] < 30)
    da = [r for r in _rows(rows, "dual_averaging_step", "z <- W^T z + g (reference expression)")
          if r["size"] >= 1_000_000]
    add("6", "dual-averaging step N = 1e6: >= 50% of streaming bandwidth",
        f"{da[0]['fraction_of_limit']:.2f} of stream" if da and da[0].get("fraction_of_limit") else None,
        None if not (da and da[0].get("fraction_of_limit")) else da[0]["fraction_of_limit"] >= 0.5)
    it = [(r["implementation"], r["median_s"]) for r in rows if r["core"] == "incentive_algorithm1"]
    add("8", "one Algorithm 1 iteration on the 6x6 two-robot gridworld well under 100 ms",
        ", ".join(f"{n}: {t * 1e3:.3g} ms" for n, t in it) or None,
        None if not it else all(t < 0.1 for _, t in it))
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


def run_bench(args: argparse.Namespace) -> int:
    """``convcheck bench``: time the cores, store rows, write ``--json`` and ``--report``.

    Exit status 0 on success (targets that are not met are reported, not errors), 2 for
    bad usage (unknown core)."""
    from verify.store import open_store

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
        from reports.bench_report import write_bench_report

        run = store.run(run_id)
        paths = write_bench_report(run, rows, args.report, targets=targets, fits=fits)
        print(f"  report: {paths['html']}")
    store.close()
    return 0


def write_stored_report(db: str, run: str | None, out_dir: str) -> dict[str, Path]:
    """Re-render the benchmark section of a stored bench run (``run``: id, prefix or
    ``latest``), e.g. for ``convcheck report`` of a bench run."""
    from reports.bench_report import write_bench_report
    from verify.store import open_store

    store = open_store(db, create=False)
    try:
        run_id = store.resolve_run(run, kind="bench")
        return write_bench_report(store.run(run_id), store.benchmarks(run_id), out_dir)
    finally:
        store.close()


def write_json_rows(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """A JSON array with one object per measured row (one per line); every object has the
    keys of :data:`ROW_KEYS` (null where not applicable) plus proxy metrics."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**{k: r.get(k) for k in ROW_KEYS}, **r}) for r in rows]
    p.write_text("[\n" + ",\n".join(lines) + "\n]\n")
