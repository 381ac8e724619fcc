"""Every built-in task runs on its built-in demo with the network disabled (issue 14).

The runs go through the command line in fresh interpreters whose sockets refuse to connect (a
sitecustomize.py first on PYTHONPATH patches socket.socket.connect; HF_HUB_OFFLINE=1 too), so a
download anywhere on the way (data, detector, CLIP, Inception, judge) fails the test. Each run is
checked for what its task promises: its metric names, its files, and the DEMO marks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from janus_eval import registry
from janus_eval.demo import DEMO_ROOT, make_demo_task

#: The tasks janus-eval ships (the toy plug-in of the tests is not one of them).
BUILT_IN = ("coco30k", "geneval", "gqa", "mjhq30k", "mmbench", "mme", "mmmu", "mmvet", "pope",
            "seedbench", "vqav2")  # fmt: skip
#: GenEval's scoring runs a detector at 800 px per image: two prompts keep the test short.
GENEVAL_LIMIT = "2"

SITECUSTOMIZE = """
import socket

_connect = socket.socket.connect


def _refuse(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        raise OSError(f"network disabled by the janus-eval demo test (connect to {address})")
    return _connect(self, address, *args, **kwargs)


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
"""


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> dict[str, str]:
    """Environment for subprocesses without network."""
    site = tmp_path_factory.mktemp("no_network")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "JANUS_EVAL_JUDGE_URL": "",
    }


def run_demo(out: Path, offline: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = run_cli(
        "run", "--demo", "--no-progress", "--output-dir", str(out), *args, env=offline, timeout=600
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def records(out: Path) -> dict[str, dict]:
    """task -> run.json of the one run of that task under `out`."""
    found = [json.loads(p.read_text()) for p in sorted(out.glob("*/run.json"))]
    by_task = {r["task"]: r for r in found}
    assert len(by_task) == len(found), "one run per task expected"
    return by_task


@pytest.fixture(scope="module")
def dummy_runs(tmp_path_factory, offline) -> tuple[Path, str]:
    """Every built-in task with the dummy adapter: one command for all but GenEval, then
    GenEval on two prompts."""
    out = tmp_path_factory.mktemp("demo_dummy")
    rest = ",".join(t for t in BUILT_IN if t != "geneval")
    shown = run_demo(out, offline, "--task", rest, "--model", "dummy").stdout
    shown += run_demo(
        out, offline, "--task", "geneval", "--model", "dummy", "--limit", GENEVAL_LIMIT
    ).stdout
    return out, shown


def test_the_network_is_really_disabled_in_the_subprocesses(offline):
    probe = "import socket; socket.create_connection(('127.0.0.1', 9), timeout=5)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, **offline},
        timeout=60,
    )
    assert (
        result.returncode != 0 and "network disabled by the janus-eval demo test" in result.stderr
    )


def test_every_built_in_task_has_a_small_demo_with_a_readme():
    assert set(BUILT_IN) <= set(registry.task_names())
    shipped = {
        n for n in registry.task_names()
        if registry.task_class(n).__module__.startswith("janus_eval.tasks.")
    }  # fmt: skip
    assert shipped == set(BUILT_IN), "a new task needs a demo (and a place in BUILT_IN)"
    for name in BUILT_IN:
        readme = DEMO_ROOT / name / "README.md"
        assert readme.is_file() and "Real data" in readme.read_text(), name
    size = sum(p.stat().st_size for p in DEMO_ROOT.rglob("*") if p.is_file())
    assert size < 2_000_000


@pytest.mark.slow
def test_every_task_runs_offline_on_its_demo_with_the_dummy_adapter(dummy_runs):
    out, shown = dummy_runs
    runs = records(out)
    assert sorted(runs) == sorted(BUILT_IN)
    assert shown.count("DEMO") >= len(BUILT_IN)
    for task, record in runs.items():
        assert record["config"]["data"]["demo"] is True, task
        promised = set(registry.task_class(task).metric_names)
        assert promised <= set(record["metrics"]), (task, promised - set(record["metrics"]))
        assert record["primary_metric"] in record["metrics"]
        assert record["extra"]["complete"] is True and record["n_samples"] > 0

    # GenEval: the official folder layout, the official results file and the grid page
    geneval = out / runs["geneval"]["run_id"]
    for index in ("00000", "00001"):
        meta = json.loads((geneval / "images" / index / "metadata.jsonl").read_text())
        assert meta["tag"] == "single_object"
        pngs = sorted(p.name for p in (geneval / "images" / index / "samples").iterdir())
        assert pngs == ["00000.png", "00001.png"]
    lines = (geneval / "geneval_results.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["filename"] == "images/00000/samples/00000.png"
    assert (geneval / "geneval_grid.html").read_text().count("<img") == 4
    options = runs["geneval"]["config"]["task"]["options"]
    assert options["detector"] == "mask2former-hf" and len(options["detector_weights"]) == 16
    assert "demo" in options["detector_path"] and "random weights" in options["clip_model"]
    assert "overall" in shown and "per_tag/single_object" in shown  # the summary table

    # FID tasks: the random extractor, references from the demo images, per-category FID
    for task, n in (("coco30k", 12), ("mjhq30k", 20)):
        assert runs[task]["config"]["task"]["options"]["extractor"].startswith("random:")
        assert (
            runs[task]["metrics"]["n_reference"] == n and runs[task]["metrics"]["n_generated"] == n
        )
        assert len(list((out / runs[task]["run_id"] / "images").rglob("*.png"))) == n
    assert len(runs["mjhq30k"]["metrics"]["fid_per_category"]) == 10

    # MM-Vet: the offline demo judge, named as such
    assert "DEMO" in runs["mmvet"]["config"]["task"]["options"]["judge_model"]
    # GQA writes the predictions file its official eval.py reads
    assert (out / runs["gqa"]["run_id"] / "gqa_testdev_balanced_predictions.json").is_file()

    board = run_cli("leaderboard", str(out))
    assert board.returncode == 0, board.stderr
    assert "dummy (DEMO)" in board.stdout and "DEMO run" in board.stdout
    page = run_cli("report", str(out), "--output", str(out / "report.html"))
    assert page.returncode == 0, page.stderr
    assert (out / "report.html").read_text().count("DEMO run on built-in sample data") >= 2 * len(
        BUILT_IN
    )  # the leaderboard's note and each run's banner


@pytest.mark.slow
def test_janus_tiny_runs_understanding_and_generation_demos_in_one_command(tmp_path, offline):
    shown = run_demo(
        tmp_path, offline, "--task", "pope,geneval,mjhq30k", "--model", "janus-tiny",
        "--limit", GENEVAL_LIMIT,
    ).stdout  # fmt: skip
    runs = records(tmp_path)
    assert sorted(runs) == ["geneval", "mjhq30k", "pope"]
    for task, record in runs.items():
        assert record["config"]["data"]["demo"] is True and record["model"]["name"] == "janus-tiny"
        assert set(registry.task_class(task).metric_names) <= set(record["metrics"]), task
    assert runs["geneval"]["metrics"]["n_images"] == 4
    assert shown.count("DEMO") >= 3


def test_demo_runs_never_share_an_id_with_real_runs(tmp_path):
    """The same data as --data-dir (a real run) and as --demo: two run ids."""
    from janus_eval.api import evaluate

    real = evaluate("pope", "dummy", data_dir=DEMO_ROOT / "pope", output_dir=tmp_path)
    demo = evaluate("pope", "dummy", demo=True, output_dir=tmp_path)
    assert real.run_id != demo.run_id and demo.config["data"]["demo"] is True
    assert real.config["data"]["demo"] is False and real.metrics == demo.metrics


def test_stand_ins_do_not_tie_the_run_id_to_the_cache_folder(tmp_path, monkeypatch):
    """The demo detector and CLIP live in $JANUS_EVAL_CACHE; their weights are hashed into the
    run id, where they lie is not."""
    identities = []
    for cache in ("a", "b"):
        monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / cache))
        task = make_demo_task("geneval")
        assert str(tmp_path / cache) in task.options["detector_path"]
        identities.append(task.identity())
    assert identities[0] == identities[1]
    assert identities[0]["options"]["detector_weights"] and identities[0]["options"]["clip_weights"]


def test_weights_the_user_names_win_over_the_stand_ins(tmp_path):
    fid = make_demo_task("mjhq30k", {"extractor": "random:7"})
    assert fid.options["extractor"] == "random:7"
    assert make_demo_task("mjhq30k").options["extractor"] == "random:0:16"
    assert make_demo_task("coco30k").options["num_samples"] == 12
    judged = make_demo_task("mmvet", {"judge_url": "http://localhost:1/v1", "judge_model": "x"})
    assert judged.options["judge_url"] == "http://localhost:1/v1"
    assert make_demo_task("mmvet").options["judge_url"] == "demo"
    assert make_demo_task("pope").options == registry.make_task("pope").options


@pytest.mark.parametrize(
    ("answer", "prediction", "score"),
    [
        ("red<AND>blue", "I see red and blue.", 1.0),
        ("red<AND>blue", "Only red.", 0.0),
        ("2<OR>two", "There are two shapes", 1.0),
        ("2<OR>two", "There are 12 shapes", 0.0),  # whole words: 12 is not 2
        ("circle", "A CIRCLE.", 1.0),
        ("circle", "a circles", 0.0),
    ],
)
def test_mmvet_demo_judge_reads_and_or_answers(answer, prediction, score):
    from janus_eval.tasks._mmvet_demo import DEMO_JUDGE_MODEL, demo_complete, keyword_score

    from janus_eval.metrics.mmvet import grade

    assert keyword_score(answer, prediction) == score
    verdict = grade("q", answer, prediction, demo_complete(answer, prediction))
    assert verdict["score"] == score and verdict["model"] == DEMO_JUDGE_MODEL
