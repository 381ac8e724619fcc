"""scripts/mutants.py, the mutation operators of scripts/mutate.py: which mutants a module
yields, what is left alone, and that a mutant installed in the live module changes what its
functions return (and only that function, and only in that process)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import mutants  # noqa: E402

SOURCE = '''"""Module docstring: never mutated."""

CONTRACTIONS = {"dont": "don't"}
LIMIT = 3


def clip(x):
    """Docstring."""
    if x > 1:
        return min(x, LIMIT)
    y = x + 1
    while False:
        break
    return y


def label(ok):
    return "yes" if ok and True else "no"


def fail():
    raise ValueError("message " + "kept")
'''


def _ops(source: str) -> list[tuple[int, str]]:
    return [(m["line"], m["op"]) for m in mutants.enumerate_mutants(source)]


def test_the_mutants_of_a_small_module():
    """Every operator once or more; the verbatim table, the docstrings and the `raise`
    argument yield none."""
    assert sorted(_ops(SOURCE)) == sorted(
        [
            (4, "3 -> 4"),
            (9, "negate condition"),
            (11, "drop assignment"),
            (12, "negate condition"),
            (10, "return None"),
            (14, "return None"),
            (18, "return None"),
            (9, "Gt -> GtE"),
            (11, "Add -> Sub"),
            (12, "False -> True"),
            (13, "break <-> continue"),
            (18, "negate condition"),
            (9, "1 -> 2"),
            (10, "min -> max"),
            (11, "1 -> 2"),
            (18, "and <-> or"),
            (18, "'yes' -> ''"),
            (18, "'no' -> ''"),
            (18, "True -> False"),
        ]
    )


def _live(tmp_path: Path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_mutant_runs_in_the_live_module(tmp_path):
    module = _live(tmp_path, "mutation_target_a")
    clip = module.clip  # a `from m import clip` copy sees the mutant too
    index = {m["op"]: m["index"] for m in mutants.enumerate_mutants(SOURCE)}
    assert clip(5) == 3 and clip(0) == 1
    assert mutants.apply_mutant(module, SOURCE, index["min -> max"])
    assert clip(5) == 5 and clip(0) == 1


def test_a_module_constant_is_rebound_with_its_imported_copies(tmp_path, monkeypatch):
    module = _live(tmp_path, "mutation_target_b")
    importer = type(sys)("mutation_importer")  # as `from mutation_target_b import LIMIT`
    importer.LIMIT = module.LIMIT
    monkeypatch.setitem(sys.modules, "mutation_importer", importer)
    (m,) = [m for m in mutants.enumerate_mutants(SOURCE) if m["op"] == "3 -> 4"]
    assert mutants.apply_mutant(module, SOURCE, m["index"])
    assert module.LIMIT == 4 and module.clip(9) == 4 and importer.LIMIT == 4
