"""Joining `--shard i/n` slices into one run, refusing anything that would not add up.

Slices merge only when they come from the same arguments (same run id), cover every index
0..n-1 exactly once, and hold disjoint samples that together are the whole sample set. The run
id and result keys rest on the data's content, not its path, so slices run on machines that
mount the data in different places merge. The merged
metrics are then the single-process metrics: aggregation sees the same scores in the same order.

Merging holds every slice directory's run lock (and the output's) exclusively, as an unsharded
run would: a slice still running is named and the merge refused, and no slice can start while
its results are being read.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from janus_eval import registry
from janus_eval.finish import finish_run, task_facts
from janus_eval.lock import run_lock
from janus_eval.provenance import now, stable_hash
from janus_eval.store import RunStore, read_jsonl, shard_filename
from janus_eval.types import RunRecord, Sample, UserError

#: The end of the refusal message when a slice is still running.
_WAIT_FOR_SLICES = "Merge once every slice has finished: wait for it, then run the merge again."


def _shard_records(paths: Sequence[Path]) -> list[tuple[Path, RunRecord]]:
    found = []
    for path in paths:
        path = Path(path)
        files = [path] if path.is_file() else sorted(path.glob("run.shard-*-of-*.json"))
        if not files:
            raise UserError(
                f"{path}: no shard records (run.shard-I-of-N.json) found. Shards "
                "are written by `janus-eval run ... --shard I/N`."
            )
        for file in files:
            try:
                found.append((file.parent, RunRecord.from_dict(json.loads(file.read_text()))))
            except (json.JSONDecodeError, TypeError) as exc:
                raise UserError(f"{file}: not a valid shard record ({exc})") from None
    return found


def merge_runs(paths: Sequence[Path], output_dir: Path | None = None) -> RunRecord:
    """Merge shard directories into one run directory and return its record.

    The merged run goes to `output_dir/<run_id>`, or, when every shard lives in one directory
    (a shared file system), into that directory itself.
    """
    shards = _shard_records(paths)
    ids = {rec.run_id for _, rec in shards}
    if len(ids) != 1:
        raise UserError(
            "these shards come from runs with different arguments and cannot be "
            f"merged: run ids {sorted(ids)}"
        )
    counts = {rec.shard["count"] for _, rec in shards if rec.shard}
    if len(counts) != 1 or any(rec.shard is None for _, rec in shards):
        raise UserError(f"shards were cut into different numbers of slices: {sorted(counts)}")
    n = counts.pop()
    seen: dict[int, Path] = {}
    for run_dir, rec in shards:
        i = rec.shard["index"]
        if i in seen and seen[i] != run_dir:
            raise UserError(
                f"slice {i}/{n} is given twice ({seen[i]} and {run_dir}); "
                "overlapping slices cannot be merged"
            )
        seen[i] = run_dir
    missing = sorted(set(range(n)) - set(seen))
    if missing:
        raise UserError(
            f"slices {missing} of {n} are missing; run them with --shard I/{n} and merge again"
        )

    first = shards[0][1]
    dirs = set(seen.values())
    out_dir = (
        next(iter(dirs))
        if len(dirs) == 1 and output_dir is None
        else (Path(output_dir or "results/runs") / first.run_id)
    )
    with contextlib.ExitStack() as locks:
        for folder in sorted(dirs | {out_dir}):
            locks.enter_context(run_lock(folder, None, purpose=_WAIT_FOR_SLICES))
        return _merge_locked(shards, seen, n, out_dir)


def _merge_locked(
    shards: list[tuple[Path, RunRecord]], seen: dict[int, Path], n: int, out_dir: Path
) -> RunRecord:
    first = shards[0][1]
    expected = first.config["data"]["n_samples"]
    results: dict[str, dict[str, Any]] = {}
    for i, run_dir in sorted(seen.items()):
        store = RunStore(run_dir, (i, n))
        if not store.path.is_file():
            raise UserError(
                f"slice {i}/{n}: {store.path} is missing, though its record "
                f"run.shard-{i}-of-{n}.json is there. Re-run that slice (--shard {i}/{n}) and "
                "merge again."
            )
        for record in read_jsonl(store.path, tolerate_partial_tail=True):
            if record["id"] in results and results[record["id"]]["key"] != record["key"]:
                raise UserError(
                    f"sample {record['id']!r} appears in two slices with different "
                    "results; the slices overlap"
                )
            results[record["id"]] = store.resolve_arrays(record)
    if len(results) != expected:
        raise UserError(
            f"the slices hold {len(results)} samples, the run has {expected}: some "
            "slices are incomplete. Re-run the incomplete slices (they resume) and "
            "merge again."
        )

    task = registry.make_task(first.task, first.config["task"]["options"])
    ordered = sorted(results.values(), key=lambda r: r["index"])
    samples = _samples_for(task, [rec for _, rec in shards], ordered)
    scored = [r["scores"] for r in ordered]

    if {out_dir} != set(seen.values()):
        _copy_shard_files(seen, n, out_dir)

    merged = RunRecord(
        **{
            **first.to_dict(),
            "metrics": {},
            "n_samples": len(ordered),
            "n_computed": sum(rec.n_computed for _, rec in shards),
            "n_reused": sum(rec.n_reused for _, rec in shards),
            "n_skipped": len(getattr(task, "skipped", None) or []),
            "started_at": min(rec.started_at for _, rec in shards),
            "finished_at": now(),
            "shard": None,
            "timings": {"wall_s_per_shard": [rec.timings.get("wall_s") for _, rec in shards]},
            "extra": {
                **first.extra,
                **task_facts(task),
                "complete": True,
                "merged_from": len(shards),
                "sample_ids_hash": stable_hash(sorted(results)),
            },
        }
    )
    return finish_run(task, out_dir, samples, scored, merged)


def _samples_for(
    task: Any, records: Sequence[RunRecord], ordered: list[dict[str, Any]]
) -> list[Sample]:
    """The run's samples for `finalize` (submission files need their data): re-read from the
    first data directory a slice recorded that this machine has, else rebuilt from the ids."""
    dirs = [rec.config["data"].get("data_dir") for rec in records]
    data_dir = next((d for d in dirs if d and Path(d).exists()), None)
    known: dict[str, Sample] = {}
    if data_dir:
        known = {s.id: s for s in task.samples(Path(data_dir), records[0].config.get("limit"))}
    return [known.get(r["id"]) or Sample(id=r["id"], category=r.get("category")) for r in ordered]


def _copy_shard_files(seen: dict[int, Path], n: int, out_dir: Path) -> None:
    for i, run_dir in seen.items():
        name = shard_filename((i, n))
        shutil.copy2(run_dir / name, out_dir / name)
        for sub in ("images", "arrays"):
            if (run_dir / sub).is_dir():
                shutil.copytree(run_dir / sub, out_dir / sub, dirs_exist_ok=True)
        config = run_dir / "config.json"
        if config.exists() and not (out_dir / "config.json").exists():
            shutil.copy2(config, out_dir / "config.json")
