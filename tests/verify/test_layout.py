"""The layout rules that keep a paper a plug-in: the engine and the reports name no paper,
the import graph has no cycle between top-level folders or modules, and every folder says
what lives in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("verify", "solvers", "theorems", "reports")


def _paper_keys() -> list[str]:
    return sorted(p.name for p in (ROOT / "theorems").iterdir() if (p / "__init__.py").exists())


def test_engine_and_reports_name_no_paper() -> None:
    keys = _paper_keys()
    assert len(keys) >= 6
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, keys)) + r")\b")
    hits = []
    for folder in ("verify", "reports"):
        for f in sorted((ROOT / folder).rglob("*")):
            if f.is_file() and f.suffix in {".py", ".j2", ".md", ".html", ".css", ".js"}:
                for n, line in enumerate(f.read_text().splitlines(), 1):
                    if pattern.search(line):
                        hits.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return "convcheck." + ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Modules imported at module level (function-level imports are lazy by design)."""
    out: set[str] = set()
    me = _module_of(path)
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in out if m.startswith("convcheck.")}


def test_no_generic_top_level_imports() -> None:
    bad = []
    for folder in (*FOLDERS, "tests", "examples", "src"):
        for f in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                bad += [f"{f.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FOLDERS]
    assert not bad, "\n".join(bad)


def test_solvers_import_no_engine_and_engine_imports_no_reports() -> None:
    for f in (ROOT / "solvers").rglob("*.py"):
        src = f.read_text()
        for other in ("convcheck.verify", "convcheck.theorems", "convcheck.reports"):
            assert other not in src, f"{f.relative_to(ROOT)} imports {other}"
    for f in (ROOT / "verify").rglob("*.py"):
        if f.name not in ("cli.py", "pytest_plugin.py"):  # the command line and the plugin sit on top
            assert "convcheck.reports" not in f.read_text(), f"{f.relative_to(ROOT)} imports the reports"


def test_module_level_imports_have_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    files = [f for folder in FOLDERS for f in (ROOT / folder).rglob("*.py")]
    mods = {_module_of(f): f for f in files}
    for m, f in mods.items():
        graph[m] = {d for d in _imports(f) if d in mods and d != m}
    # a package's __init__ importing its own submodules at the bottom is the registration
    # convention (parent -> child), not a cycle; drop child -> parent edges to its own package
    for m in graph:
        graph[m] = {d for d in graph[m] if not m.startswith(d + ".")}
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        seen[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if seen.get(d) == 1:
                cycles.append(" -> ".join([*stack[stack.index(d):], d]))
            elif d not in seen:
                visit(d)
        stack.pop()
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m)
    assert sum(len(v) for v in graph.values()) > 50  # the graph was actually built
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_sources_hold_no_control_characters_or_tracker_words() -> None:
    """A tab or form feed inside a statement renders garbled (a lost raw-string prefix turns
    \\frac into a form feed); user-facing text speaks of papers and features, not of tickets."""
    bad = []
    tracker = re.compile(r"\bissue ?#?[0-9]+|\bseed 00[0-9]", re.I)
    for folder in (*FOLDERS, "src", "examples", "docs"):
        for f in sorted((ROOT / folder).rglob("*")):
            if f.suffix not in {".py", ".md", ".j2"} or not f.is_file():
                continue
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", line):
                    bad.append(f"{f.relative_to(ROOT)}:{n}: control character")
                if tracker.search(line):
                    bad.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not bad, "\n".join(bad)


def test_every_folder_says_what_lives_there() -> None:
    for folder in FOLDERS:
        doc = ast.get_docstring(ast.parse((ROOT / folder / "__init__.py").read_text()))
        assert doc and len(doc) > 80, folder
    for key in _paper_keys():
        init = ROOT / "theorems" / key / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 80, key
        assert (ROOT / "theorems" / key / "README.md").exists(), key


def _direct_solver_calls() -> list[str]:
    """Uses of a registered reference solver in a paper's claim modules other than through
    the ``solvers`` argument: ``alias.fn`` of an imported solver module, or ``fn`` imported by
    name (benchmark cores and planted bugs call solvers directly by design)."""
    import importlib

    from convcheck.solvers.registry import REFERENCE, load_all
    from convcheck.verify.claims import load_registry

    load_all()
    load_registry()
    refs = {id(fn) for fn in REFERENCE.values()}
    out = []
    for key in _paper_keys():
        for f in sorted((ROOT / "theorems" / key).glob("*.py")):
            if f.stem in ("bench", "mutants", "families"):  # instance builders are not checks
                continue
            mod = importlib.import_module(_module_of(f))
            tree = ast.parse(f.read_text())
            for node in ast.walk(tree):
                target = None
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    base = getattr(mod, node.value.id, None)
                    if base is not None and getattr(base, "__name__", "").startswith("convcheck.solvers"):
                        target = getattr(base, node.attr, None)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    target = getattr(mod, node.id, None)
                if target is not None and id(target) in refs:
                    out.append(f"{f.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(out))


def test_claims_reach_solvers_only_through_solvers() -> None:
    calls = _direct_solver_calls()
    assert not calls, "reference solvers used directly (use solvers.<family>):\n" + "\n".join(calls)
