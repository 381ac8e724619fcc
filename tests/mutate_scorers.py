"""A small mutation check for janus_eval/metrics/vqa.py and janus_eval/metrics/mcq.py.

Why a script of our own: the two modules are pure functions with fast tests, so a mutant is
one edited file and one pytest run of the tests that guard it; mutmut and cosmic-ray would
copy or instrument the whole project (torch included) for the same answer.

Each mutant changes ONE node of the module's syntax tree; the file is rewritten with
`ast.unparse` (comments and docstrings do not matter to behaviour), the guarding tests run with
`-x`, and the original file is put back whatever happens. Mutation operators: comparison flips
(== !=, < <=, > >=, in / not in, is / is not), arithmetic swaps (+ -, * /), integer constants
+1 (and 0 <-> 1), string constants emptied, `and` <-> `or`, `not` dropped, `if` / `while`
conditions negated, min <-> max, any <-> all, return values other than None replaced by None,
assignments in
function bodies dropped. The verbatim tables (contractions, number map, punctuation, MMB_abbrs,
revision metadata) are compared entry by entry with the official objects in
test_scorer_crosscheck.py and are not mutated here. Docstrings are not mutated.

    python tests/mutate_scorers.py            # every mutant; prints survivors, then the rate
    python tests/mutate_scorers.py --list     # the mutants only
"""

from __future__ import annotations

import argparse
import ast
import copy
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "janus_eval/metrics/vqa.py": ["tests/test_vqa_metric.py", "tests/test_scorer_crosscheck.py"],
    "janus_eval/metrics/mcq.py": ["tests/test_mcq_metric.py", "tests/test_scorer_crosscheck.py"],
}
#: Module-level names holding verbatim official data (checked entry by entry elsewhere).
TABLES = {"CONTRACTIONS", "NUMBER_MAP", "PUNCTUATION", "ARTICLES", "MMB_ABBRS", "REVISIONS",
          "REFUSALS"}  # fmt: skip
FLIP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
        ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot,
        ast.IsNot: ast.Is, ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div,
        ast.Div: ast.Mult, ast.And: ast.Or, ast.Or: ast.And}  # fmt: skip
CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}


def _skipped(tree: ast.Module) -> set[int]:
    """ids of nodes never mutated: docstrings and the verbatim tables."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            skip.update(id(n) for n in ast.walk(first))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id in TABLES for t in targets):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _variants(node: ast.AST, in_function: bool) -> Iterator[tuple[str, object]]:
    """(description, replacement) for one node; the replacement is applied by `_apply`."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in FLIP:
                yield f"{type(op).__name__} -> {FLIP[type(op)].__name__}", ("op", i)
    elif isinstance(node, ast.BinOp) and type(node.op) in FLIP:
        yield f"{type(node.op).__name__} -> {FLIP[type(node.op)].__name__}", ("binop",)
    elif isinstance(node, ast.BoolOp):
        yield f"{type(node.op).__name__} -> {FLIP[type(node.op)].__name__}", ("boolop",)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop not", ("unnot",)
    elif isinstance(node, (ast.If, ast.While)):
        yield "negate condition", ("negate",)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield f"{node.value} -> {node.value + 1 if node.value else 1}", ("int",)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        yield f"{node.value!r} -> ''", ("str",)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALLS:
        yield f"{node.func.id} -> {CALLS[node.func.id]}", ("call",)
    elif isinstance(node, ast.Return) and not (
        node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return None", ("return",)
    elif in_function and isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        yield "drop assignment", ("drop",)


def _apply(node: ast.AST, how: tuple) -> ast.AST:
    kind = how[0]
    if kind == "op":
        node.ops[how[1]] = FLIP[type(node.ops[how[1]])]()
    elif kind in ("binop", "boolop"):
        node.op = FLIP[type(node.op)]()
    elif kind == "unnot":
        return node.operand
    elif kind == "negate":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif kind == "int":
        node.value = node.value + 1 if node.value else 1
    elif kind == "str":
        node.value = ""
    elif kind == "call":
        node.func.id = CALLS[node.func.id]
    elif kind == "return":
        node.value = ast.Constant(value=None)
    elif kind == "drop":
        return ast.Pass()
    return node


class _Replace(ast.NodeTransformer):
    def __init__(self, target: int, how: tuple) -> None:
        self.target, self.how = target, how

    def visit(self, node: ast.AST) -> ast.AST:
        if getattr(node, "_mutant_id", None) == self.target:
            return _apply(node, self.how)
        return self.generic_visit(node)


def mutants(source: str) -> Iterator[tuple[int, str, str]]:
    """(line, description, mutated source) for every mutant of `source`."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    functions = {id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                 for n in ast.walk(f) if n is not f}  # fmt: skip
    sites = []
    for number, node in enumerate(ast.walk(tree)):
        node._mutant_id = number  # type: ignore[attr-defined]
        if id(node) not in skip:
            for desc, how in _variants(node, id(node) in functions):
                sites.append((number, getattr(node, "lineno", 0), desc, how))
    for number, line, desc, how in sites:
        mutated = _Replace(number, how).visit(copy.deepcopy(tree))
        yield line, desc, ast.unparse(ast.fix_missing_locations(mutated))


def run(target: str, tests: list[str], only: list[str]) -> tuple[int, int, list[str]]:
    path = ROOT / target
    original = path.read_text()
    killed = total = 0
    survivors = []
    try:
        for line, desc, source in mutants(original):
            if only and not any(text in f"{target}:{line}: {desc}" for text in only):
                continue
            total += 1
            path.write_text(source)
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                cwd=ROOT, capture_output=True, timeout=300,
            )  # fmt: skip
            if done.returncode != 0:
                killed += 1
            else:
                survivors.append(f"{target}:{line}: {desc}")
                print("SURVIVED", survivors[-1], flush=True)
    finally:
        path.write_text(original)
    return killed, total, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only mutants whose 'file:line: description' contains TEXT",
    )
    args = parser.parse_args()
    for target, tests in TARGETS.items():
        if args.list:
            for line, desc, _ in mutants((ROOT / target).read_text()):
                print(f"{target}:{line}: {desc}")
            continue
        start = time.time()
        killed, total, survivors = run(target, tests, args.only)
        if not total:
            continue
        print(f"{target}: {killed}/{total} killed ({100 * killed / total:.1f}%), "
              f"{len(survivors)} survived, {time.time() - start:.0f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
