"""Shared fixtures for the janus tests: the tiny checkpoints (both layouts, written once per test
session into a private cache) and loaded models."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(tempfile.mkdtemp(prefix="janus-tests-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


@pytest.fixture
def one_thread():
    """Toy-sized ops gain nothing from intra-op threads and lose a lot to them on a busy
    machine (OpenMP barriers): run each janus test single-threaded, then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.cache
def tiny_dir(layout: str = "original") -> Path:
    from janus_eval.model_adapters.janus.tiny import ensure_tiny_checkpoint

    return ensure_tiny_checkpoint(_ROOT / f"tiny-{layout}", layout=layout)


@functools.cache
def tiny_model(layout: str = "original"):
    from janus_eval.model_adapters.janus.load import load_model

    model, _ = load_model(tiny_dir(layout), "cpu", "fp32")
    return model


@functools.cache
def tiny_processor(layout: str = "original"):
    from janus_eval.model_adapters.janus.layouts import read_config
    from janus_eval.model_adapters.janus.processor import JanusProcessor

    return JanusProcessor(tiny_dir(layout), read_config(tiny_dir(layout)))


@functools.cache
def hf_model():
    import torch
    from transformers import JanusForConditionalGeneration
    from transformers.utils import logging

    logging.set_verbosity_error()
    return JanusForConditionalGeneration.from_pretrained(
        str(tiny_dir("hf")), dtype=torch.float32
    ).eval()


def parity_batch():
    """Three left-padded understanding prompts with 0, 1 and 2 images (both image shapes
    resized, one square), default and empty system prompts: the batch the parity tests use."""
    return tiny_processor().understanding_batch(
        [
            ("What is in the image?", (random_image(0, 50, 30),), None),
            (
                "Compare <image> with <image>.",
                (random_image(1, 20, 40), random_image(2, 32, 32)),
                "",
            ),
            ("No image here.", (), None),
        ]
    )


def copy_checkpoint(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def random_image(seed: int, w: int, h: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def rel_err(ours, ref) -> float:
    return float((ours - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
