"""The command line as a user meets it: listings, plug-ins and one-line errors with exit 2."""

from __future__ import annotations

import json

import pytest


def _one_clear_error(result, *needles):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_tasks_and_models_list_builtins_and_plugins(cli):
    tasks = cli("tasks")
    assert tasks.returncode == 0, tasks.stderr
    assert "toy-qa" in tasks.stdout and "toy-gen" in tasks.stdout  # via entry points only
    assert "questions.jsonl" in tasks.stdout  # what data each task expects
    models = cli("models")
    assert models.returncode == 0 and "dummy" in models.stdout


def test_run_prints_table_and_writes_record(tmp_path, cli):
    result = cli(
        *"run --task toy-qa --model dummy --output-dir".split(),
        str(tmp_path),
        "--limit",
        "8",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "8 computed" in result.stdout
    (run_json,) = tmp_path.glob("*/run.json")
    assert json.loads(run_json.read_text())["n_samples"] == 8


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--task", "nope", "--model", "dummy"], ["unknown task 'nope'", "toy-qa"]),
        (["--task", "toy-qa", "--model", "nope"], ["unknown model 'nope'", "dummy"]),
        (
            ["--task", "toy-qa", "--model", "dummy", "--data-dir", "/no/such/dir"],
            ["/no/such/dir does not exist", "questions.jsonl"],
        ),
        (["--task", "toy-qa", "--model", "dummy", "--batch-size", "0"], ["at least 1"]),
        (["--task", "toy-qa", "--model", "dummy", "--dtype", "int3"], ["unknown dtype"]),
        (["--task", "toy-qa", "--model", "dummy", "--task-option", "n"], ["KEY=VALUE"]),
    ],
)
def test_user_errors_exit_2_with_one_message(tmp_path, cli, args, needles):
    _one_clear_error(cli("run", *args, "--output-dir", str(tmp_path)), *needles)


def test_malformed_input_file_names_file_and_line(tmp_path, cli):
    data = tmp_path / "data"
    data.mkdir()
    (data / "questions.jsonl").write_text(
        '{"id": "q000", "question": "a?", "label": "no"}\n{oops\n'
    )
    result = cli(
        *"run --task toy-qa --model dummy --data-dir".split(),
        str(data),
        "--output-dir",
        str(tmp_path / "out"),
    )
    _one_clear_error(result, "questions.jsonl", "line 2")


def test_failing_batch_exits_nonzero_and_keeps_results(tmp_path, cli):
    result = cli(
        *"run --task toy-qa --model dummy --batch-size 4 --model-option fail_after=2 --output-dir".split(),
        str(tmp_path),
        "--no-progress",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "8 result(s) are stored" in result.stderr
    (samples,) = tmp_path.glob("*/samples.jsonl")
    assert len(samples.read_text().splitlines()) == 8


def test_readme_demo_runs_offline(tmp_path, cli):
    """README's first command: janus-tiny on the built-in POPE sample, no download."""
    result = cli(
        *"run --task pope --model janus-tiny --demo --no-progress --output-dir".split(),
        str(tmp_path),
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "DEMO" in result.stdout and "f1" in result.stdout
    (run_json,) = tmp_path.glob("*/run.json")
    record = json.loads(run_json.read_text())
    assert record["config"]["data"]["demo"] is True and record["n_samples"] == 24
    assert record["model"]["chat_format"] == "pro"  # stated by janus-tiny's files, no option


def test_demo_for_a_task_without_one_says_which_have(tmp_path, cli):
    result = cli(
        "run", "--task", "toy-qa", "--model", "dummy", "--demo", "--output-dir", str(tmp_path)
    )
    _one_clear_error(result, "no built-in demo", "pope")


def test_leaderboard_marks_demo_runs(tmp_path, cli):
    ran = cli(
        *"run --task pope --model dummy --demo --no-progress --output-dir".split(), str(tmp_path)
    )
    assert ran.returncode == 0, ran.stderr
    board = cli("leaderboard", str(tmp_path))
    assert board.returncode == 0 and "DEMO run" in board.stdout and "pope/f1" in board.stdout


def test_undecodable_data_file_is_one_message_not_a_traceback(tmp_path, cli):
    data = tmp_path / "data"
    data.mkdir()
    (data / "questions.jsonl").write_bytes(b'{"id": "q000", "question": "caf\xe9?"}\n')
    result = cli(*"run --task toy-qa --model dummy --data-dir".split(), str(data),
                 "--output-dir", str(tmp_path / "out"))  # fmt: skip
    _one_clear_error(result, "could not read its data", "UnicodeDecodeError")
