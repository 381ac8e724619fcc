"""The `diffusers` adapter on a tiny random Stable Diffusion pipeline (tests/diffusers_helpers.py,
saved with save_pretrained and loaded by path): images do not depend on batching, every option
reaches the pixels and the run id, the files fingerprinted are the files loaded, refusals and a
missing extra are clear, and geneval / mjhq30k run end to end."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from geneval_model_helpers import data_dir, run_geneval, tiny  # noqa: F401  (fixtures)
from janus_helpers import one_thread  # noqa: F401  (a fixture)
from test_mjhq30k import make_mjhq
from test_mjhq30k import options as mjhq_options

from janus_eval.api import evaluate
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

pytest.importorskip("diffusers", reason="the optional extra 'diffusers' is not installed")
from diffusers_helpers import tiny_sd  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # toy models: threads only add barriers


def adapter(path: Path | None = None, **options):
    from janus_eval.model_adapters.diffusers_pipeline import DiffusersAdapter

    path = tiny_sd() if path is None else path
    return DiffusersAdapter(model_path=str(path), **{"steps": "2", **options})


def pixels(images) -> list[np.ndarray]:
    return [np.asarray(im) for im in images]


REQS = [
    ImageRequest("a photo of a red car", "00000", seed=7, n=2),
    ImageRequest("a cow", "00001", seed=7, n=1),
]


def test_images_do_not_depend_on_batching():
    one, three = adapter(images_per_call="1"), adapter(images_per_call="3")
    a = one.generate_images(REQS)
    b = three.generate_images(REQS)
    assert [len(x) for x in a] == [2, 1] and a[0][0].size == (16, 16)
    flat = pixels(a[0] + a[1])
    assert all(np.array_equal(x, y) for x, y in zip(flat, pixels(b[0] + b[1])))
    assert not np.array_equal(flat[0], flat[1])  # image k has its own stream
    # order, and a resumed request that asks only for image 1, change nothing
    c = three.generate_images([REQS[1], dataclasses.replace(REQS[0], image_indices=(1,))])
    assert np.array_equal(pixels(c[0])[0], flat[2]) and np.array_equal(pixels(c[1])[0], flat[1])
    # the run seed and the request id are the stream's
    d = three.generate_images(
        [dataclasses.replace(REQS[1], seed=8), dataclasses.replace(REQS[1], request_id="x")]
    )
    assert not np.array_equal(pixels(d[0])[0], flat[2])
    assert not np.array_equal(pixels(d[1])[0], flat[2])
    assert three.generate_images([]) == []


def test_every_option_reaches_the_pixels_and_the_identity():
    req = [ImageRequest("a cow", "00001", seed=7, n=1, cfg_weight=5.0)]
    base = adapter()
    ref = pixels(base.generate_images(req)[0])[0]
    assert np.array_equal(ref, pixels(adapter(guidance_scale="5").generate_images(req)[0])[0])
    low = [dataclasses.replace(req[0], cfg_weight=1.5)]
    assert not np.array_equal(ref, pixels(base.generate_images(low)[0])[0])  # the task's cfg
    # ... unless the option fixes the scale
    assert np.array_equal(ref, pixels(adapter(guidance_scale="5").generate_images(low)[0])[0])
    variants = {
        "steps": adapter(steps="3"),
        "guidance": adapter(guidance_scale="pipeline"),  # the pipeline's 7.5
        "scheduler": adapter(scheduler="DDIMScheduler"),
        "negative": adapter(negative_prompt="blurry"),
    }
    for what, other in variants.items():
        assert not np.array_equal(ref, pixels(other.generate_images(req)[0])[0]), what
        assert other.describe() != base.describe(), what
    sized = adapter(resolution="24").generate_images(req)[0][0]
    assert sized.size == (24, 24)
    wide = adapter(resolution="16x32").generate_images(req)[0][0]
    assert wide.size == (32, 16)  # HxW, PIL reports (width, height)
    desc = base.describe()
    assert desc == adapter().describe()
    assert {k: desc[k] for k in ("pipeline", "scheduler", "steps", "guidance_scale")} == {
        "pipeline": "StableDiffusionPipeline",
        "scheduler": "EulerAncestralDiscreteScheduler",
        "steps": 2,
        "guidance_scale": "task",
    }
    assert adapter(steps=None).describe()["steps"] == 50  # StableDiffusionPipeline's default
    assert variants["guidance"].describe()["guidance_scale"] == 7.5
    assert adapter(dtype="bf16").describe() != desc
    with pytest.raises(
        UserError, match="asks for 16x16 images but --model-option resolution=24x24"
    ):
        adapter(resolution="24").generate_images([dataclasses.replace(req[0], size=16)])
    with pytest.raises(UserError, match="refused the settings.*divisible by 8"):
        adapter().generate_images([dataclasses.replace(req[0], size=20)])


def write_fake(root: Path, index: dict, files: list[str]) -> Path:
    """A pipeline folder whose weight files are placeholders (never loaded: describe() only)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_index.json").write_text(json.dumps(index))
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


#: Stable Diffusion 1.5's model_index.json (runwayml/stable-diffusion-v1-5), safety checker and all.
SD_INDEX = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


def test_the_files_fingerprinted_are_the_files_loaded(tmp_path):
    from janus_eval.model_adapters._diffusers_checkpoint import read_spec

    files = [
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.bin",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/README.md",
        "vae/config.json",
        "vae/diffusion_pytorch_model.bin",
        "text_encoder/config.json",
        "text_encoder/model.fp16-00001-of-00002.safetensors",
        "text_encoder/model.fp16-00002-of-00002.safetensors",
        "text_encoder/model.safetensors.index.fp16.json",
        "text_encoder/model.safetensors",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "scheduler/scheduler_config.json",
        "safety_checker/config.json",
        "safety_checker/model.safetensors",
        "feature_extractor/preprocessor_config.json",
    ]
    spec = read_spec(write_fake(tmp_path / "p", SD_INDEX, files), "p")
    shared = ["model_index.json", "scheduler/scheduler_config.json", "tokenizer/merges.txt",
              "tokenizer/vocab.json", "unet/config.json", "vae/config.json",
              "vae/diffusion_pytorch_model.bin", "text_encoder/config.json"]  # fmt: skip
    checker = ["feature_extractor/preprocessor_config.json", "safety_checker/config.json",
               "safety_checker/model.safetensors"]  # fmt: skip
    assert sorted(spec.files(None)) == sorted(
        shared + checker
        + ["unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"]
    )  # fmt: skip
    assert sorted(spec.files("fp16", ("safety_checker", "feature_extractor"))) == sorted(
        shared
        + ["unet/diffusion_pytorch_model.fp16.safetensors",
           "text_encoder/model.fp16-00001-of-00002.safetensors",
           "text_encoder/model.fp16-00002-of-00002.safetensors"]
    )  # fmt: skip
    # describe(): the checker's state is part of the identity, unloaded files are not
    on = adapter(tmp_path / "p").describe()
    off = adapter(tmp_path / "p", safety_checker="false").describe()
    assert on["safety_checker"] is True and off["safety_checker"] is False
    assert on["weights_sha256"] != off["weights_sha256"]
    (tmp_path / "p" / "unet" / "diffusion_pytorch_model.fp16.safetensors").write_text("other")
    assert adapter(tmp_path / "p").describe() == on
    (tmp_path / "p" / "unet" / "diffusion_pytorch_model.safetensors").write_text("other")
    assert adapter(tmp_path / "p").describe()["weights_sha256"] != on["weights_sha256"]
    shutil.rmtree(tmp_path / "p" / "vae")
    with pytest.raises(UserError, match="component 'vae', but the folder vae/ is missing"):
        adapter(tmp_path / "p").describe()


@pytest.mark.parametrize(
    ("index", "needle"),
    [
        ({"_class_name": ["pipeline", "MyPipeline"]}, "never runs"),
        ({"unet": ["my_unet", "MyUNet"]}, "component 'unet' comes from my_unet.py"),
        ({"_class_name": "NoSuchPipeline"}, "does not have; it is either custom code"),
        ({"_class_name": "StableDiffusionImg2ImgPipeline"}, "not a text-to-image pipeline"),
    ],
)
def test_pipelines_with_their_own_code_or_another_job_are_refused(tmp_path, index, needle):
    write_fake(tmp_path, {**SD_INDEX, **index}, [])
    with pytest.raises(UserError, match=needle):
        adapter(tmp_path).describe()


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"guidance_scale": "-1"}, "guidance_scale='-1'"),
        ({"resolution": "big"}, "expected N or HxW"),
        ({"steps": "0"}, "at least 1"),
        ({"safety_checker": "maybe"}, "expected true, false"),
        ({"cfg": "3"}, "no option"),
    ],
)
def test_bad_options_are_user_errors(options, needle):
    with pytest.raises(UserError, match=needle):
        adapter(**options)


def test_other_refusals_and_a_missing_extra(tmp_path, monkeypatch):
    from janus_eval.model_adapters.diffusers_pipeline import DiffusersAdapter

    with pytest.raises(UserError, match="needs --model-path"):
        DiffusersAdapter()
    with pytest.raises(UserError, match="DDPMScheduler, DDIMScheduler|compatible"):
        adapter(scheduler="FlowMatchEulerDiscreteScheduler").describe()
    with pytest.raises(UserError, match="cannot answer questions"):
        adapter().understand([UnderstandRequest("q")])
    with pytest.raises(UserError, match="does not exist"):
        adapter(tmp_path / "nowhere").describe()
    broken = tmp_path / "broken"
    shutil.copytree(tiny_sd(), broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="diffusers could not load the pipeline"):
        adapter(broken).generate_images(REQS[1:])
    if os.environ.get("HF_HUB_OFFLINE") == "1":  # a hub name not in the cache, offline
        with pytest.raises(UserError, match="could not get 'nobody/no-pipeline' from the Hugging"):
            adapter("nobody/no-pipeline").describe()
    with pytest.raises(UserError, match=r"indices \[3\] are outside range\(2\)"):
        adapter().generate_images([dataclasses.replace(REQS[0], image_indices=(3,))])
    # the user sees which extra to install, with exit status 2 and no traceback
    blocked = "import sys; sys.modules['diffusers'] = None; from janus_eval.cli import main; main()"
    args = ["run", "--task", "mjhq30k", "--model", "diffusers", "--model-path", str(tiny_sd()),
            "--data-dir", str(make_mjhq(tmp_path / "mjhq")), "--output-dir", str(tmp_path)]  # fmt: skip
    shown = subprocess.run(
        [sys.executable, "-c", blocked, *args], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 2 and "Traceback" not in shown.stderr, shown.stderr
    assert "pip install 'janus-eval[diffusers]'" in " ".join(shown.stderr.split())


@pytest.mark.slow
def test_geneval_end_to_end(tiny, data_dir, tmp_path):  # noqa: F811
    rec = run_geneval(
        "diffusers", tiny, data_dir, tmp_path, model_path=str(tiny_sd()),
        model_options={"steps": "2"}, limit=3, batch_size=2,
    )  # fmt: skip
    assert rec.n_samples == 3 and rec.metrics["n_images"] == 6
    assert set(rec.metrics["per_tag"]) == {"single_object", "two_object", "counting"}
    assert rec.model["name"] == "diffusers" and rec.model["steps"] == 2
    run = tmp_path / rec.run_id
    assert sorted(p.name for p in (run / "images" / "00000" / "samples").iterdir()) == [
        "00000.png",
        "00001.png",
    ]
    again = run_geneval(
        "diffusers", tiny, data_dir, tmp_path, model_path=str(tiny_sd()),
        model_options={"steps": "2"}, limit=3, batch_size=3,
    )  # fmt: skip
    assert again.run_id == rec.run_id and again.n_reused == 3 and again.metrics == rec.metrics


def test_mjhq30k_end_to_end(tmp_path):
    data = make_mjhq(tmp_path / "mjhq")
    rec = evaluate(
        "mjhq30k",
        "diffusers",
        model_path=str(tiny_sd()),
        model_options={"steps": "2"},
        data_dir=data,
        output_dir=tmp_path / "runs",
        task_options=mjhq_options(tmp_path, image_size=24),
    )
    m = rec.metrics
    assert m["n_generated"] == 15 and np.isfinite(m["fid"]) and m["fid"] > 0
    saved = sorted((tmp_path / "runs" / rec.run_id / "images").rglob("*.png"))
    assert len(saved) == 15
    from PIL import Image

    assert Image.open(saved[0]).size == (24, 24)
