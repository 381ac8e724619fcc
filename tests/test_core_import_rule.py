"""The core knows no task and no adapter (issue 17, docs/ARCHITECTURE.md): no module under
janus_eval/ imports `janus_eval.tasks` or `janus_eval.model_adapters` (installed from tasks/ and
model_adapters/); the registry alone finds them, through its plug-in loading, by name."""

from __future__ import annotations

import ast
from pathlib import Path

import janus_eval

CORE = Path(janus_eval.__file__).resolve().parent
FORBIDDEN = ("janus_eval.tasks", "janus_eval.model_adapters")
#: Folders leaving the core in issue 17 through the other two parts of the change.
LEAVING = ("bench", "detection")


def _imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in a module of `package`, relative ones made
    absolute."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _violations(files: list[Path]) -> list[str]:
    out = []
    for path in files:
        rel = path.relative_to(CORE.parent)
        package = ".".join(rel.parent.parts)  # a module's package; __init__'s is its own
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, name in _imported(tree, package):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                out.append(f"{rel}:{line} imports {name}")
    return out


def _core_files(leaving: bool) -> list[Path]:
    files = sorted(CORE.rglob("*.py"))
    return [f for f in files if (f.relative_to(CORE).parts[0] in LEAVING) == leaving]


def test_the_rule_sees_every_spelling_of_the_import(tmp_path):
    """The checker itself: absolute, from-, and relative imports all count."""
    code = (
        "import janus_eval.tasks.vqav2\n"
        "from janus_eval.model_adapters.janus import adapter\n"
        "from janus_eval import tasks\n"
        "from ..model_adapters import dummy\n"
        "from janus_eval import registry\n"
    )
    names = [n for _, n in _imported(ast.parse(code), "janus_eval.report")]
    flagged = [n for n in names if any(n.startswith(f) for f in FORBIDDEN)]
    assert flagged == [
        "janus_eval.tasks.vqav2",
        "janus_eval.model_adapters.janus.adapter",
        "janus_eval.tasks",
        "janus_eval.model_adapters.dummy",
    ]


def test_the_core_imports_no_task_and_no_adapter():
    files = _core_files(leaving=False)
    assert CORE / "registry.py" in files and len(files) > 20
    assert _violations(files) == []


def test_the_leaving_folders_are_gone():
    assert [d for d in LEAVING if (CORE / d).exists()] == []
    assert _violations(_core_files(leaving=True)) == []
