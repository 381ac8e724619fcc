"""`janus-eval run --suite janus-paper --model dummy` end to end: small fixtures in the official
formats for all 11 tasks (built by each task's own tests' helpers) under DATA/<task>, MM-Vet
graded by the local judge server, one process, one loaded model. It must produce a finished run
for every task and one leaderboard in the papers' column order (understanding | generation).

The module-scoped `paper` fixture runs the suite once; each test checks one thing about the
result, so more checks (e.g. the reported reference rows beside the measured row) fit as one
more test on the same fixture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clip_helpers import save_tiny_clip
from geneval_model_helpers import NAMES, PROMPTS, build_clip_dir, build_mask2former
from judge_server import FakeJudge
from official_cases import load
from test_coco30k import make_coco
from test_gqa_task import write_gqa
from test_mjhq30k import make_mjhq
from test_mmbench_task import dev_rows, write_tsv
from test_mme_task import write_mme
from test_mmmu_task import ROWS as MMMU_ROWS
from test_mmmu_task import write_mmmu
from test_mmvet_task import write_mmvet
from test_pope_task import rec, write_pope
from test_seedbench_task import QUESTIONS as SEED_QUESTIONS
from test_seedbench_task import write_seed
from test_vqa_task import write_vqa

from janus_eval.report.records import load_runs

#: The papers' columns (Janus arXiv 2410.13848 Table 2, then its generation columns).
PAPER_ORDER = ["pope", "mme", "mmbench", "seedbench", "vqav2", "gqa", "mmmu", "mmvet",
               "geneval", "coco30k", "mjhq30k"]  # fmt: skip
PRIMARY = {"pope": "f1", "mme": "perception", "mmbench": "accuracy", "seedbench": "accuracy",
           "vqav2": "accuracy", "gqa": "accuracy", "mmmu": "accuracy", "mmvet": "total",
           "geneval": "overall", "coco30k": "fid", "mjhq30k": "fid"}  # fmt: skip


def build_data(root: Path) -> Path:
    """DATA/<task> for every task of the suite, each in its official layout."""
    write_pope(root / "pope", {split: [rec(1, i + 1, "dog", "yes"), rec(2, i + 1, "car", "no")]
                               for i, split in enumerate(("random", "popular", "adversarial"))})  # fmt: skip
    write_mme(root / "mme" / "MME_Benchmark_release_version")
    write_tsv(root / "mmbench" / "MMBench_DEV_EN.tsv", dev_rows())
    write_seed(root / "seedbench", SEED_QUESTIONS)
    write_vqa(root / "vqav2")
    write_gqa(root / "gqa", load("gqa")["questions"])
    write_mmmu(root / "mmmu", MMMU_ROWS)
    write_mmvet(root / "mmvet")
    geneval = root / "geneval"
    geneval.mkdir()
    (geneval / "evaluation_metadata.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in PROMPTS[:2])
    )
    (geneval / "object_names.txt").write_text("\n".join(NAMES) + "\n")
    make_coco(root / "coco30k")
    make_mjhq(root / "mjhq30k")
    return root


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """(completed process, output dir) of one `run --suite janus-paper` over every fixture."""
    from conftest import run_cli

    tmp = tmp_path_factory.mktemp("paper")
    data = build_data(tmp / "data")
    models = tmp / "models"
    out = tmp / "runs"
    # Only what the fixtures need: small sizes, random FID features, the tiny detector and CLIP
    # models, VQAv2's val split (the suite's test-dev has no public answers to score here).
    options = {
        "vqav2.split": "val",
        "mmvet.judge_model": "fake-judge",
        "geneval.detector": "mask2former-hf",
        "geneval.detector_path": str(build_mask2former(models / "det")),
        "geneval.clip_path": str(build_clip_dir(models / "geneval-clip")),
        "geneval.device": "cpu",
        "coco30k.num_samples": "10",
        "coco30k.clip_model": str(save_tiny_clip(models / "clip")),
        "mjhq30k.clip_model": str(models / "clip"),
        "extractor": "random:0:4",  # plain keys: both FID tasks have these options
        "image_size": "48",
        "num_workers": "0",
        "stats_cache": str(tmp / "stats"),
    }
    with FakeJudge(lambda body, n: "0.5") as judge:
        args = ["run", "--suite", "janus-paper", "--model", "dummy", "--no-progress",
                "--data-dir", str(data), "--output-dir", str(out),
                "-O", f"mmvet.judge_url={judge.url}"]  # fmt: skip
        for key, value in options.items():
            args += ["-O", f"{key}={value}"]
        proc = run_cli(*args, timeout=900, env={"JANUS_EVAL_CACHE": str(tmp / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out


def test_every_task_of_the_paper_has_a_finished_run(paper):
    _, out = paper
    runs = {run.record.task: run.record for run in load_runs([out])}
    assert sorted(runs) == sorted(PAPER_ORDER)
    for task, record in runs.items():
        assert record.extra["complete"] and record.n_samples > 0, task
        assert PRIMARY[task] in record.metrics, task
        assert record.model["name"] == "dummy"
    # the suite's settings reached the tasks; the user's options won where given
    assert runs["geneval"].config["task"]["options"]["images_per_prompt"] == 4
    assert runs["pope"].config["task"]["options"]["split"] == "all"
    assert runs["vqav2"].config["task"]["options"]["split"] == "val"
    assert runs["coco30k"].config["task"]["options"]["protocol"] == "gigagan"
    assert runs["mmvet"].metrics["total"] == 50.0  # every answer graded 0.5 by the judge
    assert runs["coco30k"].metrics["clip_score"] > 0  # CLIP score beside FID


def leaderboard_header(text: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith("| model"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def task_of(column: str) -> str:
    return column.split("/")[0].split("[")[0]


PAPER_LABELS = ["POPE", "MME-P", "MMBench", "SEED", "VQAv2", "GQA", "MMMU", "MM-Vet",
                "GenEval", "MSCOCO-30K FID", "MJHQ-30K FID"]  # fmt: skip


def test_one_leaderboard_in_the_papers_column_order(paper, cli):
    proc, out = paper
    printed = leaderboard_header(proc.stdout)  # the table `run --suite` prints at the end
    assert [c.rstrip(" ↑↓") for c in printed[3:]] == PAPER_LABELS  # understanding | generation
    assert "understanding: POPE" in proc.stdout and "generation: GenEval" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")][2:]
    body = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    measured = [row for row in body if row[2] == "measured"]
    assert [row[0] for row in measured] == ["dummy"]  # one model, one row
    # the reference rows beside it: the papers' published numbers, each marked reported
    reported = {row[0] for row in body if row[2].startswith("reported · arXiv:")}
    assert {"Janus-1.3B", "Janus-Pro-7B", "JanusFlow-1.3B"} <= reported
    assert len(measured) + sum(row[2].startswith("reported") for row in body) == len(body)
    papers = cli("leaderboard", "--layout", "papers", str(out))
    assert papers.returncode == 0, papers.stderr
    assert leaderboard_header(papers.stdout) == printed
    # the per-task layout, ordered by the suite, has the same tasks in the same order
    board = cli("leaderboard", "--suite", "janus-paper", str(out))
    assert board.returncode == 0, board.stderr
    metric_columns = [c for c in leaderboard_header(board.stdout) if "/" in c]
    assert [task_of(c) for c in metric_columns] == PAPER_ORDER
    assert [c.rsplit("/", 1)[1] for c in metric_columns] == [PRIMARY[t] for t in PAPER_ORDER]
    rows = [line for line in board.stdout.splitlines() if line.startswith("| dummy")]
    assert len(rows) == 1  # one model, one row
