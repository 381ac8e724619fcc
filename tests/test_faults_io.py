"""Writes that fail: a full disk, a file-size limit, read-only files and folders, a read-only
cache. Each is exit 2 with the path and the cause, says how many results are stored, and loses
nothing already stored; once the cause is gone the same command resumes."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from fault_helpers import assert_one_clear_error, comparable, one_run_dir, run, stored_lines
from fault_helpers import unprivileged as _unprivileged

GEN = ["run", "--task", "toy-gen", "--model", "dummy", "-O", "n=12", "--batch-size", "2",
       "--no-progress"]  # fmt: skip
QA = ["run", "--task", "toy-qa", "--model", "dummy", "-O", "n=24", "--batch-size", "4",
      "--no-progress"]  # fmt: skip


@pytest.fixture
def unprivileged():
    return _unprivileged()


def _file_size_limit(limit: int):
    def set_limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit gets EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return set_limit


def _straight(tmp_path: Path, args: list[str]) -> tuple[dict, dict]:
    out = tmp_path / "straight"
    assert run([*args, "--output-dir", str(out)]).returncode == 0
    run_dir = one_run_dir(out)
    record = json.loads((run_dir / "run.json").read_text())
    return record["metrics"], comparable(run_dir)


def _check_resumes_to_the_same_results(tmp_path: Path, out: Path, args: list[str], kept: int):
    resumed = run([*args, "--output-dir", str(out)])
    assert resumed.returncode == 0, resumed.stderr
    run_dir = one_run_dir(out)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["n_reused"] == kept and record["n_computed"] == record["n_samples"] - kept
    metrics, lines = _straight(tmp_path, args)
    assert record["metrics"] == metrics and comparable(run_dir) == lines
    assert not list(run_dir.rglob(".*.tmp"))


def _stored_count(stderr: str) -> int:
    """N in '... N stored before are kept ...' (the message states it)."""
    words = stderr.split("stored before are kept")[0].split()
    return int(words[-1])


def test_file_size_limit_mid_run(tmp_path):
    """RLIMIT_FSIZE in the child: samples.jsonl hits the limit after a few batches (EFBIG)."""
    out = tmp_path / "out"
    result = run([*GEN, "--output-dir", str(out)], preexec_fn=_file_size_limit(2500),
                 env={"PYTHONDONTWRITEBYTECODE": "1"})  # fmt: skip
    assert_one_clear_error(result, "cannot write", "samples.jsonl", "(EFBIG)", "ulimit -f",
                           "result(s) just computed were not stored", "stored before are kept",
                           "run the same command to resume")  # fmt: skip
    kept = _stored_count(result.stderr)
    lines = stored_lines(one_run_dir(out))
    assert 0 < kept == len(lines) < 12 and len({x["key"] for x in lines}) == kept
    text = (one_run_dir(out) / "samples.jsonl").read_text()
    assert text.endswith("\n") and len(text.splitlines()) == kept  # no partial line left
    _check_resumes_to_the_same_results(tmp_path, out, GEN, kept)


def test_full_disk_on_a_small_tmpfs(tmp_path):
    """A real ENOSPC: a 256 KiB tmpfs fills up with images; grown, the same command resumes."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root in a permitting container): "
                    f"{made.stderr.strip()}")  # fmt: skip
    try:
        out = mount / "out"
        args = [*GEN[:6], "n=60", *GEN[7:]]
        result = run([*args, "--output-dir", str(out)])
        assert_one_clear_error(result, "cannot write", "No space left on device (ENOSPC)",
                               "the disk is full", "stored before are kept")  # fmt: skip
        kept = _stored_count(result.stderr)
        assert 0 < kept == len(stored_lines(one_run_dir(out))) < 60
        subprocess.run(["mount", "-o", "remount,size=16m", str(mount)], check=True)
        _check_resumes_to_the_same_results(tmp_path, out, args, kept)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _stopped_midway(out: Path) -> Path:
    """A run that failed after 8 of 24 results (exit 1): something worth keeping."""
    failed = run([*QA, "--model-option", "fail_after=2", "--output-dir", str(out)])
    assert failed.returncode == 1 and "8 result(s) are stored" in failed.stderr
    return one_run_dir(out)


def test_read_only_results_file_fails_before_any_work(tmp_path, unprivileged):
    run_dir = _stopped_midway(tmp_path / "out")
    samples = run_dir / "samples.jsonl"
    before = samples.read_bytes()
    samples.chmod(0o444)
    result = run([*QA, "--output-dir", str(tmp_path / "out")], prefix=unprivileged)
    assert_one_clear_error(result, f"cannot write {samples}", "Permission denied (EACCES)",
                           f"8 result(s) stored in {run_dir} are kept")  # fmt: skip
    assert "just computed" not in result.stderr  # refused before computing anything
    assert samples.read_bytes() == before


def test_read_only_run_directory(tmp_path, unprivileged):
    run_dir = _stopped_midway(tmp_path / "out")
    run_dir.chmod(0o555)
    result = run([*QA, "--output-dir", str(tmp_path / "out")], prefix=unprivileged)
    assert_one_clear_error(result, f"cannot write {run_dir / 'config.json'}", "(EACCES)",
                           f"8 result(s) stored in {run_dir} are kept")  # fmt: skip
    assert len(stored_lines(run_dir)) == 8


def test_unwritable_output_directory(tmp_path, unprivileged):
    out = tmp_path / "locked"
    out.mkdir(mode=0o555)
    result = run([*QA, "--output-dir", str(out / "runs")], prefix=unprivileged)
    assert_one_clear_error(result, f"cannot write {out / 'runs'}", "Permission denied (EACCES)",
                           "choose another --output-dir")  # fmt: skip


@pytest.mark.parametrize("command", ["report", "leaderboard"])
def test_unwritable_report_and_leaderboard_targets(tmp_path, unprivileged, command):
    assert run([*QA, "--output-dir", str(tmp_path / "runs")]).returncode == 0
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    target = locked / "out.html"
    result = run([command, str(tmp_path / "runs"), "-o", str(target)], prefix=unprivileged)
    assert_one_clear_error(result, f"cannot write {target}", "(EACCES)", "--output")


def test_read_only_cache_for_janus_tiny(tmp_path, unprivileged):
    cache = tmp_path / f"cache-{uuid.uuid4().hex[:6]}"
    cache.mkdir(mode=0o555)
    result = run(["run", "--task", "pope", "--model", "janus-tiny", "--demo", "--output-dir",
                  str(tmp_path / "out")], prefix=unprivileged,
                 env={"JANUS_EVAL_CACHE": str(cache)})  # fmt: skip
    assert_one_clear_error(result, f"cannot write {cache}", "(EACCES)", "JANUS_EVAL_CACHE")
    assert os.listdir(cache) == []
