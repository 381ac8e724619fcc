"""GenEval's tiny models and the tiny task data, shared by the GenEval test files.

Checkpoints are built in the real formats (a transformers Mask2Former directory, an open_clip
config + safetensors) and go through the same loading code as real weights.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from janus_eval.tasks.geneval.demo_models import build_tiny_clip, build_tiny_mask2former
from PIL import Image

NAMES = [f"class{i}" for i in range(80)]
NAMES[3] = "car"
NAMES[7] = "cow"

#: The tiny models are the demo's own builders (janus_eval.tasks.geneval.demo_models): one code path for both.
build_mask2former = build_tiny_mask2former
build_clip_dir = build_tiny_clip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("geneval_models")
    return {
        "det": build_mask2former(root / "det"),
        "car_det": build_mask2former(root / "car_det", force_class=NAMES.index("car")),
        "clip": build_clip_dir(root / "clip"),
    }


def picture(w=64, h=48, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


# -- the whole task through janus_eval.api ------------------------------------------------------

PROMPTS = [
    {
        "tag": "single_object",
        "include": [{"class": "car", "count": 1}],
        "prompt": "a photo of a car",
    },
    {
        "tag": "two_object",
        "include": [{"class": "car", "count": 1}, {"class": "cow", "count": 1}],
        "prompt": "a photo of a car and a cow",
    },
    {
        "tag": "counting",
        "include": [{"class": "car", "count": 2}],
        "exclude": [{"class": "car", "count": 3}],
        "prompt": "a photo of two cars",
    },
    {
        "tag": "colors",
        "include": [{"class": "car", "count": 1, "color": "red"}],
        "prompt": "a photo of a red car",
    },
    {
        "tag": "position",
        "include": [
            {"class": "cow", "count": 1},
            {"class": "car", "count": 1, "position": ["left of", 0]},
        ],
        "prompt": "a photo of a car left of a cow",
    },
]


class SizedDummy:
    """The dummy adapter, with a concrete image size (its images are flat colours)."""

    def __new__(cls):
        from janus_eval.model_adapters.dummy import DummyAdapter

        class _Sized(DummyAdapter):
            def generate_images(self, reqs):
                return super().generate_images(
                    [dataclasses.replace(r, size=r.size or 48) for r in reqs]
                )

        return _Sized()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("geneval_data")
    (d / "evaluation_metadata.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    (d / "object_names.txt").write_text("\n".join(NAMES) + "\n")
    return d


def options(tiny, **extra):
    return {
        "detector": "mask2former-hf",
        "detector_path": str(tiny["car_det"]),
        "clip_path": str(tiny["clip"]),
        "device": "cpu",
        "images_per_prompt": "2",
        **extra,
    }


def run_geneval(model, tiny, data_dir, output_dir, task_options=None, **kwargs):
    """GenEval through janus_eval.api with the tiny detector and colour classifier (`options`,
    updated by `task_options`); `kwargs` go to evaluate as they are."""
    from janus_eval.api import evaluate

    return evaluate(
        "geneval",
        model,
        data_dir=data_dir,
        output_dir=output_dir,
        task_options=options(tiny, **(task_options or {})),
        **kwargs,
    )
