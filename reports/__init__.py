"""Rendering of verification runs: Markdown summary, self-contained HTML, JSON, figures."""

from reports.render import write_report

__all__ = ["write_report"]
