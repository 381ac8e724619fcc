"""Scale-out: torch.distributed ranks (gloo on CPU) and --shard slices merge to the
single-process result; a dead rank loses nothing; mismatched slices are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from janus_eval import api
from janus_eval.merge import merge_runs
from janus_eval.types import UserError

pytestmark = pytest.mark.slow
TASK = ["--task", "toy-qa", "--model", "dummy", "--no-progress", "--batch-size", "3"]


def _torchrun(*args, timeout=180):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "janus_eval",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        # gloo even where CUDA is available: NCCL needs a GPU per rank (test_cuda_paths.py)
        env={**os.environ, "OMP_NUM_THREADS": "1", "JANUS_EVAL_DIST_BACKEND": "gloo"},
    )


def _metrics(out_dir):
    (run_json,) = out_dir.glob("*/run.json")
    return json.loads(run_json.read_text())


def test_two_ranks_equal_one_process_and_a_dead_rank_loses_nothing(tmp_path):
    single = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "single")

    two = _torchrun("run", *TASK, "--output-dir", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-3000:]
    rec = _metrics(tmp_path / "two")
    assert rec["metrics"] == single.metrics and rec["n_samples"] == 40
    assert rec["n_computed"] == 40 and rec["run_id"] == single.run_id
    shard_files = sorted(p.name for p in (tmp_path / "two").glob("*/samples.shard-*.jsonl"))
    assert shard_files == ["samples.shard-0-of-2.jsonl", "samples.shard-1-of-2.jsonl"]

    crash_dir = tmp_path / "crash"
    crashed = _torchrun(
        "run",
        *TASK,
        "--output-dir",
        str(crash_dir),
        "--model-option",
        "exit_after=2",
        "--model-option",
        "exit_on_rank=1",
    )
    assert crashed.returncode != 0
    assert not list(crash_dir.glob("*/run.json"))
    stored = sum(len(p.read_text().splitlines()) for p in crash_dir.glob("*/samples.shard-*"))
    assert 6 <= stored < 40  # rank 1 stored its first two batches, rank 0 what it finished

    resumed = _torchrun("run", *TASK, "--output-dir", str(crash_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rec = _metrics(crash_dir)
    assert rec["n_reused"] == stored and rec["n_computed"] == 40 - stored
    assert rec["metrics"] == single.metrics


def test_shards_merge_to_the_single_process_record(tmp_path):
    single = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "single")
    parts = []
    for i in range(3):
        rec = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / f"s{i}", shard=f"{i}/3")
        assert rec.shard == {"index": i, "count": 3} and not rec.metrics
        parts.append(tmp_path / f"s{i}" / rec.run_id)
    assert (
        sum(
            json.loads((p / f"run.shard-{i}-of-3.json").read_text())["n_samples"]
            for i, p in enumerate(parts)
        )
        == 40
    )
    merged = merge_runs(parts, tmp_path / "merged")
    assert merged.metrics == single.metrics and merged.n_samples == 40
    assert (tmp_path / "merged" / single.run_id / "run.json").exists()

    with pytest.raises(UserError, match=r"slices \[2\] of 3 are missing"):
        merge_runs(parts[:2], tmp_path / "m2")
    other = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "x", shard="2/3", seed=5)
    with pytest.raises(UserError, match="different arguments"):
        merge_runs([*parts[:2], tmp_path / "x" / other.run_id], tmp_path / "m3")
    dup = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "dup", shard="1/3")
    with pytest.raises(UserError, match="given twice"):
        merge_runs([*parts, tmp_path / "dup" / dup.run_id], tmp_path / "m4")
    two = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "two", shard="0/2")
    with pytest.raises(UserError, match="different numbers of slices"):
        merge_runs([*parts, tmp_path / "two" / two.run_id], tmp_path / "m5")


def test_merge_cli_refuses_with_exit_2(tmp_path, cli):
    rec = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, shard="0/2")
    result = cli("merge", str(tmp_path / rec.run_id))
    assert result.returncode == 2 and "missing" in result.stderr
    assert "Traceback" not in result.stderr
