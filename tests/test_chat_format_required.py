"""The chat format is never guessed: a checkpoint whose files and name do not state it stops the
run with exit 2 until --model-option chat_format is given; the format used is in run.json and
in the leaderboard notes (issue 19)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from janus_helpers import tiny_dir
from test_report_fixtures import TOY, correct_samples, toy_task, write_run  # noqa: F401

from janus_eval.report.leaderboard import build_leaderboard
from janus_eval.types import UserError


def _unstated(root: Path, layout: str = "original") -> Path:
    """janus-tiny as a fine-tuning run would leave it: no chat template, a neutral name."""
    ckpt = root / "ckpt" / "step-5000"
    shutil.copytree(tiny_dir(layout), ckpt)
    tok = json.loads((ckpt / "tokenizer_config.json").read_text())
    del tok["chat_template"]
    (ckpt / "tokenizer_config.json").write_text(json.dumps(tok))
    return ckpt


def test_unstated_format_stops_the_run_then_the_option_is_recorded(tmp_path, cli):
    ckpt, out = _unstated(tmp_path), tmp_path / "runs"
    args = ["run", "--task", "pope", "--model", "janus", "--model-path", str(ckpt), "--demo"]
    args += ["--no-progress", "--output-dir", str(out)]
    stopped = cli(*args)
    assert stopped.returncode == 2, stopped.stderr
    assert "cannot tell the chat format" in stopped.stderr and "step-5000" in stopped.stderr
    assert "--model-option chat_format=pro" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert not out.exists() or not any(out.iterdir())  # stopped before anything was written

    done = cli(*args, "--model-option", "chat_format=janus")
    assert done.returncode == 0, done.stderr
    (run_json,) = out.glob("*/run.json")
    assert json.loads(run_json.read_text())["model"]["chat_format"] == "janus"
    board = cli("leaderboard", str(out), "--format", "json")
    assert board.returncode == 0, board.stderr
    (row,) = json.loads(board.stdout)
    assert "chat format janus" in row["notes"]


def test_hf_janus_needs_the_option_too(tmp_path):
    from janus_eval.model_adapters.hf_janus import HFJanusAdapter

    ckpt = _unstated(tmp_path, "hf")
    with pytest.raises(UserError, match="cannot tell the chat format"):
        HFJanusAdapter(str(ckpt)).describe()
    assert HFJanusAdapter(str(ckpt), chat_format="janus").describe()["chat_format"] == "janus"


@pytest.mark.usefixtures("toy_task")
def test_leaderboard_notes_name_the_format_per_task_when_they_differ(tmp_path):
    for run_id, task, fmt in (("a", TOY, "pro"), ("b", "pope", "janus")):
        run_dir = write_run(tmp_path, run_id, task=task, samples=correct_samples([1, 0]))
        record = json.loads((run_dir / "run.json").read_text())
        record["model"]["chat_format"] = fmt
        (run_dir / "run.json").write_text(json.dumps(record))
    (row,) = build_leaderboard([tmp_path]).to_dict("records")
    assert f"chat formats differ: pope janus, {TOY} pro" in row["notes"]
