"""Render :class:`verify.model.Figure` data as inline SVG with matplotlib (Agg backend)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

plt.rcParams["svg.fonttype"] = "none"  # text as text: a fraction of the size of glyph paths


def _field(grid: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ma.MaskedArray]:
    """x, y and the masked z of a :class:`verify.model.Grid` given as JSON data ("nan" -> blank)."""
    x = np.array([float(v) for v in grid["x"]])
    y = np.array([float(v) for v in grid["y"]])
    z = np.array([[float(v) for v in row] for row in grid["z"]], dtype=float)
    return x, y, np.ma.masked_invalid(z)


def _grid_svg(fig: dict[str, Any]) -> str:
    """Contour or heatmap figures: one panel per grid, series overlaid as markers."""
    grids = fig["grids"]
    n = len(grids)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    f, axes = plt.subplots(rows, cols, figsize=(min(3.2 * cols, 13.0), 2.9 * rows), dpi=100, squeeze=False)
    try:
        for k, ax in enumerate(axes.ravel()):
            if k >= n:
                ax.axis("off")
                continue
            x, y, z = _field(grids[k])
            if fig["kind"] == "contour":
                finite = z.compressed()
                if finite.size and np.ptp(finite) > 1e-12 * max(1.0, float(np.abs(finite).max())):
                    cs = ax.contourf(x, y, z, levels=14, cmap="viridis")
                    cs.set_rasterized(True)  # keeps the inline SVG small
                    ax.contour(x, y, z, levels=14, colors="k", linewidths=0.3)
                else:  # a constant field has no level sets
                    cs = ax.pcolormesh(x, y, z, cmap="viridis", shading="auto")
            else:
                cs = ax.imshow(z, cmap="magma", origin="upper", aspect="equal",
                               extent=(x[0] - 0.5, x[-1] + 0.5, y[-1] + 0.5, y[0] - 0.5))
            f.colorbar(cs, ax=ax, fraction=0.046, pad=0.04).ax.tick_params(labelsize=6)
            for s in fig.get("series", []):
                ax.plot([float(v) for v in s["x"]], [float(v) for v in s["y"]], s.get("style") or "r*",
                        ms=8, label=s["label"])
            ax.set_title(grids[k]["label"], fontsize=8)
            ax.set_xlabel(fig.get("xlabel", ""), fontsize=7)
            ax.set_ylabel(fig.get("ylabel", ""), fontsize=7)
            ax.tick_params(labelsize=6)
            if k == 0 and fig.get("series"):
                ax.legend(fontsize=6, loc="best")
        f.suptitle(fig.get("title", ""), fontsize=9)
        f.tight_layout()
        return _svg(f)
    finally:
        plt.close(f)


def _svg(f: Any) -> str:
    buf = io.StringIO()
    f.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def figure_svg(fig: dict[str, Any]) -> str:
    """An SVG string (no XML header) for one figure given as JSON data; a figure whose data
    cannot be drawn gives a small SVG that says so (a report is never lost to one figure)."""
    try:
        return _figure_svg(fig)
    except Exception as e:  # noqa: BLE001 - matplotlib rejects degenerate data in many ways
        from html import escape

        msg = escape(f"figure not drawn: {type(e).__name__}: {e}"[:200])
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="600" height="30"><text x="4" y="20" '
                f'font-size="12">{escape(str(fig.get("title", "")))[:80]} — {msg}</text></svg>')


def _figure_svg(fig: dict[str, Any]) -> str:
    if fig.get("kind") in ("contour", "heatmap"):
        return _grid_svg(fig)
    f, ax = plt.subplots(figsize=(6.0, 3.4), dpi=100)
    try:
        kind = fig.get("kind", "lines")
        for s in fig["series"]:
            x, y = s.get("x") or [], [float(v) for v in s["y"]]
            if kind == "hist" and fig.get("logx"):
                # the log axis shows 1e-16 .. 1e16 (ratios beyond are drawn at the edge)
                pos = [min(max(v, 1e-16), 1e16) for v in y if v == v and 0 < v < float("inf")]
                lo, hi = min([*pos, 1.0]), max([*pos, 1.0])
                edges = np.logspace(np.log10(lo) - 0.05, np.log10(hi) + 0.05, min(30, max(6, len(pos) // 2)))
                ax.hist(pos, bins=edges, color="#4477aa", alpha=0.8, label=s["label"])
            elif kind == "hist":
                finite = [v for v in y if v == v and abs(v) != float("inf")]
                spread = (max(finite) - min(finite)) if finite else 0.0
                scale = max((abs(v) for v in finite), default=1.0)
                bins = min(30, max(5, len(finite) // 2)) if spread > 1e-9 * max(scale, 1e-300) else 1
                ax.hist(finite, bins=bins, color="#4477aa", alpha=0.8, label=s["label"])
            elif kind == "scatter":
                ax.scatter(x, y, s=12, label=s["label"])
            else:
                style = s.get("style") or "-"
                ax.plot(x, y, style, label=s["label"], lw=1.3)
                band = s.get("band")
                if band:
                    ax.fill_between(x, band[0], band[1], alpha=0.2)
        for y, label in fig.get("hlines", []):
            ax.axhline(float(y), color="#cc3311", ls="--", lw=1.2, label=label)
        for x, label in fig.get("vlines", []):
            ax.axvline(float(x), color="#cc3311", ls="--", lw=1.2, label=label)
        if fig.get("logx"):
            ax.set_xscale("log")
        if fig.get("logy"):
            ax.set_yscale("log")
        ax.set_title(fig.get("title", ""), fontsize=9)
        ax.set_xlabel(fig.get("xlabel", ""), fontsize=8)
        ax.set_ylabel(fig.get("ylabel", ""), fontsize=8)
        ax.tick_params(labelsize=7)
        handles, _ = ax.get_legend_handles_labels()
        if handles and len(handles) <= 10:
            ax.legend(fontsize=7)
        f.tight_layout()
        return _svg(f)
    finally:
        plt.close(f)
