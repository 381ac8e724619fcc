"""Mutation testing for one module: does the test suite fail when the code is wrong?

    python scripts/mutate.py janus_eval/metrics/pope.py tests/test_pope_metric.py \\
        --out mutants-pope.jsonl [--warm CODE] [--lines 40-90] [--list] [-- PYTEST ARGS]

Each mutant is one small change to the module's AST (operators below), applied alone, and the
given test files are run against it; the mutant is *killed* when they fail (or time out) and
*survives* when they pass. Survivors are what the tests cannot see: a missing test, or a change
that cannot alter behaviour (an equivalent mutant), which a person has to tell apart.

How, and why this way: the parent process imports the module (and, with --warm, builds any
expensive fixtures, e.g. `import janus_helpers as h; h.tiny_model()`) once, then forks one
child per mutant. The child swaps the `__code__` of every function the mutation changed (so
every reference, including `from m import f` copies held by tests, sees the mutant), clears
functools caches, and runs pytest in-process with `-x`. Nothing is written to the source tree,
so a crash or a kill never leaves a mutated file behind, and no import cost is paid per mutant.

Operators: comparisons (< <=, > >=, == !=, in / not in, is / is not), arithmetic and bitwise
(+ -, * /, // /, % //, ** *, & |, ^ |, << >>, also in augmented assignments), and / or,
`not x` -> x, `-x` -> x, integer n -> n + 1, float x -> x + 1, True <-> False, a non-empty
string -> "", break <-> continue, `if` / `while` / `x if c else y` conditions negated,
min <-> max, any <-> all, a returned value -> None, an assignment in a function body dropped.
Never mutated: docstrings, annotations, decorators, f-strings, arguments of `raise`,
`warnings.warn` and `assert` messages (they hold messages, not logic), and the verbatim
official tables named in mutants.VERBATIM_TABLES (test_scorer_crosscheck.py compares them entry
by entry with the official objects). Function bodies and default arguments, and simple
constant assignments at module or class level, are mutated; other module-level code is
reported as "not applied".

--max N runs N of the mutants, drawn with a fixed seed (--seed) and run in file order: a
budget for slow tests or a shared machine; the summary says how many of how many ran.

The tests are traced once (main process only) to learn which of them execute each line; a
mutant in a function body is then run against those tests alone, and is "not covered" when
there are none. Mutants at module or class level ran at import and get every test. Results: one JSON line per mutant, and a summary on stderr.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import random
import signal
import sys
import time
import types
from pathlib import Path

from mutants import apply_mutant, codes_by_qualname, enumerate_mutants, live_functions

# ---- running ----------------------------------------------------------------------------------


def run_child(job, timeout: float) -> tuple[str, float]:
    """Fork; the child runs `job()` (returns an exit status); status 0 -> "passed"."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.setpgrp()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            code = job()
        except BaseException:
            code = 99
        os._exit(code)
    deadline, done = t0 + timeout, 0
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                return ("passed" if code == 0 else f"failed({code})"), time.perf_counter() - t0
            if time.perf_counter() > deadline:
                break
            time.sleep(0.05)
    finally:  # timed out, or this process is being stopped: the child's group goes too
        if not done:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return "timeout", time.perf_counter() - t0


def pytest_job(args: list[str], before=None):
    def job():
        import pytest

        try:
            if before is not None and not before():
                return 98
        except Exception:
            return 97
        return int(pytest.main([*args, "-x", "-q", "-p", "no:cacheprovider"]))

    return job


def tests_by_line(module, args: list[str], out: Path, timeout: float) -> dict[int, list[str]]:
    """Line of the module -> ids of the tests that execute it (traced once, in a child; None
    stands for code run while collecting, which every test may depend on)."""

    def trace():
        seen: dict[int, dict] = {}
        target, current = module.__file__, [None]

        class Recorder:
            def pytest_runtest_logstart(self, nodeid, location):
                current[0] = nodeid

        def tracer(frame, event, arg):
            if frame.f_code.co_filename != target:
                return None
            if event == "line":
                seen.setdefault(frame.f_lineno, {})[current[0]] = None
            return tracer

        import threading

        import pytest

        threading.settrace(tracer)
        sys.settrace(tracer)
        code = pytest.main([*args, "-q", "-p", "no:cacheprovider"], plugins=[Recorder()])
        sys.settrace(None)
        out.write_text(json.dumps({line: list(ids) for line, ids in seen.items()}))
        return int(code)

    status, _ = run_child(trace, timeout)
    if status != "passed":
        raise SystemExit(f"the tests fail (or time out) without any mutant: {status}")
    return {int(line): ids for line, ids in json.loads(out.read_text()).items()}


def module_for(path: Path) -> types.ModuleType:
    """The imported module whose file is `path` (tasks/ and model_adapters/ live under
    janus_eval.*)."""
    rel = path.resolve().relative_to(Path.cwd()).with_suffix("")
    dotted = ".".join(rel.parts).removesuffix(".__init__")
    for name in (dotted, "janus_eval." + dotted):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if Path(mod.__file__).resolve() == path.resolve():
            return mod
    raise SystemExit(f"cannot import {path} as a module (tried {dotted})")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so run_child cleans up
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("target", type=Path)
    p.add_argument("tests", nargs="+")
    p.add_argument("--out", type=Path, default=None, help="JSON lines, one per mutant")
    p.add_argument("--warm", default="", help="Python run once in the parent before forking")
    p.add_argument("--lines", default="", help="only mutants on lines A-B")
    p.add_argument("--list", action="store_true", help="list the mutants and stop")
    p.add_argument("--index", default="", help="only mutants N,M,... (numbers from --list)")
    p.add_argument("--max", type=int, default=0, help="run at most N mutants, a seeded sample")
    p.add_argument("--seed", type=int, default=0, help="the sample's seed (with --max)")
    p.add_argument("--timeout-factor", type=float, default=3.0)
    a = p.parse_args(argv)
    source = a.target.read_text()
    mutants = enumerate_mutants(source)
    if a.lines:
        lo, hi = (int(x) for x in a.lines.split("-"))
        mutants = [m for m in mutants if lo <= m["line"] <= hi]
    if a.index:
        wanted = {int(i) for i in a.index.split(",")}
        mutants = [m for m in mutants if m["index"] in wanted]
    found = len(mutants)
    if a.max and a.max < found:
        keep = set(random.Random(a.seed).sample(range(found), a.max))
        mutants = [m for i, m in enumerate(mutants) if i in keep]
    if a.list:
        for m in mutants:
            print(f"{m['index']:4d} {a.target}:{m['line']}  {m['op']:<20} {m['code']}")
        return 0
    sys.path[:0] = [str(Path(t).parent.resolve()) for t in a.tests]
    module = module_for(a.target)
    same = codes_by_qualname(compile(ast.parse(source), module.__file__, "exec", dont_inherit=True))
    differ = [
        q for q, fs in live_functions(module).items() if q in same and same[q] != fs[0].__code__
    ]
    if differ:  # the live module is not this source (edited since import?)
        raise SystemExit(f"{a.target}: live code differs from the file in {differ[:5]}")
    if a.warm:
        exec(a.warm, {})
    args = [*a.tests, *extra]
    out = a.out or Path(f"mutants-{a.target.stem}.jsonl")
    covering = tests_by_line(module, args, out.with_suffix(".lines.json"), 3600)
    status, base = run_child(pytest_job(args), 3600)
    if status != "passed":
        raise SystemExit(f"the tests fail without any mutant: {status}")
    timeout = a.timeout_factor * base + 30
    print(f"{len(mutants)} of {found} mutants; tests take {base:.1f} s; timeout {timeout:.0f} s",
          file=sys.stderr)  # fmt: skip
    counts: dict[str, int] = {}
    with out.open("w") as f:
        for m in mutants:
            ids = covering.get(m["line"], []) if m["runs_on_call"] else [None]
            if not ids:
                result, secs = "not covered", 0.0
            else:  # only the tests that run the line (all of them for code run on import)
                which = [*args] if None in ids else [*ids, *extra]
                job = pytest_job(which, lambda m=m: apply_mutant(module, source, m["index"]))
                result, secs = run_child(job, timeout)
                result = {"passed": "survived", "failed(98)": "not applied",
                          "failed(97)": "error"}.get(result, result)  # fmt: skip
                result = "killed" if result.startswith(("failed", "timeout")) else result
            counts[result] = counts.get(result, 0) + 1
            row = {k: m[k] for k in ("index", "line", "col", "op", "code")}
            f.write(json.dumps({"file": str(a.target), **row, "result": result,
                                "seconds": round(secs, 1)}) + "\n")  # fmt: skip
            f.flush()
            print(f"{m['index']:4d} {a.target}:{m['line']} {m['op']:<18} {result}", file=sys.stderr)
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    rate = killed / (killed + survived) if killed + survived else float("nan")
    print(f"{a.target}: {counts}; kill rate {rate:.1%} of {killed + survived} run",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
