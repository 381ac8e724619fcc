"""Crash and resume with a real process and a real SIGKILL."""

from __future__ import annotations

import json

from resume_helpers import read_record, sigkill_and_resume

ARGS = "run --task toy-qa --model dummy --batch-size 2 --no-progress --task-option n=30".split()


def test_sigkill_midway_then_resume_matches_uninterrupted(tmp_path, cli):
    sigkill_and_resume(cli, ARGS, tmp_path, total=30, kill_after=6)


def test_truncated_last_line_is_recomputed(tmp_path, cli):
    out = tmp_path / "out"
    first = cli(*ARGS, "--output-dir", str(out))
    assert first.returncode == 0, first.stderr
    metrics = read_record(out).metrics
    (samples,) = out.glob("*/samples.jsonl")
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # torn write
    again = cli(*ARGS, "--output-dir", str(out))
    assert again.returncode == 0, again.stderr
    assert "truncated" in again.stderr
    rec = read_record(out)
    assert rec.n_reused == 29 and rec.n_computed == 1 and rec.metrics == metrics
    assert all(json.loads(x) for x in samples.read_text().splitlines())
