"""`evaluate(...)`: the one entry point the CLI and Python code share."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval import distributed, registry
from janus_eval.demo import demo_data_dir, make_demo_task
from janus_eval.devices import check_device
from janus_eval.failures import reporting, writing
from janus_eval.identity import SCHEME, data_fingerprint
from janus_eval.lock import LOCK_ADVICE, run_lock
from janus_eval.provenance import device_name, git_commit, now, package_versions, stable_hash
from janus_eval.runner import (
    ExecutionStats,
    Runner,
    WorkItem,
    image_files,
    plan_work,
    shard_of,
)
from janus_eval.set_aside import prepare_run_dir, set_aside_slice
from janus_eval.store import RunStore, atomic_write_json
from janus_eval.types import RunRecord, Sample, Task, UserError

log = logging.getLogger("janus_eval")

DTYPES = ("bf16", "fp32", "fp16")


def build_adapter(
    model: str,
    *,
    model_path: str | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    model_options: dict[str, Any] | None = None,
) -> Any:
    """Construct a registered adapter by name (the adapter validates its own checkpoint)."""
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    check_device(device)
    cls = registry.adapter_class(model)
    return cls(model_path=model_path, device=device, dtype=dtype, **(model_options or {}))


def resolve_batch_size(batch_size: int | str, adapter: Any, kind: str) -> int:
    """An integer, or 'auto': the adapter's own choice from free device memory (its
    `auto_batch_size(kind)`), else 8."""
    if batch_size == "auto":
        chooser = getattr(adapter, "auto_batch_size", None)
        size = int(chooser(kind)) if chooser else 8
        log.info("--batch-size auto: %d", size)
        return size
    try:
        size = int(batch_size)
    except (TypeError, ValueError):
        raise UserError(
            f"--batch-size {batch_size!r}: expected a positive integer or 'auto'"
        ) from None
    if size < 1:
        raise UserError(f"--batch-size must be at least 1 (got {size})")
    return size


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n), with 0 <= i < n."""
    if text is None:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise UserError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def evaluate(
    task: str | Task,
    model: str | Any,
    *,
    model_path: str | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    batch_size: int | str = 8,
    seed: int = 0,
    output_dir: str | Path = "results/runs",
    device: str = "cpu",
    dtype: str = "fp32",
    resume: bool = True,
    task_options: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
    progress: bool = False,
    shard: tuple[int, int] | str | None = None,
    demo: bool = False,
) -> RunRecord:
    """Run `task` against `model` and return its run record (also written as run.json).

    `model` is an adapter name or an adapter instance (reuse one across tasks to load weights
    once). With `shard=(i, n)` only slice i of n is run and stored (merge slices with
    `janus_eval.merge.merge_runs`); under a torch.distributed launch the slices are the ranks and
    rank 0 returns the merged record. `demo=True` reads the task's small built-in sample
    (janus_eval/demo_data/<task>) instead of `data_dir` and scores it with the task's offline
    stand-ins where no weights are given (janus_eval.demo); such runs are marked DEMO.

    One process writes a run (or a slice of it) at a time: another one holding it is a
    UserError naming its pid and host (janus_eval.lock). Failed writes are UserErrors naming the
    file and saying what is kept (janus_eval.failures); nothing stored is ever removed.
    """
    started_at, t_start = now(), time.perf_counter()
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    world = distributed.launched_world() if shard is None else None
    if world is not None:
        shard = world
        device = distributed.local_device(device)
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1 (got {limit})")

    if isinstance(task, Task):
        task_obj = task
    elif demo:  # offline stand-ins for the scorers the user names no weights for
        task_obj = make_demo_task(task, task_options)
    else:
        task_obj = registry.make_task(task, task_options)
    task_obj.seed = seed
    # Data first: a bad data directory should fail before minutes of weight loading.
    data_path = (
        demo_data_dir(task_obj.name)
        if demo
        else (Path(data_dir).expanduser() if data_dir is not None else None)
    )
    if data_path is not None and not data_path.exists():
        raise UserError(f"--data-dir {data_path} does not exist. {task_obj.data_help}".strip())
    samples = _read_samples(task_obj, data_path, limit)
    if not samples:
        raise UserError(
            f"task {task_obj.name!r} found no samples in "
            f"{data_path or 'its default source'}. {task_obj.data_help}".strip()
        )
    t_load = time.perf_counter()
    adapter = (
        model
        if not isinstance(model, str)
        else build_adapter(
            model, model_path=model_path, device=device, dtype=dtype, model_options=model_options
        )
    )
    model_load_s = time.perf_counter() - t_load
    model_desc = adapter.describe()
    batch_size = resolve_batch_size(batch_size, adapter, task_obj.kind)
    items = plan_work(task_obj, samples, seed, model_desc)

    config = {
        "task": task_obj.config(),
        "model": model_desc,
        "data": {
            # where this run read its data: recorded, but not part of the run id
            "data_dir": str(data_path) if data_path else None,
            "fingerprint": data_fingerprint((it.sample.id, it.data_id) for it in items),
            "scheme": SCHEME,
            "n_samples": len(items),
            "demo": demo,
        },
        "limit": limit,
        "seed": seed,
    }
    run_id = _run_id(task_obj.name, model_desc, run_identity(config, task_obj))
    run_dir = Path(output_dir) / run_id
    mine = [it for it in items if shard is None or shard_of(it.sample.id, shard[1]) == shard[0]]
    with (
        run_lock(
            run_dir,
            shard,
            while_alone=lambda: prepare_run_dir(run_dir, set_aside=not resume and shard is None),
            purpose=LOCK_ADVICE[resume],
        ),
        reporting(run_dir),
    ):
        if not resume and shard is not None:
            set_aside_slice(run_dir, shard, [p for _, p in image_files(task_obj, mine)])
        atomic_write_json(run_dir / "config.json", config)
        store = RunStore(run_dir, shard, own_file_only=not resume and shard is not None)
        what = f"{task_obj.name} · {model_desc.get('name', model)}"
        if shard:
            what += f" · shard {shard[0]}/{shard[1]}"
        with _progress_bar(what, len(mine), enabled=progress) as advance:
            stored, stats = Runner(
                task_obj, adapter, store, batch_size=batch_size, progress=advance
            ).run(mine)
        log.info(
            "%s: computed %d, reused %d (of %d)", run_id, stats.computed, stats.reused, len(mine)
        )

        results = {it.key: store.resolve_arrays(stored[it.key]) for it in mine}

        def make_record(
            metrics: dict, covered: Sequence[WorkItem], part: tuple[int, int] | None, complete: bool
        ) -> RunRecord:
            return _record(
                task_obj,
                run_id,
                model_desc,
                config,
                metrics,
                covered,
                stats,
                seed,
                device,
                started_at,
                t_start,
                model_load_s,
                part,
                complete=complete,
            )

        if world is not None:
            gathered = distributed.gather_to_rank0((results, stats.computed, stats.reused))
            if world[0] != 0:
                return make_record({}, mine, shard, complete=False)
            results = {k: v for part, _, _ in gathered or [] for k, v in part.items()}
            stats.computed = sum(part[1] for part in gathered or [])
            stats.reused = sum(part[2] for part in gathered or [])
        elif shard is not None:
            record = make_record({}, mine, shard, complete=False)
            atomic_write_json(
                run_dir / f"run.shard-{shard[0]}-of-{shard[1]}.json", record.to_dict()
            )
            return record

        scored = [results[it.key]["scores"] for it in items]
        metrics = task_obj.aggregate(scored)
        with writing(run_dir):
            task_obj.finalize(run_dir, samples, scored)
        record = make_record(metrics, items, None, complete=True)
        atomic_write_json(run_dir / "run.json", record.to_dict())
        return record


def _read_samples(task: Task, data_path: Path | None, limit: int | None) -> list[Sample]:
    """The task's samples. Tasks raise UserErrors for the problems they foresee; a decoding or
    lookup error they did not foresee is still bad input far more often than a bug, so it is
    reported the same way, with the original exception chained for --verbose."""
    try:
        return list(task.samples(data_path, limit))
    except UserError:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        where = data_path or "its default source"
        raise UserError(
            f"task {task.name!r} could not read its data from {where}: "
            f"{type(exc).__name__}: {exc}. Check the files against `janus-eval tasks "
            f"{task.name}` (if they are right, this is a bug: re-run with -v and report it)."
        ) from exc


def run_identity(config: dict, task: Task) -> dict:
    """The part of a run's config that its id hashes: everything that changes results, and
    nothing that only says where the data lay (the data directory, a task's location options);
    the data themselves count through their content fingerprint."""
    data = {k: v for k, v in config["data"].items() if k != "data_dir"}
    return {**config, "task": task.identity(), "data": data}


def _run_id(task_name: str, model_desc: dict, config: dict) -> str:
    model_name = str(model_desc.get("name", "model"))
    slug = "".join(c if c.isalnum() or c in "-." else "-" for c in model_name)
    return f"{task_name}-{slug}-{stable_hash(config, 12)}"


def _record(
    task: Task,
    run_id: str,
    model_desc: dict,
    config: dict,
    metrics: dict,
    items: Sequence[WorkItem],
    stats: ExecutionStats,
    seed: int,
    device: str,
    started_at: str,
    t_start: float,
    model_load_s: float,
    shard: tuple[int, int] | None,
    *,
    complete: bool,
) -> RunRecord:
    wall = time.perf_counter() - t_start
    busy = stats.inference_s + stats.scoring_s
    timings = {
        "wall_s": round(wall, 3),
        "model_load_s": round(model_load_s, 3),
        "inference_s": round(stats.inference_s, 3),
        "scoring_s": round(stats.scoring_s, 3),
        "samples_per_s": round(stats.computed / busy, 3) if busy > 0 else 0.0,
    }
    prompt_options = {k: v for k, v in task.options.items() if "prompt" in k}
    first = items[0].request.summary() if items else {}
    skipped = getattr(task, "skipped", None) or []
    return RunRecord(
        run_id=run_id,
        task=task.name,
        task_version=task.version,
        task_kind=task.kind,
        model=model_desc,
        metrics=metrics,
        primary_metric=task.primary_metric,
        config=config,
        n_samples=len(items),
        n_computed=stats.computed,
        n_reused=stats.reused,
        n_skipped=len(skipped),
        seed=seed,
        versions=package_versions(),
        git_commit=git_commit(),
        device=device_name(device),
        timings=timings,
        started_at=started_at,
        finished_at=now(),
        prompt={**prompt_options, "example": first.get("prompt")},
        shard={"index": shard[0], "count": shard[1]} if shard else None,
        extra={
            "complete": complete,
            "leaderboard_keys": list(getattr(task, "leaderboard_keys", ())),
            "images_reused": stats.images_reused,
            "repaired_lines": stats.repaired_lines,
            "batches": stats.batches,
            "sample_ids_hash": stable_hash(sorted(it.sample.id for it in items)),
        },
    )


@contextlib.contextmanager
def _progress_bar(
    description: str, total: int, *, enabled: bool
) -> Iterator[Callable[[int], None]]:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task_id = bar.add_task(description, total=total, rate="")
        t0, first = time.perf_counter(), [True]
        done = [0]

        def advance(n: int) -> None:
            if first[0]:  # samples reused from disk do not count towards the rate
                first[0] = False
                bar.update(task_id, advance=n)
                nonlocal t0
                t0 = time.perf_counter()
                return
            done[0] += n
            rate = done[0] / max(time.perf_counter() - t0, 1e-9)
            bar.update(task_id, advance=n, rate=f"{rate:.2f} samples/s")

        yield advance
