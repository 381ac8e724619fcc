"""GenEval end to end through janus_eval.api, with the tiny detector and colour classifier."""

from __future__ import annotations

import json
import math

import pytest
from geneval_model_helpers import NAMES, PROMPTS, SizedDummy, data_dir, options, run_geneval, tiny  # noqa: F401  (fixtures)

from janus_eval.metrics.geneval import summarize


@pytest.mark.slow
def test_whole_pipeline_through_the_api(tiny, data_dir, tmp_path):
    rec = run_geneval(SizedDummy(), tiny, data_dir, tmp_path, batch_size=2)
    run = tmp_path / rec.run_id
    lines = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    scores = {x["id"]: x["scores"] for x in lines}
    assert sorted(scores) == ["00000", "00001", "00002", "00003", "00004"]
    # the tiny detector sees only cars, with class score ~1 and mask score ~0.5-0.7
    assert scores["00000"]["correct"] == [True, True]
    assert scores["00001"]["reasons"] == ["expected cow>=1, found 0"] * 2
    assert all(r.startswith("expected car>=2, found") for r in scores["00002"]["reasons"])
    for ok, reason in zip(scores["00003"]["correct"], scores["00003"]["reasons"]):
        assert ok == (reason == "") and (ok or reason.startswith("expected red car>=1, found 0"))
    assert scores["00004"]["reasons"][0].startswith("expected cow>=1, found 0\nno target")
    kept = scores["00000"]["details"][0]["car"]
    assert kept == sorted(kept, key=lambda b: -b[4]) and all(b[4] > 0.3 for b in kept)

    # GenEval's own folder layout, readable by the official scripts
    for sid, p in zip(sorted(scores), PROMPTS):
        assert json.loads((run / "images" / sid / "metadata.jsonl").read_text()) == p
        assert sorted(x.name for x in (run / "images" / sid / "samples").iterdir()) == [
            "00000.png",
            "00001.png",
        ]

    # metrics: the official summary over the per-image results written beside the run
    official = [json.loads(x) for x in (run / "geneval_results.jsonl").read_text().splitlines()]
    assert len(official) == 10 and official[0]["filename"] == "images/00000/samples/00000.png"
    assert rec.metrics == summarize(official)
    # By hand from the verdicts above (the tiny detector finds cars only, and this run's flat
    # colours are not judged red): only prompt 00000's two images are right, so single_object
    # 1.0 and every other tag 0.0; GenEval's overall is the mean over the five tags, 0.2.
    assert [x["correct"] for x in official] == [True] * 2 + [False] * 8
    assert rec.metrics["per_tag"] == {
        "single_object": 1.0, "two_object": 0.0, "counting": 0.0, "colors": 0.0, "position": 0.0,
    }  # fmt: skip
    assert rec.metrics["overall"] == pytest.approx(0.2)
    assert rec.metrics["correct_images"] == pytest.approx(0.2)
    assert rec.metrics["correct_prompts"] == pytest.approx(0.2)
    html = (run / "geneval_grid.html").read_text()
    assert html.count("<img") == 10 and "a photo of a car and a cow" in html

    # the images alone can be scored again (e.g. with another detector), with the same result
    from janus_eval.tasks.geneval import score_folder

    out = tmp_path / "rescored"
    out.mkdir()
    names = str(data_dir / "object_names.txt")
    assert score_folder(run / "images", output_dir=out, object_names=names, **options(tiny)) == (
        rec.metrics
    )
    rescored = [json.loads(x) for x in (out / "geneval_results.jsonl").read_text().splitlines()]
    assert [x["correct"] for x in rescored] == [x["correct"] for x in official]
    assert rescored[0]["filename"] == "../" + rec.run_id + "/images/00000/samples/00000.png"

    # ... and so can the command line (`janus-eval geneval-score`), to the same summary
    from conftest import run_cli

    flags = [f"--task-option={k}={v}" for k, v in options(tiny, object_names=names).items()]
    shown = run_cli("geneval-score", str(run / "images"), "--output-dir", str(out), *flags)
    assert shown.returncode == 0, shown.stderr
    assert f"{rec.metrics['overall']:.4f}" in shown.stdout

    # identity: detector and weights are in the config; a resumed run reuses everything
    task_cfg = rec.config["task"]["options"]
    assert task_cfg["detector"] == "mask2former-hf" and len(task_cfg["detector_weights"]) == 16
    assert "device" not in task_cfg and rec.extra["leaderboard_keys"] == [
        "detector",
        "detector_weights",
    ]
    again = run_geneval(
        SizedDummy(), tiny, data_dir, tmp_path, {"detection_batch_size": "1"}, batch_size=5
    )
    assert again.run_id == rec.run_id and again.n_reused == 5 and again.metrics == rec.metrics
    other = run_geneval(
        SizedDummy(), tiny, data_dir, tmp_path, {"detector_path": str(tiny["det"])}, limit=1
    )
    assert other.run_id != rec.run_id
    assert other.config["task"]["options"]["detector_weights"] != task_cfg["detector_weights"]
    assert not math.isnan(other.metrics["overall"])


@pytest.mark.slow
def test_janus_tiny_end_to_end(tiny, data_dir, tmp_path):
    from janus_eval import registry

    if "janus-tiny" not in registry.adapter_names():
        pytest.skip("the janus-tiny adapter is not available in this checkout")
    rec = run_geneval("janus-tiny", tiny, data_dir, tmp_path, limit=3, batch_size=3)
    assert rec.n_samples == 3 and rec.metrics["n_images"] == 6
    assert set(rec.metrics["per_tag"]) == {"single_object", "two_object", "counting"}


@pytest.mark.slow
def test_janusflow_tiny_end_to_end(tiny, data_dir, tmp_path):
    """JanusFlow's flow and VAE through the whole GenEval pipeline (3 flow steps: a toy)."""
    from PIL import Image

    pytest.importorskip("diffusers", reason="JanusFlow's VAE needs the diffusers extra")

    steps = {"steps": "3"}
    rec = run_geneval(
        "janusflow-tiny", tiny, data_dir, tmp_path, limit=3, batch_size=2, model_options=steps
    )
    assert rec.n_samples == 3 and rec.metrics["n_images"] == 6
    assert set(rec.metrics["per_tag"]) == {"single_object", "two_object", "counting"}
    assert rec.model["name"] == "janusflow-tiny" and rec.model["steps"] == 3
    png = tmp_path / rec.run_id / "images" / "00002" / "samples" / "00001.png"
    assert Image.open(png).size == (64, 64)
    again = run_geneval(
        "janusflow-tiny", tiny, data_dir, tmp_path, limit=3, batch_size=3, model_options=steps
    )
    assert again.run_id == rec.run_id and again.n_reused == 3
