r"""Statements, readings and formulas rendered to MathML at report time.

MathML renders natively in current browsers: no JavaScript, no network. A statement mixes
words and LaTeX; the words stay text and each maximal formula run becomes one ``<math>``
element (:func:`latex2mathml.converter.convert`). A formula that does not parse falls back
to a ``<code>`` block, and :data:`FALLBACKS` counts them (a test renders every claim and
requires none).
"""

from __future__ import annotations

import re
from html import escape

from markupsafe import Markup

#: formulas that did not parse in this process (a test keeps this at zero for every claim)
FALLBACKS: list[str] = []

# a text that contains mathematics: a backslash command, ^, _, = or a comparison
_MATHY = re.compile(r"\\[A-Za-z]+|[\^_=<>]|\\\|")
# a prose word: letters only (two or more), optionally hyphenated, with trailing punctuation
_WORD = re.compile(r"[A-Za-z][a-z]+(?:-[A-Za-z]+)*[,.;:]?|[Aa]")


def _convert(tex: str) -> str:
    from latex2mathml.converter import convert

    return str(convert(tex))


def _as_tex(text: str) -> str:
    """The whole statement as one formula: runs of prose words become ``\text{...}``."""
    out: list[str] = []
    words: list[str] = []

    def flush() -> None:
        if words:
            out.append(r"\text{ " + " ".join(words) + " }")
            words.clear()

    for tok in text.split():
        if _WORD.fullmatch(tok) and "\\" not in tok:
            words.append(tok)
        else:
            flush()
            out.append(tok)
    flush()
    return " ".join(out)


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in tex:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0 and len(re.findall(r"\\left(?![a-z])", tex)) == len(re.findall(r"\\right(?![a-z])", tex))


def render(text: str | None) -> Markup:
    """``text`` as HTML with its formulas as MathML (escaped text; ``<code>`` on failure)."""
    if not text:
        return Markup("")
    if not _MATHY.search(text):
        return Markup(escape(text))
    tex = _as_tex(text)
    try:
        if not _balanced(tex):
            raise ValueError("unbalanced braces")
        return Markup(_convert(tex))
    except Exception:  # noqa: BLE001 - any parse failure falls back to code
        FALLBACKS.append(text)
        return Markup(f"<code>{escape(text)}</code>")
