"""What the understanding-task tests (mmbench, pope, vqav2) share: an adapter whose answers are
scripted, so expected metrics can be worked out by hand; a run's stored samples; and the
end-to-end run through the janus-tiny adapter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from janus_eval import registry
from janus_eval.types import RunRecord


class ScriptedAdapter:
    """Answers each question with the text of the first key found in its prompt."""

    name = "scripted"

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def describe(self) -> dict:
        return {"name": self.name, "answers": sorted(self.answers.items())}

    def understand(self, reqs):
        return [next(a for q, a in self.answers.items() if q in r.prompt) for r in reqs]


def stored_samples(output_dir: Path, record: RunRecord) -> list[dict]:
    """The run's samples.jsonl, one dict per line, as the store wrote them."""
    path = output_dir / record.run_id / "samples.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_janus_tiny(
    task: str, data_dir: Path, output_dir: Path, limit: int, **task_options: str
) -> tuple[RunRecord, list[dict]]:
    """`task` end to end through janus-tiny (at most 3 new tokens per answer, plus any other
    `task_options`): the run record and its stored samples. Skips when the adapter is not
    available."""
    if "janus-tiny" not in registry.adapter_names():
        pytest.skip("the janus-tiny adapter is not available")
    from janus_eval.api import evaluate

    record = evaluate(
        task,
        "janus-tiny",
        data_dir=data_dir,
        limit=limit,
        output_dir=output_dir,
        task_options={"max_new_tokens": "3", **task_options},
    )
    return record, stored_samples(output_dir, record)


def shards_merge_to_whole(
    task: str, data_dir: Path | None, tmp_path: Path, shards: int = 2, **kwargs
) -> RunRecord:
    """`task` run whole with the dummy adapter, then as `shards` slices merged with
    `janus-eval merge`'s function: the merged record must equal the whole one. Returns it."""
    from janus_eval.api import evaluate
    from janus_eval.merge import merge_runs

    whole = evaluate(task, "dummy", data_dir=data_dir, output_dir=tmp_path / "whole", **kwargs)
    for i in range(shards):
        part = evaluate(
            task, "dummy", data_dir=data_dir, output_dir=tmp_path / "sliced", shard=(i, shards),
            **kwargs,
        )  # fmt: skip
        assert part.shard == {"index": i, "count": shards} and not part.metrics
    merged = merge_runs([tmp_path / "sliced" / whole.run_id])
    assert merged.run_id == whole.run_id and merged.n_samples == whole.n_samples
    assert merged.metrics == whole.metrics
    return merged
