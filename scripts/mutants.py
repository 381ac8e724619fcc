"""Mutants of one Python module, found in its AST and installed in the live, imported module
(scripts/mutate.py runs them). See mutate.py's docstring for the operators and what is never
mutated.

A mutant is installed by swapping `__code__` on every function it changes, so every reference
to the function (`from m import f` copies included) runs the mutant; a default argument or a
simple `NAME = value` at module or class level is rebound instead. Anything else at module
level cannot be installed after import and is reported as not applied.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
import types

CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
       ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot,
       ast.IsNot: ast.Is}  # fmt: skip
BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
       ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr,
       ast.BitOr: ast.BitAnd, ast.BitXor: ast.BitOr, ast.LShift: ast.RShift,
       ast.RShift: ast.LShift}  # fmt: skip
CALLS = {"min": "max", "max": "min", "any": "all", "all": "any"}
#: Module-level names holding verbatim official data (contraction, number and punctuation
#: tables, MMBench's abbreviations, revision metadata): compared entry by entry with the
#: official objects (test_scorer_crosscheck.py), so never mutated here.
VERBATIM_TABLES = {"CONTRACTIONS", "NUMBER_MAP", "PUNCTUATION", "ARTICLES", "MMB_ABBRS",
                   "REVISIONS", "REFUSALS"}  # fmt: skip


# ---- finding mutants --------------------------------------------------------------------------


def _skipped_subtrees(tree: ast.AST) -> set[int]:
    """ids of nodes whose subtrees are never mutated (see the module docstring)."""
    skip: set[int] = set()

    def mark(node):
        skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            mark(first)  # docstring
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for a in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                if a.annotation:
                    mark(a.annotation)
            if node.returns:
                mark(node.returns)
            for d in node.decorator_list:
                mark(d)
        elif isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                mark(d)
        elif isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        elif isinstance(node, (ast.JoinedStr, ast.Raise)):
            mark(node)
        elif isinstance(node, ast.Assert) and node.msg is not None:
            mark(node.msg)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("warnings.warn", "warn"):
            mark(node)
    for node in getattr(tree, "body", []):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id in VERBATIM_TABLES for t in targets):
            mark(node)
    return skip


def _replacements(node: ast.AST, in_body: bool) -> list[tuple[str, object]]:
    """(description, what to do) for each mutation of `node` itself; `in_body`: the node sits
    in a function body (statements there may be dropped)."""
    out: list[tuple[str, object]] = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in CMP:
                out.append((f"{type(op).__name__} -> {CMP[type(op)].__name__}", ("cmp", i)))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BIN:
        out.append((f"{type(node.op).__name__} -> {BIN[type(node.op)].__name__}", ("bin",)))
    elif isinstance(node, ast.BoolOp):
        out.append(("and <-> or", ("bool",)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        out.append((f"drop {type(node.op).__name__}", ("unary",)))
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            out.append((f"{v} -> {not v}", ("const", not v)))
        elif isinstance(v, int):
            out.append((f"{v} -> {v + 1}", ("const", v + 1)))
        elif isinstance(v, float):
            out.append((f"{v} -> {v + 1}", ("const", v + 1.0)))
        elif isinstance(v, str) and v:
            out.append((f"{v[:20]!r} -> ''", ("const", "")))
    elif isinstance(node, (ast.Break, ast.Continue)):
        out.append(("break <-> continue", ("flow",)))
    elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
        out.append(("negate condition", ("negate",)))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CALLS:
        out.append((f"{node.func.id} -> {CALLS[node.func.id]}", ("call",)))
    elif isinstance(node, ast.Return) and not (
        node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        out.append(("return None", ("return",)))
    if in_body and isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        out.append(("drop assignment", ("drop",)))
    return out


def _apply(node: ast.AST, how: tuple) -> ast.AST:
    """Mutate `node` in place (or return its replacement)."""
    kind = how[0]
    if kind == "cmp":
        node.ops[how[1]] = CMP[type(node.ops[how[1]])]()
    elif kind == "bin":
        node.op = BIN[type(node.op)]()
    elif kind == "bool":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "unary":
        return node.operand
    elif kind == "const":
        node.value = how[1]
    elif kind == "flow":
        return ast.Continue() if isinstance(node, ast.Break) else ast.Break()
    elif kind == "negate":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif kind == "call":
        node.func.id = CALLS[node.func.id]
    elif kind == "return":
        node.value = ast.Constant(value=None)
    elif kind == "drop":
        return ast.Pass()
    return node


def _function_bodies(tree: ast.AST) -> set[int]:
    """ids of the nodes inside a function's (or lambda's) body: code that runs when called.
    Everything else (defaults, module and class level) ran at import."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
        elif isinstance(node, ast.Lambda):
            inside.update(id(n) for n in ast.walk(node.body))
    return inside


def enumerate_mutants(source: str) -> list[dict]:
    """Every mutant of `source`: index, line, col, op, how, code (the line), and whether it
    sits in a function body (`runs_on_call`; the others ran when the module was imported)."""
    tree = ast.parse(source)
    skip, body = _skipped_subtrees(tree), _function_bodies(tree)
    lines = source.splitlines()
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        for desc, how in _replacements(node, id(node) in body):
            line = getattr(node, "lineno", 0)
            out.append({"index": len(out), "line": line, "col": getattr(node, "col_offset", 0),
                        "op": desc, "how": how, "code": lines[line - 1].strip() if line else "",
                        "runs_on_call": id(node) in body})  # fmt: skip
    return out


def mutated_tree(source: str, index: int) -> tuple[ast.Module, list[ast.AST]]:
    """The module's AST with mutant `index` applied, and the path of nodes down to it."""
    tree = ast.parse(source)
    skip, body = _skipped_subtrees(tree), _function_bodies(tree)
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    i = 0
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        for _, how in _replacements(node, id(node) in body):
            if i == index:
                path = [node]
                while id(path[-1]) in parents:
                    path.append(parents[id(path[-1])])
                new = _apply(node, how)
                if new is not node:
                    parent = path[1]
                    for field, value in ast.iter_fields(parent):
                        if value is node:
                            setattr(parent, field, ast.copy_location(new, node))
                        elif isinstance(value, list) and node in value:
                            value[value.index(node)] = ast.copy_location(new, node)
                return ast.fix_missing_locations(tree), path
            i += 1
    raise IndexError(index)


# ---- applying one in a live process -----------------------------------------------------------


def live_functions(module: types.ModuleType) -> dict[str, list[types.FunctionType]]:
    """Every function defined in `module` (methods, decorated ones unwrapped), by qualname."""
    found: dict[str, list] = {}
    seen: set[int] = set()

    def add(obj, depth=0):
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        for attr in ("fget", "fset", "__func__", "__wrapped__"):
            inner = getattr(obj, attr, None)
            if inner is not None and inner is not obj:
                add(inner, depth + 1)
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename == module.__file__:
            found.setdefault(obj.__code__.co_qualname, []).append(obj)
        elif isinstance(obj, type) and obj.__module__ == module.__name__:
            for value in vars(obj).values():
                add(value, depth + 1)

    for value in list(vars(module).values()):
        add(value)
    return found


def codes_by_qualname(code: types.CodeType) -> dict[str, types.CodeType]:
    out = {code.co_qualname: code}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out.update(codes_by_qualname(c))
    return out


def apply_mutant(module: types.ModuleType, source: str, index: int) -> bool:
    """Install mutant `index` in the live module; False when it cannot be applied."""
    tree, path = mutated_tree(source, index)
    new = codes_by_qualname(compile(tree, module.__file__, "exec", dont_inherit=True))
    applied = False
    for qualname, funcs in live_functions(module).items():
        code = new.get(qualname)
        if code is not None and code != funcs[0].__code__:
            for f in funcs:
                f.__code__ = code
                if hasattr(f, "cache_clear"):
                    f.cache_clear()
            applied = True
    for f in (f for fs in live_functions(module).values() for f in fs):
        for wrapper in vars(module).values():  # functools caches wrap the swapped function
            if getattr(wrapper, "__wrapped__", None) is f and hasattr(wrapper, "cache_clear"):
                wrapper.cache_clear()
    func = next((n for n in path if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is not None and any(n in path for n in [*func.args.defaults, *func.args.kw_defaults]):
        applied |= _set_defaults(module, _qualnames(tree)[id(func)], func)
    elif func is None:
        name = _set_constant(module, path)
        applied |= name is not None
        for node, qualname in _qualnames(tree).items():  # defaults bound to the old value
            f = next(n for n in ast.walk(tree) if id(n) == node)
            if name and any(isinstance(n, ast.Name) and n.id == name for d in f.args.defaults
                   + [d for d in f.args.kw_defaults if d] for n in ast.walk(d)):  # fmt: skip
                _set_defaults(module, qualname, f)
    return applied


def _qualnames(tree: ast.AST) -> dict[int, str]:
    """id of each FunctionDef -> its __qualname__."""
    out: dict[int, str] = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[id(child)] = prefix + child.name
                visit(child, prefix + child.name + ".<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _set_defaults(module, qualname: str, func: ast.FunctionDef) -> bool:
    """Re-evaluate `func`'s default arguments (from the mutated AST) on the live function."""
    funcs = live_functions(module).get(qualname, [])
    g = vars(module)
    defaults = tuple(eval(compile(ast.Expression(d), "<d>", "eval"), g) for d in func.args.defaults)
    kw = {a.arg: eval(compile(ast.Expression(d), "<d>", "eval"), g)
          for a, d in zip(func.args.kwonlyargs, func.args.kw_defaults) if d is not None}  # fmt: skip
    for f in funcs:
        f.__defaults__, f.__kwdefaults__ = defaults or None, kw or None
    return bool(funcs)


def _set_constant(module, path) -> str | None:
    """A simple `NAME = expr` at module or class level: rebind NAME to the mutated value.
    Returns NAME at module level (functions' defaults may hold its old value), "" for a class
    attribute, None when the mutant cannot be installed this way."""
    stmt = next((n for n in path if isinstance(n, (ast.Assign, ast.AnnAssign))), None)
    target = (stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target) if stmt else None
    if not isinstance(target, ast.Name) or stmt.value is None:
        return None
    owner = next((n for n in path if isinstance(n, ast.ClassDef)), None)
    where = module if owner is None else getattr(module, owner.name, None)
    if where is None or dataclasses.is_dataclass(where):  # a field default lives in __init__
        return None
    value = eval(compile(ast.Expression(stmt.value), "<c>", "eval"), dict(vars(module)))
    old = getattr(where, target.id, None)
    setattr(where, target.id, value)
    if owner is None:  # `from module import NAME` copies elsewhere (tasks, tests) follow
        for other in list(sys.modules.values()):
            if other is not module and getattr(other, target.id, None) is old and old is not None:
                setattr(other, target.id, value)
    return target.id if owner is None else ""
