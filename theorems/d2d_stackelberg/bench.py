"""Benchmark cores of the D2D Stackelberg game (``convcheck bench --core NAME``).

Each core is a case builder ``(size, ctx) -> Case`` registered with ``@bench_core``; the
targets this paper's cores must meet are judged from the measured rows by ``@bench_targets``.
The harness (timing, interleaving, limits, regressions) is :mod:`convcheck.verify.bench`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcheck.verify.bench import (
    Case,
    Context,
    Impl,
    bench_core,
    peer_available,
)

NASHPY_MAX = 16


@bench_core("stage_stackelberg", "Stage-game Stackelberg equilibrium (bimatrix A x A)",
            quick=[4, 16], full=[2, 4, 8, 16, 32, 64], size_label="A")
def build_stage_game(A: int, ctx: Context) -> Case:
    from convcheck.solvers import stackelberg_games as sg

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
