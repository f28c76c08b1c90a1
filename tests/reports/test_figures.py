"""Figure data -> SVG: every kind renders, grids round-trip through JSON, bad grids are refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from convcheck.reports.figures import figure_svg
from convcheck.verify.model import Figure, Grid, Series


def _peaks() -> Grid:
    x = np.linspace(0.0, 2.0, 21)
    y = np.linspace(0.0, 3.0, 31)
    z = np.sin(x)[None, :] * np.cos(y)[:, None]
    return Grid("f_m", x.tolist(), y.tolist(), z.tolist())


def test_contour_marks_points_and_survives_json() -> None:
    fig = Figure("Fig. 2a", "x1", "x2", (Series("stationary", [0.0, 1.0], [0.0, 2.0], style="r*"),),
                 kind="contour", grids=(_peaks(),))
    data = json.loads(json.dumps(fig.to_json()))
    svg = figure_svg(data)
    assert svg.startswith("<svg")
    assert "stationary" in svg and "f_m" in svg  # legend and panel title rendered as text


def test_heatmap_panels_with_blank_cells() -> None:
    z = [[1.0, float("nan")], [0.5, 0.0]]
    grids = tuple(Grid(f"robot {i}", [0.0, 1.0], [0.0, 1.0], z) for i in (1, 2, 3, 4, 5))
    fig = Figure("Fig. 6", "column", "row", (), kind="heatmap", grids=grids)
    data = json.loads(json.dumps(fig.to_json()))
    assert data["grids"][0]["z"][0][1] in ("nan", None) or math.isnan(data["grids"][0]["z"][0][1])
    svg = figure_svg(data)
    for i in (1, 2, 3, 4, 5):
        assert f"robot {i}" in svg
    # a constant field is still drawable as a contour figure (no level sets)
    flat = Figure("flat", "x", "y", (), kind="contour", grids=(Grid("c", [0.0, 1.0], [0.0, 1.0], [[2.0, 2.0]] * 2),))
    assert figure_svg(flat.to_json()).startswith("<svg")


def test_bad_grids_and_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="rows"):
        Grid("g", [0.0, 1.0], [0.0], [[1.0]])
    with pytest.raises(ValueError, match="empty"):
        Grid("g", [], [], [])
    with pytest.raises(ValueError, match="needs at least one grid"):
        Figure("t", "x", "y", (), kind="heatmap")
    with pytest.raises(ValueError, match="not one of"):
        Figure("t", "x", "y", (), kind="pie")


def test_grid_figures_survive_the_evidence_round_trip() -> None:
    from convcheck.verify.model import Evidence, Verdict

    fig = Figure("Fig. 6", "column", "row", (Series("fire", [1.0], [0.0], style="rx"),), kind="heatmap",
                 grids=(Grid("robot 1", [0.0, 1.0], [0.0], [[0.25, float("nan")]]),))
    ev = Evidence(claim="p.c", verdict=Verdict.HOLDS, summary="", figures=[fig])
    back = Evidence.from_json(json.loads(json.dumps(ev.to_json())))
    (g,) = back.figures[0].grids
    assert back.figures[0].kind == "heatmap" and g.z[0][0] == 0.25 and math.isnan(g.z[0][1])
    assert figure_svg(back.figures[0].to_json()).startswith("<svg")


def test_a_log_histogram_of_extreme_ratios_still_renders() -> None:
    """Ratios of 1e-320 (subnormal) and 1e300 once crashed matplotlib's log ticks and with
    them the whole report; they are drawn at the axis edge, and a figure that cannot be drawn
    at all gives an SVG saying so."""
    from convcheck.reports.figures import figure_svg

    fig = {"title": "t", "xlabel": "x", "ylabel": "y", "kind": "hist", "logx": True,
           "series": [{"label": "ratio", "x": [], "y": [1e-320, 1e-300, 1e-5, 0.5, 1e300]}],
           "vlines": [[1.0, "boundary"]]}
    assert figure_svg(fig).startswith("<svg")
    assert "figure not drawn" in figure_svg({"title": "broken", "series": [{"label": "s", "y": ["x"]}]})
