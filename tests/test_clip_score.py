"""CLIP score beside FID: the metric against torchmetrics' CLIPScore (the reference) and against
the formula by hand, then coco30k and mjhq30k end to end with a tiny random-weight CLIP saved in
the real layout: per image, per category, resumed after SIGKILL, and without a CLIP model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from clip_helpers import save_tiny_clip, torchmetrics_clip_score
from PIL import Image
from resume_helpers import dummy_run, sigkill_and_resume
from test_coco30k import make_coco
from test_coco30k import options as coco_options
from test_mjhq30k import make_mjhq
from test_mjhq30k import options as mjhq_options

from janus_eval.api import evaluate
from janus_eval.merge import merge_runs
from janus_eval.metrics.clip_score import ClipScorer, clip_score, load_clip_scorer
from janus_eval.types import UserError


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> Path:
    return make_coco(tmp_path_factory.mktemp("coco"))


@pytest.fixture(scope="module")
def mjhq(tmp_path_factory) -> Path:
    return make_mjhq(tmp_path_factory.mktemp("mjhq"))


# -- the formula by hand ------------------------------------------------------------------------

#: Hand-made embeddings: an image's is its mean colour (R, G, B); a caption's is looked up here.
TEXT = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "red or green": (1.0, 1.0, 0.0),
        "not red": (-1.0, 0.0, 0.0), "grey": (1.0, 1.0, 1.0)}  # fmt: skip


class ColourProcessor:
    """A CLIP-compatible processor: images -> mean colour, texts -> row index into TEXT."""

    def __call__(self, images=None, text=None, return_tensors="pt", padding=True):
        if images is not None:
            return {"pixel_values": torch.stack([im.float().mean(dim=(1, 2)) for im in images])}
        ids = torch.tensor([[list(TEXT).index(t)] for t in text])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


class ColourModel:
    config = SimpleNamespace()

    def to(self, device):
        return self

    def get_image_features(self, pixel_values):
        return pixel_values

    def get_text_features(self, input_ids, attention_mask):
        return torch.tensor([TEXT[list(TEXT)[i]] for i in input_ids[:, 0].tolist()])


def flat(colour) -> Image.Image:
    return Image.new("RGB", (8, 6), colour)


def test_scores_follow_the_formula_on_hand_made_embeddings():
    scorer = ClipScorer(ColourModel(), ColourProcessor(), id="colour", batch_size=2)
    pairs = [((255, 0, 0), "red"), ((255, 0, 0), "green"), ((0, 200, 0), "red or green"),
             ((90, 90, 90), "grey"), ((255, 0, 0), "not red")]  # fmt: skip
    got = scorer.scores([flat(c) for c, _ in pairs], [t for _, t in pairs])
    # 100 * cos by hand: parallel 100, orthogonal 0, 45 degrees 100/sqrt(2), opposite -100
    want = [100.0, 0.0, 100 / math.sqrt(2), 100.0, -100.0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    # 100 * max(cos, 0) averaged, on pairs with no negative cosine
    assert clip_score(got[:4]) == pytest.approx((100 + 0 + 100 / math.sqrt(2) + 100) / 4)
    # torchmetrics' quirk, kept: the clamp applies to the mean, not to each pair
    assert clip_score(got) == pytest.approx((100 + 0 + 100 / math.sqrt(2) + 100 - 100) / 5)
    assert clip_score([-100.0, 40.0]) == 0.0
    with pytest.raises(ValueError):
        clip_score([])


def test_tiny_clip_matches_torchmetrics_clipscore(tiny_clip):
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
              for h, w in ((40, 48), (32, 32), (64, 40), (33, 50), (48, 48))]  # fmt: skip
    captions = ["a photo of a cat", "two dogs", "a red car parked by the sea", "x", "a cat"]
    scorer = load_clip_scorer(str(tiny_clip), batch_size=2)
    per_pair = scorer.scores(images, captions)
    assert per_pair.shape == (5,) and len(set(per_pair.round(4))) == 5
    assert clip_score(per_pair) == pytest.approx(
        torchmetrics_clip_score(tiny_clip, images, captions), rel=1e-5
    )
    # one pair at a time: the same numbers (no batch effect)
    alone = [scorer.scores([im], [c])[0] for im, c in zip(images, captions)]
    np.testing.assert_allclose(alone, per_pair, rtol=1e-5, atol=1e-5)
    assert scorer.id.startswith("clip-")


def test_unloadable_models_are_user_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with pytest.raises(UserError, match="Hugging Face Hub"):
        load_clip_scorer("openai/clip-vit-large-patch14")
    with pytest.raises(UserError, match="does not exist"):
        load_clip_scorer(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no config.json"):
        load_clip_scorer(str(tmp_path / "empty"))


# -- coco30k and mjhq30k ------------------------------------------------------------------------


def saved_images(run_dir: Path, sample_ids) -> dict[str, list[Image.Image]]:
    return {
        sid: [
            Image.open(p).convert("RGB") for p in sorted((run_dir / "images" / sid).glob("*.png"))
        ]
        for sid in sample_ids
    }


def stored(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_coco30k_clip_score_is_torchmetrics_on_the_generated_images(coco, tiny_clip, tmp_path):
    out = tmp_path / "runs"
    opts = coco_options(tmp_path, clip_model=str(tiny_clip), images_per_caption=2)
    record = evaluate("coco30k", "dummy", data_dir=coco, output_dir=out, task_options=opts)
    m = record.metrics
    rows = stored(out / record.run_id)
    scores = {r["id"]: r["scores"] for r in rows}
    assert all(len(s["clip_scores"]) == 2 for s in scores.values())
    assert {s["clip_model"] for s in scores.values()} == {m["clip_model"].split("(")[1][:-1]}
    images = saved_images(out / record.run_id, scores)
    captions = {r["id"]: r["request"]["prompt"] for r in rows}
    flat_images = [im for sid in scores for im in images[sid]]
    flat_captions = [captions[sid] for sid in scores for _ in images[sid]]
    assert len(flat_images) == m["n_generated"] == 24
    assert m["clip_score"] == pytest.approx(
        torchmetrics_clip_score(tiny_clip, flat_images, flat_captions), rel=1e-5
    )
    assert 0 < m["clip_score"] < 100 and m["fid"] > 0 and "clip_score_status" not in m
    per_image = [v for s in scores.values() for v in s["clip_scores"]]
    assert (
        min(per_image) > 0 and len(set(per_image)) > 3
    )  # positive and varied: the clamp hides nothing
    assert record.config["task"]["options"]["clip_model"] == str(tiny_clip)  # recorded
    # shards merge to the same CLIP score (the merge reads the CLIP model from the config)
    for i in range(2):
        evaluate("coco30k", "dummy", data_dir=coco, output_dir=tmp_path / "sliced",
                 task_options=opts, shard=(i, 2))  # fmt: skip
    merged = merge_runs([tmp_path / "sliced" / record.run_id])
    # (float32 CLIP forwards over other batches: equal to ~1e-8 relative, not bit for bit)
    assert merged.metrics["clip_score"] == pytest.approx(m["clip_score"], rel=1e-6)
    # the CLIP options are not part of the run: turning it off reuses every sample
    off = evaluate("coco30k", "dummy", data_dir=coco, output_dir=out,
                   task_options={**opts, "clip_score": "off"})  # fmt: skip
    assert off.run_id == record.run_id and off.n_reused == 12
    assert off.metrics["fid"] == m["fid"] and "clip_score" not in off.metrics
    assert off.metrics["clip_score_status"].startswith("not computed: off")
    # samples stored without a CLIP score are never mixed with scored ones: said, not averaged
    first = evaluate("coco30k", "dummy", data_dir=coco, output_dir=tmp_path / "late", limit=6,
                     task_options={**opts, "clip_score": "off"})  # fmt: skip
    late = evaluate("coco30k", "dummy", data_dir=coco, output_dir=tmp_path / "late", limit=6,
                    task_options=opts)  # fmt: skip
    assert late.run_id == first.run_id and late.n_reused == 6 and "clip_score" not in late.metrics
    assert late.metrics["clip_score_status"].startswith("not computed: 6 of 6 stored samples")
    assert "--no-resume" in late.metrics["clip_score_status"]


def test_mjhq30k_clip_score_overall_and_per_category(mjhq, tiny_clip, tmp_path):
    out = tmp_path / "runs"
    record = evaluate("mjhq30k", "dummy", data_dir=mjhq, output_dir=out,
                      task_options=mjhq_options(tmp_path, clip_model=str(tiny_clip),
                                                images_per_prompt=2))  # fmt: skip
    m = record.metrics
    rows = stored(out / record.run_id)
    images = saved_images(out / record.run_id, [r["id"] for r in rows])
    by_cat: dict[str, tuple[list, list]] = {}
    for r in rows:
        ims, caps = by_cat.setdefault(r["scores"]["category"], ([], []))
        ims += images[r["id"]]
        caps += [r["request"]["prompt"]] * len(images[r["id"]])
    assert set(m["clip_score_per_category"]) == set(by_cat) == {"animals", "food", "people"}
    assert sum(len(ims) for ims, _ in by_cat.values()) == m["n_generated"] == 30
    for cat, (ims, caps) in by_cat.items():
        want = torchmetrics_clip_score(tiny_clip, ims, caps)
        assert m["clip_score_per_category"][cat] == pytest.approx(want, rel=1e-5), cat
    all_ims = [im for ims, _ in by_cat.values() for im in ims]
    all_caps = [c for _, caps in by_cat.values() for c in caps]
    assert m["clip_score"] == pytest.approx(
        torchmetrics_clip_score(tiny_clip, all_ims, all_caps), rel=1e-5
    )


def test_without_a_clip_model_the_run_goes_on_and_says_so(coco, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    record = evaluate("coco30k", "dummy", data_dir=coco, output_dir=tmp_path / "runs", limit=4,
                      batch_size=1, task_options=coco_options(tmp_path))  # fmt: skip
    assert record.metrics["fid"] > 0 and "clip_score" not in record.metrics
    status = record.metrics["clip_score_status"]
    assert status.startswith("not computed: CLIP model 'openai/clip-vit-large-patch14'")
    warnings = [r for r in caplog.records if "WITHOUT CLIP score" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per batch
    assert "clip_model=DIR" in warnings[0].getMessage()
    with pytest.raises(UserError, match="clip_score=on but CLIP score model"):
        evaluate("coco30k", "dummy", data_dir=coco, output_dir=tmp_path / "on", limit=4,
                 task_options=coco_options(tmp_path, clip_score="on"))  # fmt: skip
    assert not (tmp_path / "on").exists() or not any((tmp_path / "on").rglob("*.png"))
    with pytest.raises(UserError, match="choose auto, on or off"):
        evaluate("coco30k", "dummy", data_dir=coco, output_dir=tmp_path / "x",
                 task_options=coco_options(tmp_path, clip_score="maybe"))  # fmt: skip


@pytest.mark.slow
def test_a_resumed_run_keeps_the_stored_clip_scores(cli, coco, tiny_clip, tmp_path):
    """SIGKILL midway: the samples stored before the kill keep their CLIP scores byte for byte
    and the resumed run ends with the uninterrupted run's CLIP score."""
    opts = coco_options(tmp_path, clip_model=str(tiny_clip), num_samples=10)
    args = dummy_run("coco30k", coco, *[f"-O{k}={v}" for k, v in opts.items()])
    record = sigkill_and_resume(cli, args, tmp_path, total=10, kill_after=4)
    assert record.metrics["clip_score"] > 0  # equal to the uninterrupted run's (checked above)
    rows = stored(tmp_path / "killed" / record.run_id)[: record.n_reused]
    assert rows and all(len(r["scores"]["clip_scores"]) == 1 for r in rows)
    straight = stored(tmp_path / "straight" / record.run_id)
    want = {r["id"]: r["scores"]["clip_scores"] for r in straight}
    assert all(r["scores"]["clip_scores"] == want[r["id"]] for r in rows)
