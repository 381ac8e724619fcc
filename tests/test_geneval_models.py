"""GenEval's detector and colour classifier with tiny random models on CPU (the whole task end to
end: test_geneval_pipeline.py; the CUDA run stays here, where the GPU acceptance plan finds it).

Checkpoints are built (geneval_model_helpers.py) in the real formats (a transformers Mask2Former directory, an
open_clip config + safetensors) and go through the same loading code as real weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from geneval_model_helpers import (  # noqa: F401  (fixtures)
    NAMES,
    SizedDummy,
    build_clip_dir,
    build_mask2former,
    data_dir,
    picture,
    run_geneval,
    tiny,
)
from janus_eval.tasks.geneval.demo_models import TINY_CLIP
from janus_eval.tasks.geneval.detection import load_detector, mmdet_backend, weights_file
from janus_eval.tasks.geneval.detection import mmdet_pipeline as pipeline
from janus_eval.tasks.geneval.detection.clip_color import (
    ClipColorClassifier,
    color_crop,
    load_clip_classifier,
    resolve_clip,
)
from janus_eval.tasks.geneval.detection.mmdet_convert import read_mmdet_checkpoint
from janus_eval.tasks.geneval.detection.official import CHECKPOINT_NAME, locate_checkpoint
from PIL import Image

from janus_eval.metrics.geneval import COLORS, Detection
from janus_eval.types import UserError

# -- Mask2Former: mmdet's pipeline and post-processing ------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((384, 384), (800, 800)),
        ((512, 768), (800, 1200)),
        ((1000, 3000), (444, 1333)),
        ((64, 48), (1067, 800)),
    ],
)
def test_rescale_size_matches_mmcv(size, expected):
    assert pipeline.rescale_size(*size) == expected


def test_preprocess_and_pad():
    x, resized = pipeline.preprocess(Image.new("RGB", (384, 384), (123, 116, 104)))
    assert x.shape == (3, 800, 800) and resized == (800, 800)
    assert torch.allclose(
        x[:, 400, 400],
        torch.tensor([(123 - 123.675) / 58.395, (116 - 116.28) / 57.12, (104 - 103.53) / 57.375]),
        atol=1e-5,
    )
    # 64 x 48 -> 1067 x 800, padded to 1088 x 800 with grey 128 (mmdet 2.x pads before it
    # normalises, with the config's pad value (128, 128, 128))
    x, resized = pipeline.preprocess(Image.new("RGB", (64, 48), (0, 0, 0)))
    assert x.shape == (3, 800, 1088) and resized == (800, 1067)
    grey = torch.tensor([(128 - m) / s for m, s in zip(pipeline.MEAN, pipeline.STD)])
    assert torch.allclose(x[:, :, 1067:], grey.view(3, 1, 1).expand(3, 800, 21), atol=1e-6)
    assert torch.allclose(
        x[:, :, 1066],
        (-torch.tensor(pipeline.MEAN) / torch.tensor(pipeline.STD))[:, None].expand(3, 800),
    )


def test_mask_to_boxes_is_tight_with_exclusive_edges():
    masks = torch.zeros(3, 10, 12, dtype=torch.bool)
    masks[0, 2:5, 3:9] = True
    masks[1, 9, 11] = True
    boxes = pipeline.mask_to_boxes(masks)
    assert boxes.tolist() == [[3, 2, 9, 5], [11, 9, 12, 10], [0, 0, 0, 0]]


def test_instance_postprocess_by_hand():
    # 2 queries, 3 classes (+ no-object); query 0 covers the top-left quarter
    cls = torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 8.0]])
    masks = torch.full((2, 4, 4), -5.0)
    masks[0, :2, :2] = 5.0
    labels, boxes, scores, binary = pipeline.instance_postprocess(
        cls, masks, padded_hw=(16, 16), resized_hw=(16, 16), original_hw=(8, 8)
    )
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]  # (query, class) order, all 6 candidates
    assert binary.shape == (6, 8, 8)
    assert boxes[0].tolist() == [0, 0, 4, 4]
    assert not binary[3:].any()  # query 1's mask is empty: box 0, score 0
    p = torch.softmax(cls[0], 0)[0]  # class score; the mask score (mean sigmoid inside) < 1
    assert 0.9 * p < scores[0] < p and scores[3:].abs().sum() == 0


def test_hf_detector_formats_and_batch_independence(tiny):
    images = [picture(64, 48, 0), picture(40, 40, 1), picture(64, 48, 2)]
    one = load_detector("mask2former-hf", tiny["det"], NAMES, batch_size=1)
    many = load_detector("mask2former-hf", tiny["det"], NAMES, batch_size=8)
    a, b = one.detect(images), many.detect(images)
    assert len(a) == 3 and any(a)
    for image, per_image, again in zip(images, a, b):
        assert per_image.keys() == again.keys() and set(per_image) <= set(NAMES)
        for name, dets in per_image.items():
            for d, e in zip(dets, again[name]):
                assert d.box == e.box and d.score == pytest.approx(e.score, abs=1e-5)
                assert d.mask.shape == (image.height, image.width) and d.mask.dtype == bool
                x1, y1, x2, y2 = d.box
                assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height
                assert 0 < d.score <= 1
    d = one.describe()
    assert d["backend"] == "mask2former-hf" and len(d["weights_sha256"]) == 64


def test_min_score_only_drops_candidates(tiny):
    image = [picture()]
    every = load_detector("mask2former-hf", tiny["det"], NAMES).detect(image)[0]
    some = load_detector("mask2former-hf", tiny["det"], NAMES, min_score=0.01).detect(image)[0]
    flat = sorted(d.score for dets in every.values() for d in dets)
    assert sorted(d.score for dets in some.values() for d in dets) == [s for s in flat if s > 0.01]


def test_missing_or_wrong_detector_weights(tiny, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="model.safetensors.*huggingface-cli download"):
        weights_file("mask2former-hf", tmp_path)
    with pytest.raises(UserError, match="Hugging Face"):  # offline, not cached
        weights_file("mask2former-hf", "facebook/mask2former-not-cached-here")
    with pytest.raises(UserError, match="80 classes|predicts 80"):
        load_detector("mask2former-hf", tiny["det"], NAMES[:10])
    with pytest.raises(UserError, match="unknown GenEval detector"):
        weights_file("yolo", tmp_path)


def test_mmdet_backend_errors_and_safe_checkpoint_reading(tmp_path):
    with pytest.raises(UserError, match="743b7d99.*download_models.sh"):
        locate_checkpoint(tmp_path)
    ckpt = tmp_path / CHECKPOINT_NAME
    torch.save(
        {"meta": {"mmdet_version": "3.0.0"}, "state_dict": {"module.backbone.w": torch.ones(2)}},
        ckpt,
    )
    assert locate_checkpoint(tmp_path) == ckpt
    assert list(read_mmdet_checkpoint(ckpt)) == ["backbone.w"]
    if not mmdet_backend.available():
        with pytest.raises(UserError, match="mmdet 2.x"):
            load_detector("mmdet", tmp_path, NAMES)


# -- colour classifier --------------------------------------------------------------------------


def test_color_crop_greys_out_everything_outside_the_mask():
    image = Image.new("RGB", (10, 8), (200, 10, 10))
    mask = np.zeros((8, 10), bool)
    mask[2:6, 2:5] = True
    crop = color_crop(image, Detection((1, 1, 6.5, 7), 0.9, mask))
    assert crop.size == (5, 6)  # PIL rounds the float box: 6.5 -> 6 (half to even)
    px = np.asarray(crop)
    assert (px[1:5, 1:4] == (200, 10, 10)).all()
    assert (px[0] == (153, 153, 153)).all() and (px[:, 4] == (153, 153, 153)).all()
    plain = color_crop(image, Detection((0, 0, 3, 3), 0.9))
    assert (np.asarray(plain) == (200, 10, 10)).all()


PALETTE = torch.tensor(
    [
        [255, 0, 0],
        [255, 165, 0],
        [255, 255, 0],
        [0, 128, 0],
        [0, 0, 255],
        [128, 0, 128],
        [255, 192, 203],
        [139, 69, 19],
        [0, 0, 0],
        [255, 255, 255],
    ],
    dtype=torch.float32,
)


class FakeClip:
    """Text: one-hot of the colour named in the prompt. Image: one-hot of the palette colour
    nearest the crop's mean. So the classifier must return the crop's colour."""

    def __init__(self):
        self.text_calls = 0

    def encode_text(self, tokens):
        self.text_calls += 1
        return torch.nn.functional.one_hot(tokens[:, 0], 10).float() + 0.01

    def encode_image(self, pixels):
        nearest = torch.cdist(pixels, PALETTE).argmin(dim=1)
        return torch.nn.functional.one_hot(nearest, 10).float()


def fake_tokenizer(texts):
    out = []
    for t in texts:
        word = t.removeprefix("a photo of a ").split()[0].removesuffix("-colored")
        out.append([COLORS.index(word)])
    return torch.tensor(out)


def mean_rgb(image):
    return torch.tensor(np.asarray(image, dtype=np.float32).reshape(-1, 3).mean(0))


def test_clip_classifier_with_an_injected_fake_uses_masks_and_batches():
    model = FakeClip()
    clf = ClipColorClassifier(model, mean_rgb, fake_tokenizer, batch_size=2)
    image = Image.new("RGB", (20, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 8, 8))
    red_mask = np.zeros((20, 20), bool)
    red_mask[:8, :8] = True
    queries = [
        (image, Detection((0, 0, 8, 8), 0.9), "car"),
        (image, Detection((0, 0, 20, 20), 0.9), "car"),  # mostly blue
        (image, Detection((0, 0, 10, 10), 0.9), "bus"),  # 64% red, 36% blue
        (image, Detection((0, 0, 10, 10), 0.9, red_mask), "bus"),  # blue -> grey
        (image, Detection((10, 10, 20, 20), 0.9), "bus"),
    ]
    assert clf.classify(queries) == ["red", "blue", "purple", "red", "blue"]
    assert model.text_calls == 2 * len(COLORS)  # one zero-shot classifier per object class
    assert clf(image, Detection((0, 0, 8, 8), 0.9), "car") == "red"
    assert model.text_calls == 2 * len(COLORS)  # cached
    w = clf.class_weights("car")
    assert w.shape == (10, 10) and torch.allclose(w.norm(dim=0), torch.ones(10))
    assert not clf.amp


def test_tiny_open_clip_loads_from_a_directory_and_from_a_file(tiny, tmp_path):
    import open_clip

    src = resolve_clip("ignored", str(tiny["clip"]))
    assert src.model_name.startswith("local-dir:")
    clf = load_clip_classifier(src)
    image = picture(30, 20)
    queries = [
        (image, Detection((0, 0, 15, 20), 0.9), "car"),
        (image, Detection((5, 5, 30, 20), 0.9), "cow"),
    ]
    colours = clf.classify(queries)
    assert all(c in COLORS for c in colours)
    assert colours == [clf(*q) for q in queries]  # batching does not change answers

    (tmp_path / "janus-tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(tmp_path / "janus-tiny-clip.json")
    file_src = resolve_clip("janus-tiny-clip", str(tiny["clip"] / "open_clip_model.safetensors"))
    assert file_src.describe()["weights_sha256"] == src.describe()["weights_sha256"]
    assert load_clip_classifier(file_src).classify(queries) == colours


def test_a_quickgelu_tag_builds_quickgelu_whatever_the_architecture_name(
    tiny, tmp_path, monkeypatch
):
    """`clip_model=ViT-L-14` with the `openai` tag: open_clip 3.x would build GELU around
    weights trained with QuickGELU (the official open_clip 2.20 built QuickGELU), i.e. silently
    other colours. The tag's quick_gelu flag decides, as open_clip's own loader for the tag."""
    import open_clip
    from open_clip.transformer import QuickGELU

    plain = {k: v for k, v in TINY_CLIP.items() if k != "quick_gelu"}
    (tmp_path / "janus-tiny-clip-gelu.json").write_text(json.dumps(plain))
    open_clip.add_model_config(tmp_path / "janus-tiny-clip-gelu.json")
    weights = str(tiny["clip"] / "open_clip_model.safetensors")
    real = open_clip.get_pretrained_cfg

    def fake_cfg(model, tag):  # an "openai"-like tag for the tiny architecture, cached locally
        if model == "janus-tiny-clip-gelu" and tag == "tiny-openai":
            return {"file": weights, "quick_gelu": True}
        return real(model, tag)

    monkeypatch.setattr(open_clip, "get_pretrained_cfg", fake_cfg)
    clf = load_clip_classifier(resolve_clip("janus-tiny-clip-gelu", "tiny-openai"))
    acts = [m for m in clf.model.modules() if isinstance(m, (QuickGELU, torch.nn.GELU))]
    assert acts and all(isinstance(m, QuickGELU) for m in acts)


def test_missing_clip_weights_say_which_files(tmp_path):
    with pytest.raises(UserError, match="timm/vit_large_patch14_clip_224.openai"):
        resolve_clip("ViT-L-14-quickgelu", "openai")  # HF_HUB_OFFLINE=1 in tests, not cached
    with pytest.raises(UserError, match="neither a file"):
        resolve_clip("ViT-L-14-quickgelu", str(tmp_path / "nope.safetensors"))
    with pytest.raises(UserError, match="open_clip_config.json"):
        resolve_clip("ViT-L-14-quickgelu", str(tmp_path))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (autocast fp16 CLIP)")
def test_detector_and_fp16_autocast_clip_on_cuda_give_the_cpu_verdicts(tiny, data_dir, tmp_path):
    """device=cuda: the detector on the GPU and the colour classifier under fp16 autocast (its
    default there, as GenEval's own script) reach the CPU run's per-image verdicts."""
    cpu = run_geneval(SizedDummy(), tiny, data_dir, tmp_path / "cpu", limit=4)
    gpu = run_geneval(SizedDummy(), tiny, data_dir, tmp_path / "gpu", {"device": "cuda"}, limit=4)
    verdicts = [
        [json.loads(x)["correct"] for x in (d / r.run_id / "geneval_results.jsonl").open()]
        for d, r in ((tmp_path / "cpu", cpu), (tmp_path / "gpu", gpu))
    ]
    assert verdicts[0] == verdicts[1] and gpu.metrics == cpu.metrics
