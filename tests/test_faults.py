"""The fault suite: real processes killed, interrupted and run twice at once.

* SIGKILL at several points of a real janus-tiny understanding run and a real janus-tiny
  generation run; resumed, each ends with exactly the results of an uninterrupted run.
* The same command twice at once: one runs, the other exits 2 at once naming the holder.
* Ctrl-C and SIGTERM: one line, exit 130 / 143, results intact.
* --no-resume for a slice sets aside that slice's results only; temporary files of an
  interrupted write go on the next run; damaged or missing result files are one message.
(Write failures: test_faults_io.py; hostile data: test_faults_data.py.)
"""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest
from fault_helpers import (
    assert_one_clear_error,
    comparable,
    line_count,
    one_run_dir,
    run,
    start,
    stored_lines,
    wait_for,
)

from janus_eval import api
from janus_eval.commands.reports import gate_value as cli_float
from janus_eval.lock import run_lock
from janus_eval.merge import merge_runs
from janus_eval.types import UserError

UNDERSTAND = ["run", "--task", "pope", "--model", "janus-tiny", "--demo", "-O", "max_new_tokens=3",
              "--batch-size", "1", "--no-progress"]  # fmt: skip
GENERATE = ["run", "--task", "toy-gen", "--model", "janus-tiny", "-O", "size=0", "-O", "n=8",
            "--batch-size", "2", "--no-progress"]  # fmt: skip
SLOW_QA = ["run", "--task", "toy-qa", "--model", "dummy", "-O", "n=40", "--batch-size", "4",
           "--model-option", "delay_s=0.3", "--no-progress"]  # fmt: skip


def _images(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in run_dir.rglob("*.png")}


def _kill_when(args: list[str], out: Path, condition) -> None:
    """Start the command, SIGKILL it the moment `condition(out)` holds; it must not finish."""
    proc = start([*args, "--output-dir", str(out)])
    assert wait_for(lambda: condition(out) or proc.poll() is not None), "nothing happened"
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run finished before the kill landed"
    assert not list(out.glob("*/run.json"))


def _resume_and_compare(tmp_path: Path, args: list[str], out: Path) -> dict:
    resumed = start([*args, "--output-dir", str(out)])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    straight = tmp_path / "straight"
    assert run([*args, "--output-dir", str(straight)]).returncode == 0
    got, want = one_run_dir(out), one_run_dir(straight)
    record = json.loads((got / "run.json").read_text())
    assert record["metrics"] == json.loads((want / "run.json").read_text())["metrics"]
    assert comparable(got) == comparable(want)
    lines = stored_lines(got)
    assert len(lines) == len({x["key"] for x in lines}) == record["n_samples"]
    assert not list(got.rglob(".*.tmp"))
    lock = json.loads((got / ".lock").read_text())
    assert lock["pid"] == resumed.pid  # the dead holders' lock was taken over
    return record


def _config_written(out: Path) -> bool:
    return any(out.glob("*/config.json"))


@pytest.mark.slow
def test_sigkill_understanding_run_resumes_to_identical_results(tmp_path):
    out = tmp_path / "killed"
    _kill_when(UNDERSTAND, out, _config_written)  # locked, loading the model
    _kill_when(UNDERSTAND, out, lambda o: line_count(o) >= 4)
    _kill_when(UNDERSTAND, out, lambda o: line_count(o) >= 14)
    record = _resume_and_compare(tmp_path, UNDERSTAND, out)
    assert record["n_samples"] == 24 and 14 <= record["n_reused"] < 24


@pytest.mark.slow
def test_sigkill_generation_run_resumes_to_identical_results(tmp_path):
    out = tmp_path / "killed"
    _kill_when(GENERATE, out, lambda o: any(o.glob("*/images/*/*.png")))  # images, no line yet
    _kill_when(GENERATE, out, lambda o: line_count(o) >= 2)
    record = _resume_and_compare(tmp_path, GENERATE, out)
    assert record["n_samples"] == 8 and record["n_reused"] >= 2
    assert _images(one_run_dir(out)) == _images(one_run_dir(tmp_path / "straight"))


def test_same_command_twice_at_once(tmp_path):
    """The first one is a --no-resume over finished results: setting them aside must not take
    its lock along."""
    out = tmp_path / "out"
    assert run([*SLOW_QA, "--output-dir", str(out), "--model-option", "delay_s=0"]).returncode == 0
    first = start(
        [*SLOW_QA, "--no-resume", "--output-dir", str(out), "--model-option", "delay_s=5"]
    )
    assert wait_for(lambda: any(out.glob("*.replaced-*")) and _config_written(out))
    for extra, needle in (([], "it resumes"), (["--no-resume"], "--no-resume would move")):
        second = run([*SLOW_QA, *extra, "--output-dir", str(out)])
        assert first.poll() is None, "the first run ended before the second was refused"
        assert_one_clear_error(second, "is in use by", f"pid {first.pid} on host "
                               f"{socket.gethostname()}", needle)  # fmt: skip
    first.send_signal(signal.SIGINT)  # (no need to wait for it: finish the run in a third)
    assert first.wait(timeout=60) == 130
    third = run([*SLOW_QA, "--output-dir", str(out), "--model-option", "delay_s=0"])
    assert third.returncode == 0, third.stderr
    lines = stored_lines(one_run_dir(out))
    assert len(lines) == 40 and len({x["key"] for x in lines}) == 40
    (aside,) = out.glob("*.replaced-*")  # the first run's; the refused --no-resume moved nothing
    assert len(stored_lines(aside)) == 40


def test_slices_run_side_by_side_but_never_twice(tmp_path):
    out = tmp_path / "out"
    args = [*SLOW_QA, "--output-dir", str(out)]
    slice0 = start([*args, "--shard", "0/2", "--model-option", "delay_s=5"])
    assert wait_for(lambda: _config_written(out))
    again = run([*args, "--shard", "0/2"])
    whole = run(args)
    assert slice0.poll() is None, "slice 0 ended before the others were refused"
    assert_one_clear_error(again, "slice 0/2 of", f"pid {slice0.pid}")
    assert_one_clear_error(whole, "is in use by", f"pid {slice0.pid}", "(slice 0/2)")
    other = run([*args, "--shard", "1/2", "--model-option", "delay_s=0"])
    assert other.returncode == 0, other.stderr
    assert slice0.poll() is None, "slice 1 did not run beside slice 0"
    slice0.kill()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_prints_one_line_and_keeps_results(tmp_path, signum, status):
    out = tmp_path / "out"
    proc = start([*SLOW_QA, "--output-dir", str(out)])
    assert wait_for(lambda: line_count(out) >= 8)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    run_dir = one_run_dir(out)
    kept = len(stored_lines(run_dir))
    assert proc.returncode == status, err
    assert err.strip() == (
        f"interrupted: {kept} results stored in {run_dir}; run the same command to resume"
    )
    resumed = run([*SLOW_QA, "--output-dir", str(out), "--model-option", "delay_s=0"])
    assert resumed.returncode == 0 and f"resuming: {kept} of 40" in resumed.stderr


def test_no_resume_sets_aside_only_this_slices_results(tmp_path):
    out = tmp_path / "out"
    kw = dict(output_dir=out, task_options={"n": 8, "images_per_prompt": 2})
    first = [api.evaluate("toy-gen", "dummy", shard=s, **kw) for s in ("0/2", "1/2")]
    run_dir = out / first[0].run_id
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    again = api.evaluate("toy-gen", "dummy", shard="1/2", resume=False, **kw)
    assert again.n_reused == 0 and again.n_computed == first[1].n_computed > 0
    (aside,) = out.glob("*.replaced-*")
    moved = {p.relative_to(aside) for p in aside.rglob("*") if p.is_file()}
    mine = {
        Path(x["images"][0]).parent.name
        for x in stored_lines(run_dir, "samples.shard-1-of-2.jsonl")
    }
    assert Path("samples.shard-1-of-2.jsonl") in moved and Path("run.shard-1-of-2.json") in moved
    assert {p.parts[1] for p in moved if p.parts[0] == "images"} == mine
    for path, data in before.items():  # slice 0's files are untouched
        if "shard-0" in path.name or (path.parent.name not in mine and "images" in path.parts):
            assert path.read_bytes() == data
    assert merge_runs([run_dir]).n_samples == 8


def test_merge_waits_for_a_slice_that_is_still_running(tmp_path):
    kw = dict(output_dir=tmp_path, task_options={"n": 4})
    first = [api.evaluate("toy-qa", "dummy", shard=s, **kw) for s in ("0/2", "1/2")]
    run_dir = tmp_path / first[0].run_id
    with run_lock(run_dir, (1, 2)):  # slice 1 is running (resumed) in this folder
        with pytest.raises(UserError, match=r"slice 1/2.*Merge once every slice has finished"):
            merge_runs([run_dir])
        assert not (run_dir / "run.json").exists()
    assert merge_runs([run_dir]).n_samples == 4


def test_temporary_files_of_an_interrupted_write_go_on_the_next_run(tmp_path):
    record = api.evaluate("toy-gen", "dummy", output_dir=tmp_path, task_options={"n": 2})
    run_dir = tmp_path / record.run_id
    left = [run_dir / ".run.json.1a2b3c4d.tmp", run_dir / "images/p00/.00000.png.9f8e7d6c.tmp",
            run_dir / "arrays/.0123abcd.tmp.npz"]  # fmt: skip
    for path in left:
        path.write_text("half a file")
    (run_dir / ".keep").write_text("not ours")
    api.evaluate("toy-gen", "dummy", output_dir=tmp_path, task_options={"n": 2})
    assert not any(p.exists() for p in left) and (run_dir / ".keep").exists()


def test_damaged_or_missing_result_files_are_one_message(tmp_path, cli):
    record = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=4)
    samples = tmp_path / record.run_id / "samples.jsonl"
    with samples.open("a") as fh:
        fh.write('{"id": "q000", "response": "yes"}\n')
    with pytest.raises(UserError, match=r"samples.jsonl: line 5 is not a result \(no 'key'\)"):
        api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=4)

    shards = tmp_path / "shards"
    for s in ("0/2", "1/2"):
        api.evaluate("toy-qa", "dummy", output_dir=shards, limit=6, shard=s)
    (gone,) = shards.glob("*/samples.shard-1-of-2.jsonl")
    gone.unlink()
    with pytest.raises(UserError, match=rf"slice 1/2: {gone} is missing.*--shard 1/2"):
        merge_runs([gone.parent])

    for value in ("nan", "inf"):  # nan failed every gate, inf passed every one
        result = cli("compare", "a", "b", "--max-drop", f"accuracy={value}")
        assert_one_clear_error(result, f"accuracy='{value}'", "finite number >= 0")
    for value in ("-1", "x", "-inf"):
        with pytest.raises(UserError, match="finite number >= 0"):
            cli_float(value, "accuracy")
    assert cli_float("0.5", "accuracy") == 0.5
