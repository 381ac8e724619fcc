"""Finishing a run: aggregate the stored scores, let the task write its side files, write the
RunRecord as run.json. One function does it for a single process, for rank 0 of a
torch.distributed launch and for `janus-eval merge`, so the three cannot drift apart: merged
slices end with exactly the record a single process writes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval.failures import writing
from janus_eval.provenance import now
from janus_eval.store import atomic_write_json
from janus_eval.types import RunRecord, Sample, Task


def task_facts(task: Task) -> dict[str, Any]:
    """What reports need to know about the task, recorded in run.json's `extra` so that
    `compare`, the leaderboard and the HTML report read run records only, never the task class
    (which may not even be installed where the report is made)."""
    return {
        "leaderboard_keys": list(getattr(task, "leaderboard_keys", ())),
        "sample_metrics": {k: list(v) for k, v in dict(task.sample_metrics).items()},
        "location_options": list(task.location_options),
    }


def finish_run(
    task: Task,
    run_dir: Path,
    samples: Sequence[Sample],
    scored: Sequence[dict[str, Any]],
    record: RunRecord,
) -> RunRecord:
    """Aggregate `scored` (in sample order), run the task's `finalize` hook (submission files,
    image grids) and write `record` with those metrics as run_dir/run.json, which is returned.
    The time spent here is added to the record's `wall_s` (FID's aggregation is not free)."""
    t0 = time.perf_counter()
    metrics = task.aggregate(scored)
    with writing(run_dir):
        task.finalize(run_dir, samples, scored)
    timings = dict(record.timings)
    if "wall_s" in timings:
        timings["wall_s"] = round(timings["wall_s"] + time.perf_counter() - t0, 3)
    record = dataclasses.replace(record, metrics=metrics, timings=timings, finished_at=now())
    atomic_write_json(run_dir / "run.json", record.to_dict())
    return record


def finish_slice(run_dir: Path, record: RunRecord) -> RunRecord:
    """A `--shard i/n` slice ends with its own record, run.shard-i-of-n.json, which `merge`
    joins; no metrics (those need every slice)."""
    assert record.shard is not None
    name = f"run.shard-{record.shard['index']}-of-{record.shard['count']}.json"
    atomic_write_json(run_dir / name, record.to_dict())
    return record
