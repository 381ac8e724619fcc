"""Suites: registration (built-in and through the `janus_eval.suites` entry point), how suite
settings, --task, --skip and task-scoped options combine, the Janus suites' contents, and
`janus-eval run --suite` / `suites` / `leaderboard --suite` through the CLI (the toy plug-in's
suite, so nothing heavy runs here; tests/test_suite_janus_paper.py runs the whole paper)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from janus_eval import registry, suites
from janus_eval.types import UserError

PAPER_ORDER = ["pope", "mme", "mmbench", "seedbench", "vqav2", "gqa", "mmmu", "mmvet",
               "geneval", "coco30k", "mjhq30k"]  # fmt: skip


def test_janus_suites_hold_the_papers_columns_in_order():
    assert registry.suite("janus-understanding").task_names() == PAPER_ORDER[:8]
    assert registry.suite("janus-generation").task_names() == PAPER_ORDER[8:]
    paper = registry.suite("janus-paper")
    assert paper.task_names() == PAPER_ORDER
    assert [t.column for t in paper.tasks] == ["POPE", "MME-P", "MMB", "SEED", "VQAv2", "GQA",
                                               "MMMU", "MM-Vet", "GenEval", "COCO FID",
                                               "MJHQ FID"]  # fmt: skip
    assert all(t.source for t in paper.tasks)  # every setting says where it comes from
    assert paper.settings("geneval") == {"images_per_prompt": 4}
    assert paper.settings("vqav2") == {"split": "testdev"}
    assert paper.settings("coco30k")["num_samples"] == 30000
    for item in paper.tasks:  # every setting is an option of its task
        assert set(item.options) <= set(registry.task_class(item.task).default_options())


def test_entry_point_suites_are_found():
    assert {"janus-paper", "toy-suite"} <= set(registry.suite_names())
    with pytest.raises(UserError, match="unknown suite 'nope'; known suites: .*janus-paper"):
        registry.suite("nope")
    with pytest.raises(TypeError, match="non-empty"):
        registry.register_suite(suites.Suite("", "", ()))


def test_select_narrows_and_skips():
    toy = registry.suite("toy-suite")
    assert suites.select(toy, [], []) == ["toy-qa", "toy-gen"]
    assert suites.select(toy, ["toy-qa"], []) == ["toy-qa"]
    assert suites.select(toy, ["toy-gen", "toy-qa"], []) == ["toy-qa", "toy-gen"]  # suite order
    assert suites.select(toy, [], ["toy-gen"]) == ["toy-qa"]
    assert suites.select(None, ["toy-qa", "toy-gen"], ["toy-qa"]) == ["toy-gen"]
    with pytest.raises(UserError, match="not in suite 'toy-suite'"):
        suites.select(toy, ["pope"], [])
    with pytest.raises(UserError, match="--skip pope: not a task of this run"):
        suites.select(toy, [], ["pope"])
    with pytest.raises(UserError, match="every task was skipped"):
        suites.select(toy, ["toy-qa"], ["toy-qa"])


def test_options_defaults_then_suite_then_user():
    toy = registry.suite("toy-suite")
    names = ["toy-gen", "toy-qa"]

    def options(given):
        planned = suites.plan(names, suite=toy, options=given, data_dir=None)
        return {p.task.name: p.task.options for p in planned}

    got = options({})
    assert got["toy-gen"] == {"n": 4, "images_per_prompt": 2, "size": 16}  # suite, default
    assert got["toy-qa"] == {"n": 9}
    got = options({"n": "5"})  # plain: every task that has the option
    assert got["toy-gen"]["n"] == 5 and got["toy-qa"]["n"] == 5
    got = options({"toy-qa.n": "3", "size": "8"})  # scoped: that task alone
    assert got["toy-qa"] == {"n": 3} and got["toy-gen"] == {"n": 4, "images_per_prompt": 2,
                                                            "size": 8}  # fmt: skip
    with pytest.raises(UserError, match="no task of this run has that option"):
        options({"judge_url": "x"})
    with pytest.raises(UserError, match="task 'toy-qa' has no option 'size'"):
        options({"toy-qa.size": "8"})
    # one task without a suite: the task's own message, as before suites existed
    with pytest.raises(UserError, match="has no option"):
        suites.plan(["toy-qa"], suite=None, options={"size": "8"}, data_dir=None)


def test_data_dir_per_task(tmp_path: Path):
    (tmp_path / "toy-qa").mkdir()
    planned = suites.plan(["toy-gen", "toy-qa"], suite=None, options={}, data_dir=tmp_path)
    assert [p.data_dir for p in planned] == [tmp_path, tmp_path / "toy-qa"]
    (only,) = suites.plan(["toy-qa"], suite=None, options={}, data_dir=tmp_path)
    assert only.data_dir == tmp_path


def test_mmvet_without_a_judge_stops_the_suite_before_any_model_work(cli, tmp_path):
    env = {"JANUS_EVAL_JUDGE_URL": "", "JANUS_EVAL_JUDGE_MODEL": ""}
    # a model that does not exist: the suite must fail on the judge before trying to load it
    proc = cli("run", "--suite", "janus-paper", "--model", "dummy", "--model-option",
               "no_such_option=1", "--output-dir", str(tmp_path), env=env)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert "mmvet is graded by an LLM judge" in message
    assert "-O mmvet.KEY=VALUE" in message and "--skip mmvet" in message
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_cli_suite_run_suites_listing_and_leaderboard(cli, tmp_path):
    listing = cli("suites")
    assert listing.returncode == 0
    for name in ("janus-understanding", "janus-generation", "janus-paper", "toy-suite"):
        assert name in listing.stdout
    detail = cli("suites", "janus-paper")
    assert "vqav2 (VQAv2): split=testdev" in " ".join(detail.stdout.split())
    assert "2410.13848" in detail.stdout

    out = tmp_path / "runs"
    proc = cli("run", "--suite", "toy-suite", "--model", "dummy", "--no-progress",
               "-O", "toy-qa.n=6", "--output-dir", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = {}
    for run_json in out.glob("*/run.json"):
        record = json.loads(run_json.read_text())
        records[record["task"]] = record
    assert set(records) == {"toy-gen", "toy-qa"}
    assert records["toy-qa"]["n_samples"] == 6  # the user's option over the suite's 9
    assert records["toy-gen"]["n_samples"] == 4  # the suite's setting over the default 6
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| model"))
    assert header.index("toy-qa/accuracy") < header.index("toy-gen/brightness")  # suite order

    board = cli("leaderboard", "--suite", "toy-suite", str(out))
    first = next(line for line in board.stdout.splitlines() if line.startswith("| model"))
    assert first.index("toy-qa/") < first.index("toy-gen/")
    plain = cli("leaderboard", str(out))  # without a suite: by name, as before
    first = next(line for line in plain.stdout.splitlines() if line.startswith("| model"))
    assert first.index("toy-gen/") < first.index("toy-qa/")
