"""Hand-written run directories in the runner's on-disk format, for the report tests.

`write_run` writes run.json (a RunRecord dict) and samples.jsonl exactly as the runner does, so
the reports are tested against the format, not against the runner. `ReportToyTask` is a tiny
task whose `sample_metrics` lets `compare` bootstrap; the `toy_task` fixture registers it for one
test only, so `janus-eval tasks` / `--task all` elsewhere never meet it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from janus_eval import registry
from janus_eval.types import RunRecord, Task

TOY = "report-toy"


class ReportToyTask(Task):
    """accuracy = 100 * mean(correct), as VQA-style tasks define it."""

    name = TOY
    version = "1"
    primary_metric = "accuracy"
    metric_names = ("accuracy", "per_type")
    sample_metrics = {"accuracy": ("correct", 100.0)}


@pytest.fixture
def toy_task(monkeypatch: pytest.MonkeyPatch) -> type[Task]:
    """ReportToyTask registered (with the public decorator) until the test ends."""
    registry.load_all()  # built-ins first, so restoring the registry keeps them
    monkeypatch.setattr(registry, "_tasks", dict(registry._tasks))
    return registry.register_task(ReportToyTask)


def write_run(
    root: Path,
    run_id: str,
    *,
    task: str = TOY,
    version: str = "1",
    kind: str = "understanding",
    model: str = "janus-pro-1b",
    checkpoint: str = "ckpt/a",
    weights: Any = "a" * 64,
    metrics: Mapping[str, Any] | None = None,
    primary: str = "accuracy",
    samples: Sequence[Mapping[str, Any]] = (),
    options: Mapping[str, Any] | None = None,
    leaderboard_keys: Sequence[str] = (),
    finished_at: str = "2025-01-01T00:00:00+00:00",
    complete: bool = True,
    limit: int | None = None,
) -> Path:
    """A run dir under root/run_id. `samples` items: {"id", "scores", optional "images",
    "response", "prompt"}; metrics default to 100 * mean(correct) of the samples."""
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    if metrics is None:
        correct = [float(s["scores"]["correct"]) for s in samples]
        metrics = {"accuracy": 100.0 * sum(correct) / max(1, len(correct))}
    record = RunRecord(
        run_id=run_id,
        task=task,
        task_version=version,
        task_kind=kind,
        model={
            "name": model,
            "checkpoint": checkpoint,
            "weights_sha256": weights,
            "dtype": "fp32",
            "device": "cpu",
        },  # fmt: skip
        metrics=dict(metrics),
        primary_metric=primary,
        config={
            "task": {"name": task, "version": version, "options": dict(options or {})},
            "data": "builtin",
            "limit": limit,
            "seed": 0,
        },  # fmt: skip
        n_samples=len(samples),
        n_computed=len(samples),
        n_reused=0,
        versions={"janus-eval": "0.1.0", "torch": "2.14.1"},
        git_commit="abc123",
        started_at="2025-01-01T00:00:00+00:00",
        finished_at=finished_at,
        extra={"complete": complete, "leaderboard_keys": list(leaderboard_keys)},
    )
    (run_dir / "run.json").write_text(json.dumps(record.to_dict(), indent=2))
    with open(run_dir / "samples.jsonl", "w") as fh:
        for index, s in enumerate(samples):
            line = {
                "key": f"k-{run_id}-{s['id']}",
                "id": s["id"],
                "index": index,
                "category": s.get("category"),
                "request": {"prompt": s.get("prompt", f"question {s['id']}?")},
                "response": s.get("response", "yes" if kind == "understanding" else None),
                "images": s.get("images"),
                "scores": dict(s["scores"]),
                "elapsed_s": 0.01,
            }
            fh.write(json.dumps(line) + "\n")
    return run_dir


def correct_samples(flags: Sequence[bool | float], prefix: str = "s") -> list[dict[str, Any]]:
    """Samples s000, s001, ... whose per-sample `correct` is `flags[i]`."""
    return [{"id": f"{prefix}{i:03d}", "scores": {"correct": f}} for i, f in enumerate(flags)]
