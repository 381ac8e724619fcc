"""`evaluate(...)`: the one entry point the CLI and Python code share.

A run is a short sequence of named steps:

  place    device, dtype and slice, resolved and checked once (janus_eval.placement)
  build    the adapter, by the registry, on that placement (`SharedModel`: once for several
           tasks); cheap, since adapters load their weights on first use
  resolve  the task and its samples: every mistake in the arguments, the model options or the
           data is reported before any weight loads
  run      describe the model and key the work (janus_eval.plan), lock the run directory, let
           the Runner fill the store
  finish   aggregate, finalize, RunRecord, run.json (janus_eval.finish, shared with `merge`)
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval import distributed, registry
from janus_eval.demo import demo_data_dir, make_demo_task
from janus_eval.failures import reporting
from janus_eval.finish import finish_run, finish_slice
from janus_eval.lock import LOCK_ADVICE, run_lock
from janus_eval.placement import Placement, place
from janus_eval.plan import RunPlan
from janus_eval.progress import progress_bar
from janus_eval.provenance import now
from janus_eval.runner import ExecutionStats, Runner, image_files
from janus_eval.set_aside import prepare_run_dir, set_aside_slice
from janus_eval.store import RunStore, atomic_write_json
from janus_eval.suites import task_data_dir
from janus_eval.types import RunRecord, Sample, Task, UserError

log = logging.getLogger("janus_eval")


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

    `model` is an adapter name, an adapter instance, or a `SharedModel` (several tasks on one
    adapter, built once: `evaluate_tasks`). With `shard=(i, n)` only slice i of n is run and
    stored (merge slices with `janus_eval.merge.merge_runs`); under a torch.distributed launch
    the slices are the ranks and rank 0 returns the merged record. `demo=True` reads the task's
    small built-in sample (janus_eval/demo_data/<task>) instead of `data_dir` and scores it with
    the task's offline stand-ins where no weights are given (janus_eval.demo); such runs are
    marked DEMO.

    One process writes a run (or a slice of it) at a time: another one holding it is a
    UserError naming its pid and host (janus_eval.lock). Failed writes are UserErrors naming the
    file and saying what is kept (janus_eval.failures); nothing stored is ever removed.
    """
    started_at, t_start = now(), time.perf_counter()
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1 (got {limit})")
    where = place(device, dtype, shard)
    shared = (
        model if isinstance(model, SharedModel) else SharedModel(model, model_path, model_options)
    )
    adapter, load_s = shared.get(where)  # cheap: adapters load weights on first use
    task_obj, data_path, samples = resolve_task(task, task_options, data_dir, limit, seed, demo)
    plan = RunPlan.make(task_obj, samples, data_path, adapter, where, seed, limit, demo)
    plan.started_at, plan.t_start, plan.model_load_s = started_at, t_start, load_s
    return run(plan, adapter, Path(output_dir), batch_size, resume=resume, progress=progress)


def evaluate_tasks(
    tasks: Sequence[str | Task],
    model: str | Any,
    *,
    model_path: str | None = None,
    model_options: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    **options: Any,
) -> Iterator[RunRecord]:
    """`evaluate` for each task in turn (the other keywords are evaluate's), yielding each
    record as its run finishes. The adapter is built once, for the first task, and shared. With several tasks, DATA_DIR/<task> is read where it exists, else
    DATA_DIR."""
    shared = SharedModel(model, model_path, model_options)
    for task in tasks:
        name = task.name if isinstance(task, Task) else task
        where = task_data_dir(data_dir, name, several=len(tasks) > 1)
        yield evaluate(task, shared, data_dir=where, **options)


# -- resolve ------------------------------------------------------------------------------------


def resolve_task(
    task: str | Task,
    options: dict[str, Any] | None,
    data_dir: str | Path | None,
    limit: int | None,
    seed: int,
    demo: bool,
) -> tuple[Task, Path | None, list[Sample]]:
    """The task (built by the registry from its options), where its data lie and its samples.
    Data first: a bad data directory should fail before minutes of weight loading."""
    if isinstance(task, Task):
        task_obj = task
    elif demo:  # offline stand-ins for the scorers the user names no weights for
        task_obj = make_demo_task(task, options)
    else:
        task_obj = registry.make_task(task, options)
    task_obj.seed = seed
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
    return task_obj, data_path, samples


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


# -- build --------------------------------------------------------------------------------------


class SharedModel:
    """An adapter for one or more runs: the adapter instance the caller passed (checked against
    the adapter contract), or the named one, built on first need with the run's resolved
    placement and reused after that."""

    def __init__(
        self,
        model: str | Any,
        model_path: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.model, self.model_path, self.options = model, model_path, options
        self.adapter: Any = None
        if isinstance(model, str):
            registry.adapter_class(model)  # an unknown name is reported before any work
        else:
            registry.adapter_capabilities(model)
            self.adapter = model

    def get(self, where: Placement) -> tuple[Any, float]:
        """(adapter, seconds spent building it now: 0 once built)."""
        if self.adapter is not None:
            return self.adapter, 0.0
        t0 = time.perf_counter()
        self.adapter = registry.make_adapter(
            self.model,
            model_path=self.model_path,
            device=where.device,
            dtype=where.dtype,
            options=self.options,
        )
        return self.adapter, time.perf_counter() - t0


def resolve_batch_size(batch_size: int | str, adapter: Any, kind: str) -> int:
    """An integer, or 'auto': the adapter's own choice from free device memory when it declares
    the `auto_batch_size` capability, else 8."""
    if batch_size == "auto":
        declared = "auto_batch_size" in registry.adapter_capabilities(adapter)
        size = int(adapter.auto_batch_size(kind)) if declared else 8
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


# -- run ----------------------------------------------------------------------------------------


def run(
    plan: RunPlan,
    adapter: Any,
    output_dir: Path,
    batch_size: int | str,
    *,
    resume: bool,
    progress: bool,
) -> RunRecord:
    """Fill the store with this process's slice of the plan under the run's lock, then finish."""
    shard, run_dir = plan.where.shard, output_dir / plan.run_id
    size = resolve_batch_size(batch_size, adapter, plan.task.kind)
    with (
        run_lock(
            run_dir,
            shard,
            while_alone=functools.partial(
                prepare_run_dir, run_dir, set_aside=not resume and shard is None
            ),
            purpose=LOCK_ADVICE[resume],
        ),
        reporting(run_dir),
    ):
        if not resume and shard is not None:
            set_aside_slice(run_dir, shard, [p for _, p in image_files(plan.task, plan.mine)])
        atomic_write_json(run_dir / "config.json", plan.config)
        store = RunStore(run_dir, shard, own_file_only=not resume and shard is not None)
        what = f"{plan.task.name} · {plan.model_desc.get('name', 'model')}"
        if shard:
            what += f" · shard {shard[0]}/{shard[1]}"
        with progress_bar(what, len(plan.mine), enabled=progress) as advance:
            runner = Runner(plan.task, adapter, store, batch_size=size, progress=advance)
            stored, stats = runner.run(plan.mine)
        log.info(
            "%s: computed %d, reused %d (of %d)",
            plan.run_id,
            stats.computed,
            stats.reused,
            len(plan.mine),
        )
        results = {it.key: store.resolve_arrays(stored[it.key]) for it in plan.mine}
        return finish(plan, run_dir, results, stats)


# -- finish -------------------------------------------------------------------------------------


def finish(
    plan: RunPlan, run_dir: Path, results: dict[str, dict], stats: ExecutionStats
) -> RunRecord:
    """A slice ends with its own record; rank 0 of a launch gathers every rank's results first;
    the whole run (single process or rank 0) ends in `finish_run`."""
    shard = plan.where.shard
    if plan.where.ranks:
        assert shard is not None
        gathered = distributed.gather_to_rank0((results, stats.computed, stats.reused))
        if shard[0] != 0:
            return plan.record({}, plan.mine, stats, shard)
        results = {k: v for part, _, _ in gathered or [] for k, v in part.items()}
        stats.computed = sum(part[1] for part in gathered or [])
        stats.reused = sum(part[2] for part in gathered or [])
    elif shard is not None:
        return finish_slice(run_dir, plan.record({}, plan.mine, stats, shard))
    scored = [results[it.key]["scores"] for it in plan.items]
    record = plan.record({}, plan.items, stats, None)
    return finish_run(plan.task, run_dir, plan.samples, scored, record)
