"""Built-in demos (`janus-eval run --demo`): every task's small sample in its official format
(janus_eval/demo_data/<task>/, with a README saying where the real data comes from) and, where a
task needs weights or a service to score, offline stand-ins the task names in `demo_options`
(random-weight detectors, CLIP and FID extractors, a keyword-matching MM-Vet judge).

A demo run is marked DEMO everywhere: `config.data.demo` is part of its run id (so it never
shares a run, nor stored results, with a real run), the leaderboard gives it a row of its own
with a note, and the HTML report and the CLI say so beside its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from janus_eval.types import RunRecord, Task, UserError

DEMO_ROOT = Path(__file__).resolve().parent / "demo_data"
#: What reports say beside a demo run's numbers.
DEMO_NOTE = "DEMO run on built-in sample data (means nothing)"


def demo_data_dir(task_name: str) -> Path:
    """The built-in sample of a task, for offline demos (its numbers mean nothing)."""
    path = DEMO_ROOT / task_name
    if not path.is_dir():
        have = (
            sorted(p.name for p in DEMO_ROOT.iterdir() if p.is_dir()) if DEMO_ROOT.is_dir() else []
        )
        raise UserError(
            f"task {task_name!r} has no built-in demo sample; demos exist for: "
            f"{', '.join(have) or 'none'}"
        )
    return path


def make_demo_task(name: str, options: Mapping[str, Any] | None = None) -> Task:
    """Task `name` for a demo run: the user's `options`, plus the task's offline stand-ins for
    whatever they leave open (`Task.demo_options`). Stand-ins given as paths are cached files
    whose contents the task fingerprints, so their location stays out of the run id."""
    from janus_eval import registry

    given = {k: v for k, v in (options or {}).items() if v not in ("", None)}
    cls = registry.task_class(name)
    demo_data_dir(cls.name)  # no sample, no stand-ins built: fail first
    stand_ins = cls.demo_options(given)
    paths = tuple(k for k, v in stand_ins.items() if isinstance(v, Path) and k not in given)
    merged = {**{k: str(v) if isinstance(v, Path) else v for k, v in stand_ins.items()}, **given}
    task = registry.make_task(name, merged)
    if paths:
        task.location_options = (*task.location_options, *paths)
    return task


def is_demo(record: RunRecord) -> bool:
    """Whether a run record is a demo run (read from its config, as every report does)."""
    data = (record.config or {}).get("data")
    return isinstance(data, dict) and bool(data.get("demo"))
