"""How the expected values in this folder were produced (run OUTSIDE the project; not a test).

Scratch environment (no part of janus-eval): Python 3.11, torch 2.14.1 (CPU), a venv with
`pip install mmdet==3.3.0 mmengine==0.10.7 mmcv-lite==2.1.0` (which brings opencv-python 5.1.0),
plus a stub `mmcv/_ext.py` inside that venv whose every attribute is a function raising
NotImplementedError (mmcv-lite ships no compiled ops; on the CPU Mask2Former's deformable
attention takes mmcv's pure-PyTorch path and never calls them). OpenCV 4.7.0 (GenEval's
environment pins opencv-python-headless 4.7.0.72) was checked in a second venv for the resize.

    python produce_expected.py            # from this folder, janus-eval's worktree on sys.path

It builds mmdet's own Mask2Former from `mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py`
(reduced: see `tiny_cfg`), lists its keys (keys_*.json.gz, with the 2.x names from mmcv's
BaseTransformerLayer), loads the seeded random weights of tests/geneval_official_helpers.py,
runs mmdet 2.x's GenEval pipeline with mmcv's own functions (imread, imrescale, impad_to_multiple
with the config's pad value (128, 128, 128), imnormalize) and mmdet's `predict`, and writes:

* expected.npz: per image, the last decoder layer's class scores (softmax, 20 x 81), mask logits
  on every 16th row and column plus each query's full-resolution logit sum and positive count,
  and the final instances in GenEval's ranking (score descending): label, box, score, mask area.
* expected.json: the images' sizes, GenEval prompts for every tag built from mmdet's detections
  with the verdict and reason janus-eval's rules give on mmdet's detections (colours from the
  palette stand-in for CLIP), and SHA-256 digests of cv2.resize outputs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import mmcv
import mmdet
import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent.parent.parent)]
from geneval_official_helpers import (  # noqa: E402
    SEED,
    palette_color,
    random_mmdet_state,
    resize_case,
)
from PIL import Image  # noqa: E402

from janus_eval.metrics import geneval as rules  # noqa: E402

register_all_modules()
CONFIG = "mask2former/mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py"
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])
NAMES = [f"class{i}" for i in range(80)]
STRIDE = 16
RESIZE_CASES = [
    ((64, 48), (1067, 800)),
    ((48, 80), (800, 1333)),
    ((384, 384), (800, 800)),
    ((512, 512), (800, 800)),
    ((1024, 1024), (800, 800)),
    ((1600, 1600), (800, 800)),
    ((333, 517), (800, 1242)),
    ((17, 9), (30, 20)),
    ((5, 5), (7, 3)),
]


def official_cfg():
    cfg = Config.fromfile(os.path.join(os.path.dirname(mmdet.__file__), ".mim/configs", CONFIG))
    cfg.model.backbone.init_cfg = None
    return cfg


def tiny_cfg():
    """The official config reduced: Swin embed 16, depths 2/2/2/2, heads 1/2/2/4, window 7;
    pixel decoder 64 channels (GN 32 groups), 2 deformable encoder layers (8 heads, FFN 128);
    4 decoder layers (8 heads, FFN 128); 20 queries; 80 classes."""
    cfg = official_cfg()
    m = cfg.model
    m.backbone.update(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])
    head = m.panoptic_head
    head.update(in_channels=[16, 32, 64, 128], feat_channels=64, out_channels=64, num_queries=20)
    enc = head.pixel_decoder.encoder
    enc.num_layers = 2
    enc.layer_cfg.self_attn_cfg.embed_dims = 64
    enc.layer_cfg.ffn_cfg.update(embed_dims=64, feedforward_channels=128)
    head.pixel_decoder.positional_encoding.num_feats = 32
    head.positional_encoding.num_feats = 32
    dec = head.transformer_decoder
    dec.num_layers = 4
    dec.layer_cfg.self_attn_cfg.embed_dims = 64
    dec.layer_cfg.cross_attn_cfg.embed_dims = 64
    dec.layer_cfg.ffn_cfg.update(embed_dims=64, feedforward_channels=128)
    return cfg


def v2_layer_names(dims: int, enc_ffn: int, dec_ffn: int) -> tuple[list[str], list[str]]:
    """Parameter names of one 2.x encoder and decoder layer: mmcv's BaseTransformerLayer with
    the 2.x configs' operation_order (attentions listed in that order, then ffns, norms)."""
    from mmcv.cnn.bricks.transformer import BaseTransformerLayer

    relu = dict(type="ReLU", inplace=True)
    enc = BaseTransformerLayer(
        attn_cfgs=dict(type="MultiScaleDeformableAttention", embed_dims=dims, num_levels=3),
        ffn_cfgs=dict(type="FFN", embed_dims=dims, feedforward_channels=enc_ffn, act_cfg=relu),
        operation_order=("self_attn", "norm", "ffn", "norm"),
    )
    dec = BaseTransformerLayer(
        attn_cfgs=dict(type="MultiheadAttention", embed_dims=dims, num_heads=8),
        ffn_cfgs=dict(embed_dims=dims, feedforward_channels=dec_ffn, act_cfg=relu),
        operation_order=("cross_attn", "norm", "self_attn", "norm", "ffn", "norm"),
    )
    return list(enc.state_dict()), list(dec.state_dict())


def key_list(model, dims: int, enc_ffn: int, dec_ffn: int) -> list:
    """[3.x key, 2.x key ("" when equal), shape, dtype] in module order."""
    enc_names, dec_names = v2_layer_names(dims, enc_ffn, dec_ffn)
    # operation_order says which 2.x list entry is which 3.x module
    tables = {
        "pixel_decoder": {"attentions.0": "self_attn", "ffns.0": "ffn"},
        "transformer_decoder": {
            "attentions.0": "cross_attn",
            "attentions.1": "self_attn",
            "ffns.0": "ffn",
        },
    }
    state = model.state_dict()
    v2_of = {}
    layer = re.compile(
        r"panoptic_head\.(pixel_decoder\.encoder|transformer_decoder)\.layers\.\d+\."
    )
    for key in state:
        m = layer.match(key)
        if not m or m[0] in v2_of:
            continue
        v2_of[m[0]] = True
        kind = "pixel_decoder" if "pixel" in m[1] else "transformer_decoder"
        for name in enc_names if kind == "pixel_decoder" else dec_names:
            new = name
            for old, v3 in tables[kind].items():
                if name.startswith(old + "."):
                    new = v3 + name[len(old) :]
            assert m[0] + new in state, f"{m[0] + name} has no 3.x counterpart"
            v2_of[m[0] + new] = m[0] + name
    rows = [
        [key, v2_of.get(key, ""), list(t.shape), str(t.dtype)[6:]] for key, t in state.items()
    ]  # mmdet 3.x's module order
    layers = [r for r in rows if layer.match(r[0])]
    assert all(r[1] for r in layers), "2.x names do not cover the 3.x layers"
    return rows


def mmdet2_inputs(path: Path):
    """GenEval's mmdet 2.x test pipeline with mmcv's own functions."""
    img = mmcv.imread(str(path))  # BGR, OpenCV
    resized = mmcv.imrescale(img, (1333, 800), interpolation="bilinear", backend="cv2")
    padded = mmcv.impad_to_multiple(resized, 32, pad_val=(128, 128, 128))
    norm = mmcv.imnormalize(padded, MEAN, STD, to_rgb=True)
    x = torch.from_numpy(np.ascontiguousarray(norm.transpose(2, 0, 1)))[None]
    meta = dict(
        img_shape=resized.shape[:2],
        ori_shape=img.shape[:2],
        batch_input_shape=padded.shape[:2],
        pad_shape=padded.shape[:2],
        scale_factor=(resized.shape[1] / img.shape[1], resized.shape[0] / img.shape[0]),
    )
    return x, DetDataSample(metainfo=meta)


def prompts_for(dets: dict, image) -> list[dict]:
    """GenEval prompts of every tag, some true and some false for mmdet's detections."""
    kept = rules.select_detections(dets, "single_object")
    strict = rules.select_detections(dets, "counting")
    present = sorted(kept, key=lambda n: -kept[n][0].score)
    absent = next(n for n in NAMES if n not in kept)
    a, b = present[0], present[1]
    color_a = palette_color(image, kept[a][0], a)
    color_b = palette_color(image, kept[b][0], b)
    other = next(c for c in rules.COLORS if c != color_a)
    out = [
        {"tag": "single_object", "include": [{"class": a, "count": 1}]},
        {"tag": "single_object", "include": [{"class": absent, "count": 1}]},
        {"tag": "two_object", "include": [{"class": a, "count": 1}, {"class": b, "count": 1}]},
        {"tag": "two_object", "include": [{"class": a, "count": 1}, {"class": absent, "count": 1}]},
        {"tag": "colors", "include": [{"class": a, "count": 1, "color": color_a}]},
        {"tag": "colors", "include": [{"class": a, "count": 1, "color": other}]},
        {
            "tag": "color_attr",
            "include": [
                {"class": a, "count": 1, "color": color_a},
                {"class": b, "count": 1, "color": color_b},
            ],
        },
        {
            "tag": "color_attr",
            "include": [
                {"class": a, "count": 1, "color": other},
                {"class": b, "count": 1, "color": color_b},
            ],
        },
    ]
    for name, objs in list(strict.items())[:2]:
        n = len(objs)
        out.append(
            {
                "tag": "counting",
                "include": [{"class": name, "count": n}],
                "exclude": [{"class": name, "count": n + 1}],
            }
        )
        out.append({"tag": "counting", "include": [{"class": name, "count": n + 1}]})
    out.append({"tag": "counting", "include": [{"class": a, "count": 1}]})
    relations = [
        (p, q, rules.relative_position(kept[p][0], kept[q][0]))
        for p in present
        for q in present
        if p != q
    ]
    found = [(p, q, rel) for p, q, rel in relations if rel][:2]
    for p, q, rel in found or [(a, b, ())]:
        wrong = "left of" if "left of" not in rel else "right of"
        for relation in dict.fromkeys([*rel[:1], wrong]):  # ordered: the same file every run
            out.append(
                {
                    "tag": "position",
                    "include": [
                        {"class": q, "count": 1},
                        {"class": p, "count": 1, "position": [relation, 0]},
                    ],
                }
            )
    for i, meta in enumerate(out):
        meta["prompt"] = f"prompt {i} ({meta['tag']})"
    return out


def main() -> None:
    cfg = tiny_cfg()
    model = MODELS.build(cfg.model).eval()
    official = MODELS.build(official_cfg().model).eval()
    for name, net, sizes in (
        ("tiny", model, (64, 128, 128)),
        ("swin_s", official, (256, 1024, 2048)),
    ):
        rows = key_list(net, *sizes)
        data = json.dumps(rows, separators=(",", ":")).encode()
        with gzip.GzipFile(HERE / f"keys_{name}.json.gz", "wb", mtime=0) as fh:
            fh.write(data)
    del official
    state = random_mmdet_state("tiny")
    for key, value in model.state_dict().items():
        if key.endswith("relative_position_index"):
            assert torch.equal(value, state[key]), key
    model.load_state_dict(state, strict=True)

    arrays, images, verdicts = {}, {}, []
    for name in ("square", "wide", "tall"):
        path = HERE / "images" / f"{name}.png"
        x, sample = mmdet2_inputs(path)
        with torch.no_grad():
            cls_list, mask_list = model.panoptic_head(model.extract_feat(x), [sample])
            pred = model.predict(x, [sample], rescale=True)[0].pred_instances
        scores, masks = cls_list[-1][0].softmax(-1), mask_list[-1][0]
        order = np.argsort(-pred.scores.numpy(), kind="stable")
        rows = [
            [int(pred.labels[i]), *map(float, pred.bboxes[i]), float(pred.scores[i])] for i in order
        ]
        binary = pred.masks.numpy()[order]
        arrays[f"{name}/class_scores"] = scores.numpy().astype(np.float32)
        arrays[f"{name}/mask_logits_sub"] = masks[:, ::STRIDE, ::STRIDE].numpy().astype(np.float32)
        arrays[f"{name}/mask_logits_sum"] = masks.flatten(1).double().sum(1).numpy()
        arrays[f"{name}/mask_logits_positive"] = (masks > 0).flatten(1).sum(1).numpy()
        arrays[f"{name}/instances"] = np.array(rows, dtype=np.float64)
        arrays[f"{name}/mask_pixels"] = binary.reshape(len(order), -1).sum(1)
        images[name] = {
            "file": f"images/{name}.png",
            "original": list(sample.ori_shape),
            "resized": list(sample.img_shape),
            "padded": list(sample.batch_input_shape),
        }
        # the detections as GenEval receives them: per class, [x1, y1, x2, y2, score] + mask
        dets: dict = {}
        for (label, *box, score), mask in zip(rows, binary):
            det = rules.Detection(box=tuple(box), score=np.float32(score), mask=mask)
            dets.setdefault(NAMES[label], []).append(det)
        image = Image.open(path).convert("RGB")
        for meta in prompts_for(dets, image):
            ok, reason = rules.evaluate_image(meta, dets, palette_color, image.size, image=image)
            verdicts.append({"image": name, "metadata": meta, "correct": ok, "reason": reason})
    for tag in rules.TAGS:
        outcomes = {v["correct"] for v in verdicts if v["metadata"]["tag"] == tag}
        print(tag, sorted(outcomes))
    np.savez_compressed(HERE / "expected.npz", **arrays)

    import cv2

    resize = []
    for (w, h), (dw, dh) in RESIZE_CASES:
        out = cv2.resize(resize_case(w, h), (dw, dh), interpolation=cv2.INTER_LINEAR)
        resize.append({"src": [w, h], "dst": [dw, dh], "sha256": hashlib.sha256(out).hexdigest()})
    expected = {
        "produced_with": {
            "mmdet": mmdet.__version__,
            "mmcv": mmcv.__version__,
            "torch": torch.__version__,
            "opencv": cv2.__version__,
            "config": CONFIG + " (reduced, tiny_cfg)",
            "seed": SEED,
        },
        "class_names": NAMES,
        "mask_logit_stride": STRIDE,
        "images": images,
        "verdicts": verdicts,
        "resize": resize,
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
