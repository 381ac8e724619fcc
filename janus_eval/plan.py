"""The plan of a run, made before its first request: every sample keyed (runner.plan_work),
the config recorded as config.json, the run id hashed from what changes results, this
process's slice, and the RunRecord built from it when the run ends."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from janus_eval.finish import task_facts
from janus_eval.identity import SCHEME, data_fingerprint
from janus_eval.placement import Placement
from janus_eval.provenance import device_name, git_commit, now, package_versions, stable_hash
from janus_eval.runner import ExecutionStats, WorkItem, plan_work, shard_of
from janus_eval.types import Metrics, RunRecord, Sample, Task


@dataclass
class RunPlan:
    """Everything decided before the first request: the keyed work, the config and run id."""

    task: Task
    samples: list[Sample]
    items: list[WorkItem]
    mine: list[WorkItem]  # this process's slice of `items`
    config: dict[str, Any]
    model_desc: dict[str, Any]
    run_id: str
    where: Placement
    seed: int
    started_at: str = ""
    t_start: float = 0.0
    model_load_s: float = 0.0

    @classmethod
    def make(
        cls,
        task: Task,
        samples: list[Sample],
        data_path: Path | None,
        adapter: Any,
        where: Placement,
        seed: int,
        limit: int | None,
        demo: bool,
    ) -> RunPlan:
        model_desc = adapter.describe()
        items = plan_work(task, samples, seed, model_desc)
        config = {
            "task": task.config(),
            "model": model_desc,
            "data": {
                # where this run read its data: recorded, but not part of the run id
                "data_dir": str(data_path) if data_path else None,
                "fingerprint": data_fingerprint([(it.sample.id, it.data_id) for it in items]),
                "scheme": SCHEME,
                "n_samples": len(items),
                "demo": demo,
            },
            "limit": limit,
            "seed": seed,
        }
        shard = where.shard
        mine = [it for it in items if shard is None or shard_of(it.sample.id, shard[1]) == shard[0]]
        run_id = _run_id(task.name, model_desc, run_identity(config, task))
        return cls(task, samples, items, mine, config, model_desc, run_id, where, seed)

    def record(
        self,
        metrics: Metrics,
        covered: Sequence[WorkItem],
        stats: ExecutionStats,
        shard: tuple[int, int] | None,
    ) -> RunRecord:
        """The run record over `covered`: the whole run (shard None) or one slice of it."""
        busy = stats.inference_s + stats.scoring_s
        timings = {
            "wall_s": round(time.perf_counter() - self.t_start, 3),
            "model_load_s": round(self.model_load_s, 3),
            "inference_s": round(stats.inference_s, 3),
            "scoring_s": round(stats.scoring_s, 3),
            "samples_per_s": round(stats.computed / busy, 3) if busy > 0 else 0.0,
        }
        task = self.task
        prompt_options = {k: v for k, v in task.options.items() if "prompt" in k}
        first = covered[0].request.summary() if covered else {}
        return RunRecord(
            run_id=self.run_id,
            task=task.name,
            task_version=task.version,
            task_kind=task.kind,
            model=self.model_desc,
            metrics=metrics,
            primary_metric=task.primary_metric,
            config=self.config,
            n_samples=len(covered),
            n_computed=stats.computed,
            n_reused=stats.reused,
            n_skipped=len(getattr(task, "skipped", None) or []),
            seed=self.seed,
            versions=package_versions(),
            git_commit=git_commit(),
            device=device_name(self.where.device),
            timings=timings,
            started_at=self.started_at,
            finished_at=now(),
            prompt={**prompt_options, "example": first.get("prompt")},
            shard={"index": shard[0], "count": shard[1]} if shard else None,
            extra={
                "complete": shard is None,
                **task_facts(task),
                "images_reused": stats.images_reused,
                "repaired_lines": stats.repaired_lines,
                "batches": stats.batches,
                "sample_ids_hash": stable_hash(sorted(it.sample.id for it in covered)),
            },
        )


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
