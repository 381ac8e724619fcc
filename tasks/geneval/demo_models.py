"""Tiny random-weight scoring models for demos and tests: a Mask2Former detector and an open_clip
CLIP for GenEval, built through the real libraries and saved in the real formats, so they are
read by the very loaders real weights go through.

Why random weights: a newcomer without network access (or gigabytes of scorer weights) still
sees a generation task run end to end: the folder layout, the per-image verdicts, the tables.
The numbers mean nothing, and every run that uses these models is a `--demo` run, marked DEMO.
The checkpoints are a pure function of their seed and are written once under
$JANUS_EVAL_CACHE/demo/ (like janus-tiny's), in a second or two.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from janus_eval.cache import cache_dir, write_once

log = logging.getLogger("janus_eval")

#: open_clip model config of the tiny CLIP: 32 px images, one layer per tower.
TINY_CLIP = {
    "embed_dim": 16,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}
#: What demo runs record as the colour classifier's name (its weights are hashed too).
DEMO_CLIP_NAME = "demo-tiny-clip (random weights)"
#: Bump when the builders below change what they write, so old cached copies are not reused.
VERSION = "v1"


def build_tiny_mask2former(
    directory: Path, num_labels: int = 80, force_class: int | None = None, seed: int = 0
) -> Path:
    """A random transformers Mask2Former (tiny Swin backbone, 10 queries) saved with
    `save_pretrained`. With `force_class`, every query predicts that class with probability ~1
    (tests use it to know what the detector will find)."""
    import torch
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig

    backbone = SwinConfig(
        image_size=64,
        patch_size=4,
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=2,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    config = Mask2FormerConfig(
        backbone_config=backbone,
        feature_size=32,
        mask_feature_size=32,
        hidden_dim=32,
        encoder_feedforward_dim=32,
        encoder_layers=1,
        decoder_layers=2,
        num_attention_heads=2,
        dim_feedforward=32,
        num_queries=10,
        num_labels=num_labels,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Mask2FormerForUniversalSegmentation(config).eval()
    if force_class is not None:
        with torch.no_grad():
            model.class_predictor.weight.zero_()
            model.class_predictor.bias.fill_(-10.0)
            model.class_predictor.bias[force_class] = 10.0
    model.save_pretrained(directory)
    return Path(directory)


def build_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """A random open_clip CLIP (TINY_CLIP) as a directory open_clip loads: open_clip_config.json
    and open_clip_model.safetensors."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = open_clip.CLIP(**TINY_CLIP).state_dict()
    save_file(state, str(directory / "open_clip_model.safetensors"))
    return directory


def demo_detector() -> Path:
    """The demo Mask2Former's directory, written on first use (GenEval's 80 classes)."""
    path = cache_dir("demo", f"mask2former-tiny-{VERSION}")
    _say_once(path, "a tiny random-weight Mask2Former")
    return write_once(path, build_tiny_mask2former)


def demo_clip() -> Path:
    """The demo CLIP's directory, written on first use."""
    path = cache_dir("demo", f"clip-tiny-{VERSION}")
    _say_once(path, "a tiny random-weight CLIP")
    return write_once(
        path, build_tiny_clip, marker="open_clip_model.safetensors", config="open_clip_config.json"
    )


def _say_once(path: Path, what: str) -> None:
    if not path.is_dir():
        log.info("demo: building %s in %s (once)", what, path)
