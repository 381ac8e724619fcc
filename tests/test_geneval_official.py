"""GenEval's official detector without mmdet: layouts, converter, OpenCV's resize, and parity
with mmdet itself.

Expected values come from mmdet 3.3.0 run outside the project on the same seeded random
checkpoint and images (data/geneval_official/produce_expected.py says how); the checkpoint is
rebuilt here, without mmdet, from the key lists mmdet produced.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
import torch
from geneval_official_helpers import (
    DATA,
    key_rows,
    mmdet_relative_position_index,
    palette_color,
    random_mmdet_state,
    resize_case,
    save_mmdet_checkpoint,
)
from janus_eval.tasks.geneval.detection import load_detector
from janus_eval.tasks.geneval.detection import official as off
from janus_eval.tasks.geneval.detection.mmdet_convert import convert_state_dict
from janus_eval.tasks.geneval.detection.mmdet_layout import (
    Arch,
    infer_arch,
    layout,
    mmdet_keys,
    v2_name,
    v3_name,
)
from janus_eval.tasks.geneval.detection.mmdet_pipeline import resize_bilinear_cv2
from PIL import Image

from janus_eval.metrics.geneval import evaluate_image
from janus_eval.types import UserError

EXPECTED = json.loads((DATA / "expected.json").read_text())
ARRAYS = np.load(DATA / "expected.npz")
NAMES = EXPECTED["class_names"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "geneval"


@pytest.fixture(scope="module")
def tiny_v2():
    return random_mmdet_state("tiny", layout="mmdet2")


# -- OpenCV's bilinear resize, bit for bit -------------------------------------------------------


@pytest.mark.parametrize("case", EXPECTED["resize"], ids=lambda c: f"{c['src']}->{c['dst']}")
def test_resize_is_opencv_bit_for_bit(case):
    (w, h), (dw, dh) = case["src"], case["dst"]
    out = resize_bilinear_cv2(resize_case(w, h), dw, dh).numpy()
    assert out.shape == (dh, dw, 3)
    assert hashlib.sha256(out.tobytes()).hexdigest() == case["sha256"]


# -- checkpoint layouts --------------------------------------------------------------------------


def test_layouts_and_architecture_of_the_official_model():
    rows = key_rows("swin_s")  # mmdet 3.3.0's own Swin-S model, 2.x names from mmcv
    v3, v2 = [r[0] for r in rows], [r[1] for r in rows]
    assert layout(v2) == "mmdet2" and layout(v3) == "mmdet3"
    assert [v3_name(k) for k in v2] == v3 and [v2_name(k) for k in v3] == v2
    arch = infer_arch({k: torch.empty(shape, device="meta") for k, _, shape, _ in rows})
    assert arch == Arch(
        embed_dim=96,
        patch_size=4,
        depths=(2, 2, 18, 2),
        num_heads=(3, 6, 12, 24),
        window_size=7,
        mlp_ratio=4.0,
        feature_size=256,
        mask_feature_size=256,
        hidden_dim=256,
        encoder_layers=6,
        encoder_feedforward_dim=1024,
        decoder_layers=9,
        dim_feedforward=2048,
        attention_heads=8,
        num_queries=100,
        num_labels=80,
    )
    assert mmdet_keys(arch) == v3  # every key, in mmdet's module order


def test_converted_names_and_shapes_are_what_transformers_writes():
    core = pytest.importorskip("transformers.core_model_loading", reason="transformers 5 API")
    from transformers import Mask2FormerForUniversalSegmentation

    state = {
        key: mmdet_relative_position_index(7)
        if key.endswith("relative_position_index")
        else torch.empty(shape, device="meta")
        for key, _, shape, _ in key_rows("swin_s")
    }
    arch, kind, converted = convert_state_dict(state, source="swin-s")
    assert kind == "mmdet3"
    with torch.device("meta"):
        model = Mask2FormerForUniversalSegmentation(arch.hf_config())
    written = core.revert_weight_conversion(model, model.state_dict())
    expected = {k: tuple(v.shape) for k, v in written.items() if ".swin.layernorm." not in k}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected


@pytest.mark.parametrize(
    ("layout_", "change", "message"),
    [
        (
            "mmdet2",
            ("drop", "panoptic_head.transformer_decoder.layers.1.attentions.1.attn.in_proj_weight"),
            "missing keys: panoptic_head.transformer_decoder.layers.1.attentions.1.attn.in_proj_weight",
        ),
        (
            "mmdet3",
            ("drop", "panoptic_head.transformer_decoder.layers.1.self_attn.attn.in_proj_weight"),
            "missing keys: panoptic_head.transformer_decoder.layers.1.self_attn.attn.in_proj_weight",
        ),
        (
            "mmdet2",
            ("rename", "backbone.stages.0.blocks.1.norm1.weight"),
            "missing keys: backbone.stages.0.blocks.1.norm1.weight; "
            "unexpected keys: backbone.stages.0.blocks.1.norm1_.weight",
        ),
        ("mmdet2", ("drop", "backbone.patch_embed.projection.weight"), "missing key backbone"),
        (
            "mmdet2",
            ("flip", "backbone.stages.1.blocks.0.attn.w_msa.relative_position_index"),
            "not Swin's relative position index",
        ),
    ],
)
def test_bad_checkpoints_name_the_key(tmp_path, cache, tiny_v2, layout_, change, message):
    state = dict(tiny_v2) if layout_ == "mmdet2" else random_mmdet_state("tiny")
    what, key = change
    if what == "drop":
        del state[key]
    elif what == "rename":
        state[key.replace("norm1", "norm1_")] = state.pop(key)
    else:
        state[key] = state[key].flip(0)
    pth = save_mmdet_checkpoint(tmp_path / "bad.pth", state, layout_)
    with pytest.raises(UserError, match=re.escape(message) + ".*743b7d99"):
        load_detector("official", pth, NAMES)
    assert not (cache / "converted").exists() or not any((cache / "converted").iterdir())


def test_unreadable_files_are_user_errors(tmp_path, cache):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read .*junk.pth as a weights-only checkpoint"):
        load_detector("official", tmp_path / "junk.pth", NAMES)
    torch.save({"state_dict": {"w": torch.ones(1)}, "why": Arch}, tmp_path / "pickle.pth")
    with pytest.raises(UserError, match="weights-only"):  # arbitrary objects are never unpickled
        load_detector("official", tmp_path / "pickle.pth", NAMES)


def test_conversion_is_byte_identical_and_cached(tmp_path, cache, tiny_v2, monkeypatch):
    from safetensors import safe_open
    from safetensors.torch import load_file

    pth = save_mmdet_checkpoint(tmp_path / "v2.pth", tiny_v2, "mmdet2")
    off.convert_checkpoint(pth, tmp_path / "one")
    off.convert_checkpoint(pth, tmp_path / "two")
    one = (tmp_path / "one" / "model.safetensors").read_bytes()
    assert one == (tmp_path / "two" / "model.safetensors").read_bytes()
    # ... in every process: the header is canonical (hash-map order would vary between runs)
    header = json.loads(one[8 : 8 + int.from_bytes(one[:8], "little")])
    assert list(header) == ["__metadata__", *sorted(k for k in header if k != "__metadata__")]
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    with safe_open(str(tmp_path / "one" / "model.safetensors"), "pt") as fh:
        meta = fh.metadata()
    assert meta["source_sha256"] == hashlib.sha256(pth.read_bytes()).hexdigest()
    assert meta["source_layout"] == "mmdet2" and meta["converter"] == off.CONVERTER_VERSION
    # the 3.x layout of the same weights converts to the same tensors
    v3 = save_mmdet_checkpoint(tmp_path / "v3.pth", random_mmdet_state("tiny"), "mmdet3")
    off.convert_checkpoint(v3, tmp_path / "three")
    a = load_file(str(tmp_path / "one" / "model.safetensors"))
    b = load_file(str(tmp_path / "three" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # cached by the source's hash: converted once, redone when the converter changes
    first = off.converted_dir(pth)
    assert first.parent == cache / "converted" and first.name == meta["source_sha256"][:16]
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert off.converted_dir(pth) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert (first / "model.safetensors").read_bytes() == one
    monkeypatch.setattr(off, "CONVERTER_VERSION", "next")
    assert off.converted_dir(pth) == first
    with safe_open(str(first / "model.safetensors"), "pt") as fh:
        assert fh.metadata()["converter"] == "next"


# -- where the official file comes from ----------------------------------------------------------


def test_locating_and_downloading_the_official_file(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=r"offline.*download_models\.sh.*detector=mask2former-hf"):
        off.locate_checkpoint("")
    with pytest.raises(UserError, match="nowhere.pth not found.*743b7d99"):
        off.locate_checkpoint(tmp_path / "nowhere.pth")
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / off.CHECKPOINT_NAME).write_bytes(b"x")
    assert off.locate_checkpoint(folder) == folder / off.CHECKPOINT_NAME
    assert off.locate_checkpoint(folder / off.CHECKPOINT_NAME) == folder / off.CHECKPOINT_NAME

    monkeypatch.delenv("HF_HUB_OFFLINE")
    body = b"pretend weights"
    asked = []

    def urlopen(url, timeout):
        import io

        asked.append(url)
        return io.BytesIO(body)

    monkeypatch.setattr(off.urllib.request, "urlopen", urlopen)
    with pytest.raises(UserError, match="did not deliver the official file"):
        off.locate_checkpoint("")
    assert asked == [off.CHECKPOINT_URL] and not list(cache.glob("*"))  # nothing half-written
    monkeypatch.setattr(off, "CHECKPOINT_SHA256_PREFIX", hashlib.sha256(body).hexdigest()[:8])
    got = off.locate_checkpoint("")
    assert got == cache / off.CHECKPOINT_NAME and got.read_bytes() == body
    assert off.locate_checkpoint("") == got and len(asked) == 2  # then read from the cache


# -- parity with mmdet ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def official(tmp_path_factory, tiny_v2):
    root = tmp_path_factory.mktemp("official")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JANUS_EVAL_CACHE", str(root / "cache"))
        save_mmdet_checkpoint(root / off.CHECKPOINT_NAME, tiny_v2, "mmdet2")
        yield load_detector("official", root, NAMES)  # the folder holding the official name


def tie_groups(scores, eps=1e-5):
    """Runs of consecutive (descending) scores closer than eps: their order is float noise."""
    groups, start = [], 0
    for i in range(1, len(scores) + 1):
        if i == len(scores) or scores[i - 1] - scores[i] >= eps:
            groups.append(slice(start, i))
            start = i
    return groups


@pytest.mark.slow
def test_detections_and_verdicts_match_mmdet(official):
    captured = []
    hook = official.model.register_forward_hook(lambda _m, _i, out: captured.append(out))
    detections, images = {}, {}
    try:
        for name, info in EXPECTED["images"].items():
            image = Image.open(DATA / info["file"]).convert("RGB")
            images[name], detections[name] = image, official.detect([image])[0]
            out = captured.pop()
            # the model: per-query class scores and mask logits
            scores = out.class_queries_logits[0].softmax(-1).numpy()
            np.testing.assert_allclose(scores, ARRAYS[f"{name}/class_scores"], rtol=0, atol=1e-4)
            masks = out.masks_queries_logits[0]
            assert list(masks.shape[-2:]) == [s // 4 for s in info["padded"]]
            sub = masks[:, ::16, ::16].numpy()
            np.testing.assert_allclose(sub, ARRAYS[f"{name}/mask_logits_sub"], rtol=0, atol=1e-4)
            pixels = masks[0].numel()  # the mean logit of each query, over the whole map
            means = masks.flatten(1).double().sum(1).numpy() / pixels
            want = ARRAYS[f"{name}/mask_logits_sum"] / pixels
            np.testing.assert_allclose(means, want, rtol=0, atol=1e-4)
            positive = (masks > 0).flatten(1).sum(1).numpy()
            assert np.abs(positive - ARRAYS[f"{name}/mask_logits_positive"]).max() <= 2
            # the instances GenEval receives, in GenEval's ranking
            theirs = ARRAYS[f"{name}/instances"]
            area = ARRAYS[f"{name}/mask_pixels"][theirs[:, 5] > 0]
            theirs = theirs[theirs[:, 5] > 0]  # score 0 (empty mask): never above a threshold
            ours = sorted(
                (
                    (NAMES.index(n), *d.box, d.score, int(d.mask.sum()))
                    for n, dets in detections[name].items()
                    for d in dets
                ),
                key=lambda r: -r[5],
            )
            ours = np.array(ours, dtype=np.float64)
            assert len(ours) == len(theirs) > 50
            np.testing.assert_allclose(ours[:, 5], theirs[:, 5], rtol=0, atol=1e-4)
            for group in tie_groups(theirs[:, 5]):  # (label, box, mask pixels) per rank
                mine = np.array(sorted(map(tuple, ours[group][:, [0, 1, 2, 3, 4, 6]])))
                want = np.array(sorted(map(tuple, np.c_[theirs[group, :5], area[group]])))
                assert mine[:, 0].tolist() == want[:, 0].tolist()
                assert np.abs(mine[:, 1:5] - want[:, 1:5]).max() <= 0.5
                assert np.abs(mine[:, 5] - want[:, 5]).max() <= 2
    finally:
        hook.remove()
    tags = set()
    for case in EXPECTED["verdicts"]:
        image = images[case["image"]]
        got = evaluate_image(
            case["metadata"], detections[case["image"]], palette_color, image.size, image=image
        )
        assert got == (case["correct"], case["reason"]), case["metadata"]
        tags.add((case["metadata"]["tag"], case["correct"]))
    assert len(tags) == 12  # every tag, both verdicts


# -- the task: official by default, its own identity and column --------------------------------


@pytest.mark.slow
def test_official_is_the_default_and_never_shares_a_run_or_column(tmp_path, cache, tiny_v2):
    from geneval_model_helpers import SizedDummy, build_clip_dir, build_mask2former

    from janus_eval.api import evaluate
    from janus_eval.report.leaderboard import build_leaderboard

    cache.mkdir(parents=True)
    pth = save_mmdet_checkpoint(cache / off.CHECKPOINT_NAME, tiny_v2, "mmdet2")  # the default
    data = tmp_path / "data"
    data.mkdir()
    prompt = {"tag": "single_object", "include": [{"class": "class5", "count": 1}], "prompt": "p"}
    (data / "evaluation_metadata.jsonl").write_text(json.dumps(prompt) + "\n")
    (data / "object_names.txt").write_text("\n".join(NAMES) + "\n")
    common = {"clip_path": str(build_clip_dir(tmp_path / "clip")), "device": "cpu"}
    common["images_per_prompt"] = "1"
    runs = tmp_path / "runs"

    def run(**options):
        opts = {**common, **options}
        return evaluate("geneval", SizedDummy(), data_dir=data, output_dir=runs, task_options=opts)

    official = run()
    recorded = official.config["task"]["options"]
    assert recorded["detector"] == "mask2former-swin-s (official GenEval)"
    assert recorded["detector_weights"] == hashlib.sha256(pth.read_bytes()).hexdigest()[:16]
    hf_dir = build_mask2former(tmp_path / "hf")
    hf = run(detector="mask2former-hf", detector_path=str(hf_dir))
    assert hf.config["task"]["options"]["detector"] == "mask2former-hf"
    assert hf.run_id != official.run_id
    # the same weights through mmdet itself: the same file hash, another recorded detector
    from janus_eval import registry

    via_mmdet = registry.make_task("geneval", {**common, "detector": "mmdet"}).config()
    assert via_mmdet["options"]["detector"] == "mmdet"
    assert via_mmdet["options"]["detector_weights"] == recorded["detector_weights"]
    columns = [c for c in build_leaderboard([runs]).columns if c.endswith("/overall")]
    assert len(columns) == 2
    assert any(
        c.startswith("geneval[detector=mask2former-swin-s (official GenEval),") for c in columns
    )
    assert any(c.startswith("geneval[detector=mask2former-hf,") for c in columns)
