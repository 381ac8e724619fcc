"""Crash and resume with a real process and a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from janus_eval.types import RunRecord

ARGS = "run --task toy-qa --model dummy --batch-size 2 --no-progress --task-option n=30".split()


def _record(out_dir):
    (run_json,) = out_dir.glob("*/run.json")
    return RunRecord.from_dict(json.loads(run_json.read_text()))


def test_sigkill_midway_then_resume_matches_uninterrupted(tmp_path, cli):
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "janus_eval",
            *ARGS,
            "--output-dir",
            str(killed),
            "--model-option",
            "delay_s=0.15",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline and stored < 6:
        files = list(killed.glob("*/samples.jsonl"))
        stored = len(files[0].read_text().splitlines()) if files else 0
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    (samples,) = killed.glob("*/samples.jsonl")
    done_before = len(samples.read_text().splitlines())
    assert 6 <= done_before < 30, "the kill must land midway"
    assert not list(killed.glob("*/run.json"))

    resumed = cli(*ARGS, "--output-dir", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {done_before} of 30 samples already stored" in resumed.stderr
    rec = _record(killed)
    assert rec.n_reused == done_before and rec.n_computed == 30 - done_before

    straight = cli(*ARGS, "--output-dir", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    assert _record(tmp_path / "straight").metrics == rec.metrics


def test_truncated_last_line_is_recomputed(tmp_path, cli):
    out = tmp_path / "out"
    first = cli(*ARGS, "--output-dir", str(out))
    assert first.returncode == 0, first.stderr
    metrics = _record(out).metrics
    (samples,) = out.glob("*/samples.jsonl")
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # torn write
    again = cli(*ARGS, "--output-dir", str(out))
    assert again.returncode == 0, again.stderr
    assert "truncated" in again.stderr
    rec = _record(out)
    assert rec.n_reused == 29 and rec.n_computed == 1 and rec.metrics == metrics
    assert all(json.loads(x) for x in samples.read_text().splitlines())
