"""Render :class:`verify.model.Figure` data as inline SVG with matplotlib (Agg backend)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def figure_svg(fig: dict[str, Any]) -> str:
    """An SVG string (no XML header) for one figure given as JSON data."""
    f, ax = plt.subplots(figsize=(6.0, 3.4), dpi=100)
    try:
        kind = fig.get("kind", "lines")
        for s in fig["series"]:
            x, y = s.get("x") or [], [float(v) for v in s["y"]]
            if kind == "hist":
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
        buf = io.StringIO()
        f.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    finally:
        plt.close(f)
    svg = buf.getvalue()
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
