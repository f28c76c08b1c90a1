"""Rendering of stored runs: Markdown summary, self-contained HTML (inline SVG), JSON, and the
benchmark report.  Reports read the store and the claim registry; the engine never imports them."""

from convcheck.reports.render import write_report

__all__ = ["write_report"]
