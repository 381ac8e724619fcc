"""Random-weight mmdet Mask2Former checkpoints in mmdet's own layouts, built without mmdet.

`data/geneval_official/keys_<name>.json.gz` lists every key of the model mmdet 3.3.0 builds from
its config (`swin_s`: the official `mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py`; `tiny`:
the same config reduced; data/geneval_official/README.md), with its 2.x name where that
differs (derived from mmcv's BaseTransformerLayer), shape and dtype. The values are a pure
function of (seed, key) through numpy's legacy RandomState, whose streams never change, so the
scratch script that ran mmdet and these tests hold the very same weights.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).parent / "data" / "geneval_official"
SEED = 1

#: The ten GenEval colours and an RGB value for each (for the stand-in colour classifier).
PALETTE = {
    "red": (220, 30, 30),
    "orange": (240, 140, 20),
    "yellow": (240, 230, 40),
    "green": (40, 170, 60),
    "blue": (30, 60, 220),
    "purple": (130, 40, 170),
    "pink": (240, 140, 190),
    "brown": (120, 70, 30),
    "black": (10, 10, 10),
    "white": (245, 245, 245),
}


def key_rows(name: str) -> list[tuple[str, str, tuple[int, ...], str]]:
    """(3.x key, 2.x key, shape, dtype) in mmdet's module order."""
    with gzip.open(DATA / f"keys_{name}.json.gz", "rt") as fh:
        rows = json.load(fh)
    return [(v3, v2 or v3, tuple(shape), dtype) for v3, v2, shape, dtype in rows]


def mmdet_relative_position_index(window: int) -> torch.Tensor:
    """mmdet's WindowMSA buffer, written the way mmdet writes it (`double_step_seq`)."""
    seq1 = torch.arange(0, (2 * window - 1) * window, 2 * window - 1)
    seq2 = torch.arange(0, window, 1)
    coords = (seq1[:, None] + seq2[None, :]).reshape(1, -1)
    return (coords + coords.T).flip(1).contiguous()


def _scale(key: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """(offset, scale) of the random values: norms near 1, weights ~ 1/sqrt(fan_in), a sharper
    class head and mask head so that some detections pass GenEval's 0.3 and 0.9 thresholds."""
    is_norm = "norm" in key or ".gn." in key
    if len(shape) == 1 and is_norm:
        return (1.0, 0.1) if key.endswith("weight") else (0.0, 0.1)
    if len(shape) == 1:
        return 0.0, (1.0 if "sampling_offsets" in key else 0.1)
    if "relative_position_bias_table" in key:
        return 0.0, 0.02
    if any(e in key for e in ("query_embed", "query_feat", "level_embed", "level_encoding")):
        return 0.0, 1.0
    fan_in = int(np.prod(shape[1:]))
    boost = {
        "cls_embed": 10.0,
        "mask_embed.4": 3.0,
        "transformer_decoder.layers": 0.3,  # small updates keep the 20 queries apart
    }
    return 0.0, next((b for k, b in boost.items() if k in key), 1.0) / fan_in**0.5


def random_mmdet_state(name: str = "tiny", *, layout: str = "mmdet3", seed: int = SEED) -> dict:
    """The seeded random state dict of model `name`, under 3.x or 2.x key names."""
    state = {}
    for v3, v2, shape, _dtype in key_rows(name):
        key = v2 if layout == "mmdet2" else v3
        if v3.endswith("relative_position_index"):
            window = int(round(np.sqrt(shape[0])))
            state[key] = mmdet_relative_position_index(window)
            continue
        rs = np.random.RandomState([seed, zlib.crc32(v3.encode())])
        offset, scale = _scale(v3, shape)
        values = offset + scale * rs.standard_normal(shape)
        state[key] = torch.from_numpy(values.astype(np.float32))
    return state


def save_mmdet_checkpoint(path: Path, state: dict, layout: str = "mmdet3") -> Path:
    """torch.save in the shape mmdet checkpoints have: {"meta": {...}, "state_dict": {...}}."""
    version = "2.25.0" if layout == "mmdet2" else "3.0.0"
    meta = {"mmdet_version": version, "CLASSES": tuple(f"class{i}" for i in range(80))}
    torch.save({"meta": meta, "state_dict": state}, path)
    return path


def palette_color(image, detection, class_name: str) -> str:
    """A stand-in for CLIP: the palette colour nearest the mean of the official colour crop."""
    from janus_eval.tasks.geneval.detection.clip_color import color_crop

    crop = np.asarray(color_crop(image, detection), dtype=np.float64).reshape(-1, 3)
    mean = crop.mean(axis=0) if len(crop) else np.zeros(3)
    names = list(PALETTE)
    dist = [np.sum((mean - np.array(PALETTE[n])) ** 2) for n in names]
    return names[int(np.argmin(dist))]


def resize_case(width: int, height: int) -> np.ndarray:
    """A random (height, width, 3) uint8 picture, the same wherever it is made."""
    rs = np.random.RandomState([width, height])
    return rs.randint(0, 256, (height, width, 3)).astype(np.uint8)
