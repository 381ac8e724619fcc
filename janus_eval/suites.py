"""Suites: a named list of tasks, each with the settings of the paper whose table it reproduces.

`janus-eval run --suite janus-paper --model janus --model-path deepseek-ai/Janus-Pro-7B` runs
the whole table with one loaded model; `janus-eval suites` lists the suites. Suites register
like tasks and adapters (`registry.register_suite`, entry-point group `janus_eval.suites`); the
built-in ones are in tasks/janus_suites.py. The core names tasks only as strings.

How settings combine, lowest first: the task's defaults, the suite's settings, then the user's
`--task-option`. A plain `KEY=VALUE` goes to every task of the run that has that option (an
error when none has it); `TASK.KEY=VALUE` goes to that task alone (`mmvet.judge_url=...`).
Every task object is built (options checked, MM-Vet's judge found) before the model is loaded,
so a wrong option fails at once, not after hours of other tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_eval.types import Task, UserError


@dataclass(frozen=True)
class SuiteTask:
    """One column of a paper's table: the task, its settings and where they come from."""

    task: str
    #: Task options that reproduce the paper's setting (split, prompts, sample counts, ...).
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The column's heading in the paper ("MME-P", "MJHQ FID").
    column: str = ""
    #: Where the setting is written down (paper, table, the code the paper names).
    source: str = ""


@dataclass(frozen=True)
class Suite:
    """A named, ordered list of tasks; the order is the paper's column order."""

    name: str
    description: str
    tasks: tuple[SuiteTask, ...]

    def task_names(self) -> list[str]:
        return [t.task for t in self.tasks]

    def settings(self, task: str) -> dict[str, Any]:
        return next((dict(t.options) for t in self.tasks if t.task == task), {})


def scope_options(given: Mapping[str, str], tasks: Mapping[str, type[Task]]) -> dict[str, dict]:
    """`--task-option` pairs -> {task: {key: value}}: `task.key` to that task, a plain `key` to
    every task that has the option. UserError for a key no task of the run has."""
    out: dict[str, dict[str, str]] = {name: {} for name in tasks}
    for key, value in given.items():
        prefix, dot, rest = key.partition(".")
        if dot and prefix in tasks:
            if rest not in tasks[prefix].default_options():
                raise UserError(
                    f"--task-option {key}: task {prefix!r} has no option {rest!r}; see "
                    f"`janus-eval tasks {prefix}`"
                )
            out[prefix][rest] = value
            continue
        takers = [name for name, cls in tasks.items() if key in cls.default_options()]
        if not takers:
            scoped = f" (a task-scoped option is TASK.{key}; tasks here: {', '.join(tasks)})"
            raise UserError(f"--task-option {key}: no task of this run has that option{scoped}")
        for name in takers:
            out[name][key] = value
    return out


@dataclass
class PlannedTask:
    """A task object ready to run (options merged and checked), and where its data lies."""

    task: Task
    data_dir: Path | None


def task_data_dir(data_dir: str | Path | None, task: str, several: bool) -> Path | None:
    """With several tasks, DATA_DIR/<task> where it exists, else DATA_DIR itself."""
    if data_dir is None:
        return None
    data_dir = Path(data_dir)
    if not several:
        return data_dir
    return data_dir / task if (data_dir / task).is_dir() else data_dir


def select(suite: Suite | None, tasks: Sequence[str], skip: Sequence[str]) -> list[str]:
    """The task names of a run: the suite's (narrowed to `tasks` when both are given) or
    `tasks`, without `skip`. Names are checked against the suite."""
    if suite is None:
        names = list(tasks)
    elif tasks:
        outside = [t for t in tasks if t not in suite.task_names()]
        if outside:
            raise UserError(
                f"--task {','.join(outside)}: not in suite {suite.name!r} "
                f"({', '.join(suite.task_names())}); with --suite, --task narrows the suite"
            )
        names = [t for t in suite.task_names() if t in tasks]
    else:
        names = suite.task_names()
    unknown = [s for s in skip if s not in names]
    if unknown:
        raise UserError(f"--skip {','.join(unknown)}: not a task of this run ({', '.join(names)})")
    names = [n for n in names if n not in skip]
    if not names:
        raise UserError("nothing to run: every task was skipped")
    return names


def plan(
    names: Sequence[str],
    *,
    suite: Suite | None,
    options: Mapping[str, str],
    data_dir: Path | None,
    demo: bool = False,
) -> list[PlannedTask]:
    """Every task built, in order, before any model work: defaults < suite < user options
    (< a demo's offline stand-ins for what is still open, with `demo`)."""
    from janus_eval import registry
    from janus_eval.demo import make_demo_task

    make = make_demo_task if demo else registry.make_task

    classes = {name: registry.task_class(name) for name in names}
    if suite is None and len(names) == 1:  # one task: its own message for an unknown option
        scoped = {names[0]: dict(options)}
    else:
        scoped = scope_options(options, classes)
    planned = []
    for name in names:
        settings = {k: str(v) for k, v in (suite.settings(name) if suite else {}).items()}
        try:
            task = make(name, {**settings, **scoped[name]})
        except UserError as exc:
            hint = (
                f" (in a suite: -O {name}.KEY=VALUE sets one task's option; --skip {name} "
                "leaves it out)"
                if suite
                else ""
            )
            raise UserError(f"{exc}{hint}") from None
        planned.append(PlannedTask(task, task_data_dir(data_dir, name, len(names) > 1)))
    return planned
