"""docs/architecture.md draws the package layout; this keeps the drawing true.

The component graph is computed from the source with ``ast`` the way
``../shared/tools/layering.py`` computes it (a component = the first name under
``sealfeed``; every import counts, function-level ones included, ``TYPE_CHECKING`` blocks
excluded) and compared edge by edge with the mermaid drawing under "Package layout": solid
arrows are imports by library code, dotted ones exist only in CLI modules.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "sealfeed"
DOC = ROOT / "docs" / "architecture.md"
#: the entry points: sealfeed.cli loads the CLI modules by name, __main__ calls it
ENTRY = {"cli", "__main__"}

Edge = tuple[str, str]


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_cli(module: str) -> bool:
    return any(p == "cli" or p.endswith("_cli") for p in module.split(".")[1:])


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    found: list[str] = []

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            t = node.test
            if (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
                isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
            ):
                for n in node.orelse:
                    self.visit(n)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.extend(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                found.append(".".join(base + ([node.module] if node.module else [])))
            else:
                found.append(node.module or "")

    Visitor().visit(tree)
    return [f for f in found if f.startswith("sealfeed.")]


def code_graph() -> tuple[set[str], set[Edge], set[Edge]]:
    """(components, library edges, CLI-module edges) of src/sealfeed."""
    components: set[str] = set()
    library: set[Edge] = set()
    cli: set[Edge] = set()
    for path in SRC.rglob("*.py"):
        module = _module(path)
        if "." not in module:
            continue
        a = module.split(".")[1]
        components.add(a)
        for imported in _imports(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            b = imported.split(".")[1]
            if b != a:
                (cli if _is_cli(module) else library).add((a, b))
    return components, library, cli


def doc_graph(text: str) -> tuple[set[str], set[str], set[Edge], set[Edge]]:
    """(foundation, drawn components, solid edges, dotted edges) of the Package layout."""
    section = text.split("### Package layout", 1)[1]
    foundation_line = re.search(r"^Foundation \([^)]*\): (.+)$", section, re.M)
    assert foundation_line, "the Package layout section names the foundation modules"
    foundation = set(re.findall(r"`(\w+)`", foundation_line.group(1)))
    drawing = section.split("```mermaid", 1)[1].split("```", 1)[0]
    nodes: set[str] = set()
    solid: set[Edge] = set()
    dotted: set[Edge] = set()
    for line in drawing.splitlines():
        line = line.strip()
        if not line or line == "graph TD":
            continue
        if m := re.fullmatch(r"(\w+)\s*-->\s*(\w+)", line):
            solid.add((m[1], m[2]))
        elif m := re.fullmatch(r"(\w+)\s*-\.->\s*(\w+)", line):
            dotted.add((m[1], m[2]))
        elif m := re.fullmatch(r'(\w+)(\[".*"\])?', line):
            nodes.add(m[1])
            continue
        else:
            pytest.fail(f"cannot read this line of the drawing: {line!r}")
        nodes.update(m.group(1, 2))
    return foundation, nodes, solid, dotted


def test_the_drawing_is_the_import_graph() -> None:
    components, library, cli = code_graph()
    foundation, nodes, solid, dotted = doc_graph(DOC.read_text())
    drawn = components - foundation - ENTRY
    assert nodes - {"cli"} == drawn, "every component is drawn, and only components"

    def between_drawn(edges: set[Edge]) -> set[Edge]:
        return {(a, b) for a, b in edges if a in drawn and b in drawn}

    assert solid == between_drawn(library), "solid arrows = library imports"
    assert dotted == between_drawn(cli) - between_drawn(library), "dotted = CLI-only imports"


def test_foundation_modules_import_only_each_other() -> None:
    components, library, cli = code_graph()
    foundation, *_ = doc_graph(DOC.read_text())
    assert foundation <= components
    outward = {(a, b) for a, b in library | cli if a in foundation and b not in foundation}
    assert outward == set()


def test_every_component_has_a_code_map_row() -> None:
    text = DOC.read_text()
    table = text.split("## Code map", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"^\| `sealfeed\.(\w+)`", table, re.M))
    components, *_ = code_graph()
    foundation, *_ = doc_graph(text)
    assert listed == components - foundation - {"__main__"}
    assert all(f"`{name}`" in table for name in foundation)  # the foundation row


def test_the_checker_reads_what_it_should() -> None:
    text = """
### Package layout

Foundation (shared): `errors`, `log`.

```mermaid
graph TD
  cli["entry"]
  a --> b
  a -.-> c
  d
```
"""
    assert doc_graph(text) == ({"errors", "log"}, {"cli", "a", "b", "c", "d"},
                               {("a", "b")}, {("a", "c")})  # fmt: skip
    components, library, _ = code_graph()
    assert {"verify", "attest", "link", "cgroup", "errors"} <= components
    assert ("verify", "attest") in library and ("exporter", "cgroup") in library


def test_distinct_things_have_distinct_names() -> None:
    """No two public classes of sealfeed share a name (issue #17: a DCAP quote, a cached
    price and a stream tick were all ``Quote``). Private helpers (``_Obj``) may repeat."""
    where: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(_module(path))
    assert {name: mods for name, mods in where.items() if len(mods) > 1} == {}
