"""Crash a real `janus-eval run` process with SIGKILL midway, resume it, and check it ends with
the numbers of an uninterrupted run. Shared by the core test and every task's test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from janus_eval.types import RunRecord


def read_record(out_dir: Path) -> RunRecord:
    (run_json,) = out_dir.glob("*/run.json")
    return RunRecord.from_dict(json.loads(run_json.read_text()))


def stored_lines(out_dir: Path) -> int:
    files = list(out_dir.glob("*/samples.jsonl"))
    return len(files[0].read_text().splitlines()) if files else 0


def dummy_run(task: str, data_dir: Path, *options: str) -> list[str]:
    """`janus-eval` arguments for a quiet run of `task` on the dummy adapter, batches of 2."""
    return ["run", "--task", task, "--model", "dummy", "--batch-size", "2", "--no-progress",
            "--data-dir", str(data_dir), *options]  # fmt: skip


def sigkill_and_resume(
    cli: Callable[..., subprocess.CompletedProcess],
    args: Sequence[str],
    tmp_path: Path,
    *,
    total: int,
    kill_after: int,
    slow_option: Sequence[str] = ("--model-option", "delay_s=0.15"),
) -> RunRecord:
    """Run `janus-eval ARGS` with `slow_option` (which must not change the run id), SIGKILL it
    once `kill_after` results are stored, re-run ARGS to resume, and run ARGS once more
    uninterrupted in another directory. Returns the resumed run's record, after checking that
    it computed only what was missing and that its metrics equal the uninterrupted run's."""
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "janus_eval", *args, "--output-dir", str(killed), *slow_option],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    deadline = time.time() + 120
    while time.time() < deadline and stored_lines(killed) < kill_after and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    done_before = stored_lines(killed)
    assert kill_after <= done_before < total, "the kill must land midway"
    assert not list(killed.glob("*/run.json"))

    resumed = cli(*args, "--output-dir", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {done_before} of {total} samples already stored" in resumed.stderr
    record = read_record(killed)
    assert record.n_reused == done_before and record.n_computed == total - done_before

    straight = cli(*args, "--output-dir", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    assert read_record(tmp_path / "straight").metrics == record.metrics
    return record
