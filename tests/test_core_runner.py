"""The runner and store in-process: records, keys, reuse, arrays and images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from janus_eval import api, registry
from janus_eval.store import RunStore
from janus_eval.types import RunRecord, UserError


def _lines(run_dir):
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_understanding_run_writes_record_and_samples(tmp_path):
    rec = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, batch_size=4)
    run_dir = tmp_path / rec.run_id
    assert rec.n_samples == 40 and rec.n_computed == 40 and rec.n_reused == 0
    saved = RunRecord.from_dict(json.loads((run_dir / "run.json").read_text()))
    assert saved.metrics == rec.metrics and saved.primary_metric == "accuracy"
    assert 0.0 < rec.metrics["accuracy"] < 100.0  # dummy answers are a hash: some right, some not
    assert set(rec.metrics["per_category"]) == {"even", "odd"}
    assert rec.versions["torch"] and rec.versions["janus-eval"]
    assert rec.config["seed"] == 0 and rec.config["task"]["name"] == "toy-qa"
    assert rec.model["name"] == "dummy" and rec.timings["wall_s"] >= 0
    lines = _lines(run_dir)
    assert [x["id"] for x in lines] == [f"q{i:03d}" for i in range(40)]
    assert all(set(x) >= {"key", "request", "response", "scores"} for x in lines)
    expected = 100 * np.mean([x["scores"]["correct"] for x in lines])
    assert rec.metrics["accuracy"] == pytest.approx(expected)


def test_same_arguments_reuse_everything_and_agree(tmp_path):
    first = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, batch_size=3)
    again = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, batch_size=7)
    assert again.run_id == first.run_id  # batch size does not change results, so not the run
    assert again.n_reused == 40 and again.n_computed == 0
    assert again.metrics == first.metrics


def test_metrics_do_not_depend_on_batch_size(tmp_path):
    a = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "a", batch_size=1)
    b = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "b", batch_size=16)
    assert a.metrics == b.metrics


def test_different_arguments_never_share_a_run(tmp_path):
    base = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=10)
    ids = {
        base.run_id,
        api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=11).run_id,
        api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=10, seed=1).run_id,
        api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=10, dtype="bf16").run_id,
        api.evaluate(
            "toy-qa", "dummy", output_dir=tmp_path, limit=10, task_options={"n": "30"}
        ).run_id,
    }
    assert len(ids) == 5


def test_generation_stores_images_and_arrays(tmp_path):
    rec = api.evaluate("toy-gen", "dummy", output_dir=tmp_path, batch_size=4, seed=3)
    run_dir = tmp_path / rec.run_id
    pngs = sorted((run_dir / "images").rglob("*.png"))
    assert len(pngs) == 6 * 3
    lines = _lines(run_dir)
    assert lines[0]["images"] == [f"images/p00/{k:05d}.png" for k in range(3)]
    ref = lines[0]["scores"]["features"]
    assert "__ndarray__" in ref  # stored beside the line, not inside it
    store = RunStore(run_dir)
    resolved = store.resolve_arrays(lines[0])["scores"]["features"]
    assert isinstance(resolved, np.ndarray) and resolved.shape == (3, 3)
    again = api.evaluate("toy-gen", "dummy", output_dir=tmp_path, batch_size=2, seed=3)
    assert again.n_reused == 6 and again.metrics == rec.metrics


def test_images_depend_on_seed_sample_and_index_only(tmp_path):
    a = api.evaluate("toy-gen", "dummy", output_dir=tmp_path / "a", batch_size=1)
    b = api.evaluate("toy-gen", "dummy", output_dir=tmp_path / "b", batch_size=5)
    for k in range(3):
        pa = tmp_path / "a" / a.run_id / "images" / "p04" / f"{k:05d}.png"
        pb = tmp_path / "b" / b.run_id / "images" / "p04" / f"{k:05d}.png"
        assert pa.read_bytes() == pb.read_bytes()


def test_resume_generation_image_by_image(tmp_path):
    rec = api.evaluate("toy-gen", "dummy", output_dir=tmp_path)
    run_dir = tmp_path / rec.run_id
    samples = run_dir / "samples.jsonl"
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines[:-1]) + "\n")  # last sample's line lost in a crash...
    (run_dir / "images" / "p05" / "00001.png").unlink()  # ...and one of its three images
    again = api.evaluate("toy-gen", "dummy", output_dir=tmp_path)
    assert again.n_computed == 1 and again.n_reused == 5
    assert again.extra["images_reused"] == 2  # only the missing image was generated again
    assert again.metrics == rec.metrics


def test_no_resume_sets_earlier_results_aside(tmp_path):
    rec = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=5)
    again = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, limit=5, resume=False)
    assert again.n_computed == 5 and again.n_reused == 0
    aside = [p for p in tmp_path.iterdir() if ".replaced-" in p.name]
    assert len(aside) == 1 and (aside[0] / "samples.jsonl").exists()
    assert again.metrics == rec.metrics


def test_failure_in_a_batch_keeps_stored_results(tmp_path):
    from janus_eval.runner import BatchFailed

    with pytest.raises(BatchFailed, match="stored"):
        api.evaluate(
            "toy-qa", "dummy", output_dir=tmp_path, batch_size=5, model_options={"fail_after": 3}
        )
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(_lines(run_dir)) == 15  # three batches of five made it to disk
    rec = api.evaluate("toy-qa", "dummy", output_dir=tmp_path, batch_size=5)
    assert rec.n_reused == 15 and rec.n_computed == 25


def test_duplicate_sample_ids_are_a_user_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"id": "q001", "question": "a?", "label": "yes"}] * 2
    (data / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(UserError, match="q001.*twice"):
        api.evaluate("toy-qa", "dummy", data_dir=data, output_dir=tmp_path / "out")


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UserError, match="toy-qa"):
        registry.task_class("no-such-task")
    with pytest.raises(UserError, match="dummy"):
        registry.adapter_class("no-such-model")
    with pytest.raises(UserError, match="expected an integer"):
        registry.make_task("toy-qa", {"n": "many"})
    with pytest.raises(UserError, match="no option"):
        registry.make_task("toy-qa", {"bogus": "1"})
