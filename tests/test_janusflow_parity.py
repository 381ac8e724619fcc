"""Parity of our JanusFlow with deepseek-ai/Janus's own code on janusflow-tiny (float32, CPU):
processor ids and pixels, understanding logits and greedy answers, the flow's guided velocities
and final latents for fixed noise, and the decoded images. The expected values were made by
running upstream outside this repository (tests/expected/janusflow/README.md says how)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from janus_helpers import one_thread, random_image, rel_err  # noqa: F401

EXPECTED = Path(__file__).parent / "expected" / "janusflow"
TOL = 1e-4

pytestmark = pytest.mark.usefixtures("one_thread")


@functools.cache
def expected() -> tuple[dict, dict]:
    from safetensors.torch import load_file

    meta = json.loads((EXPECTED / "upstream.json").read_text(encoding="utf-8"))
    return meta, load_file(str(EXPECTED / "upstream.safetensors"))


ROOT = Path(tempfile.mkdtemp(prefix="janusflow-parity-"))
needs_diffusers = pytest.mark.skipif(
    importlib.util.find_spec("diffusers") is None,
    reason="JanusFlow's VAE needs diffusers: pip install 'janus-eval[diffusers]'",
)


@functools.cache
def tiny() -> Path:
    from janus_eval.model_adapters.janusflow.tiny import ensure_tiny_checkpoint

    return ensure_tiny_checkpoint(ROOT / "tiny")


@functools.cache
def tiny_vae() -> Path:
    from janus_eval.model_adapters.janusflow.tiny import ensure_tiny_vae

    return ensure_tiny_vae(ROOT / "vae")


@functools.cache
def loaded():
    from janus_eval.model_adapters.janusflow.config import read_config
    from janus_eval.model_adapters.janusflow.load import load_model
    from janus_eval.model_adapters.janusflow.processor import JanusFlowProcessor

    ckpt = tiny()
    model, _ = load_model(ckpt, "cpu", "fp32")
    return model, JanusFlowProcessor(ckpt, read_config(ckpt))


IMAGES = [(0, 50, 30), (1, 20, 40), (2, 32, 32)]


def understanding_items():
    im = [random_image(*args) for args in IMAGES]
    return [
        ("<image>\nWhat is in the image?", (im[0],), None),
        ("<image> is one.\n<image> is two. Which is brighter?", (im[1], im[2]), None),
        ("Say something about cats.", (), None),
    ]


def test_the_tiny_checkpoint_is_the_one_upstream_ran():
    made = expected()[0]["made_with"]
    sha = hashlib.sha256((tiny() / "model.safetensors").read_bytes()).hexdigest()
    assert sha == made["tiny_model_sha256"]


@needs_diffusers
def test_the_tiny_vae_is_the_one_upstream_ran():
    made = expected()[0]["made_with"]
    vae_file = tiny_vae() / "diffusion_pytorch_model.safetensors"
    assert hashlib.sha256(vae_file.read_bytes()).hexdigest() == made["tiny_vae_sha256"]


def test_processor_ids_masks_and_pixels_are_upstreams():
    meta, t = expected()
    _, proc = loaded()
    items = understanding_items()
    for (prompt, images, system), want in zip(items, meta["understanding"]):
        text = proc.understanding_text(prompt, len(images), system)
        assert text == want["sft_format"]
        assert proc.understanding_ids(text) == want["input_ids"]
    batch = proc.understanding_batch(items)
    assert batch.ids.tolist() == meta["und_batch_input_ids"]
    # JanusFlow's mask: <begin_of_image> is an image position too (beg_of_und_embed goes there)
    assert batch.image_mask.long().tolist() == meta["und_images_seq_mask"]
    assert int(batch.image_mask.sum()) == 3 * (1 + 16)
    pixels = torch.cat([t["und_pixels_0"], t["und_pixels_1"]])
    assert torch.equal(batch.pixels, pixels)
    for case in meta["generation"]:
        assert proc.chat(case["prompt"], "") == case["sft_format"]
        assert proc.generation_ids(case["prompt"]) == case["llm_ids"]


@pytest.mark.slow
def test_understanding_logits_and_greedy_answers_are_upstreams():
    from janus_eval.model_adapters.janus.understand import greedy, prefill_logits

    meta, t = expected()
    model, proc = loaded()
    batch = proc.understanding_batch(understanding_items())
    logits = prefill_logits(model, batch)
    stride = meta["und_logits_vocab_stride"]
    tail = logits[:, -4:, ::stride]
    assert rel_err(tail, t["und_logits_tail"]) < TOL
    valid = t["und_valid"]
    assert torch.equal(logits.argmax(-1)[valid], t["und_logits_argmax"][valid])
    tokens = greedy(model, batch, [8, 8, 8], {proc.ids.eos})
    for ours, theirs in zip(tokens, meta["greedy_tokens"]):
        cut = theirs.index(proc.ids.eos) if proc.ids.eos in theirs else len(theirs)
        assert ours == theirs[:cut]
    assert [proc.decode(x) for x in tokens] == meta["greedy_answers"]


@functools.cache
def our_flow():
    """Both upstream cases in one batched call (different prompt lengths and guidance weights
    in one chunk), from upstream's initial noise: (velocities by step, final latents)."""
    from janus_eval.model_adapters.janusflow.flow import FlowImage, FlowSampler

    meta, t = expected()
    model, proc = loaded()
    prompts = [proc.generation_ids(case["prompt"]) for case in meta["generation"]]
    images = [
        FlowImage(j, 0, case["cfg_weight"])
        for j, case in enumerate(meta["generation"])
        for _ in range(case["n"])
    ]
    noise = torch.cat([t[f"gen_noise_{j}"] for j in range(len(prompts))])
    seen: dict[int, torch.Tensor] = {}
    latents = FlowSampler(model, proc.ids.pad).generate(
        prompts, images, 30, noise=noise, on_step=lambda i, v: seen.setdefault(i, v.clone())
    )
    return seen, latents


def _upstream(name: str) -> torch.Tensor:
    meta, t = expected()
    return torch.cat([t[f"{name}_{j}"] for j in range(len(meta["generation"]))])


def test_first_steps_velocity_is_upstreams():
    seen, _ = our_flow()
    assert rel_err(seen[0], _upstream("gen_velocity0")) < TOL
    assert rel_err(seen[1], _upstream("gen_velocity1")) < TOL
    assert _upstream("gen_velocity0").abs().max() > 0.1  # a velocity, not a zero field


def test_final_latents_are_upstreams():
    _, latents = our_flow()
    noise, ref = _upstream("gen_noise"), _upstream("gen_latents")
    assert rel_err(latents, ref) < TOL
    assert rel_err(noise, ref) > 0.1  # 30 steps moved the latents well away from the noise


@needs_diffusers
def test_decoded_images_are_upstreams():
    """Decoded one at a time (upstream decoded each case as one batch): equal, but for a value
    in a few thousand moved by one level by float rounding. Upstream's conversion rounds; a
    truncating one would differ in about half of all values."""
    from janus_eval.model_adapters.janusflow.vae import decode, load_vae

    _, latents = our_flow()
    vae = load_vae(tiny_vae(), "cpu", torch.float32)
    ours = torch.cat([decode(vae, z[None]) for z in latents]).numpy().astype(int)
    ref = _upstream("gen_images").numpy().astype(int)
    assert ours.shape == ref.shape == (3, 64, 64, 3)
    assert np.abs(ours - ref).max() <= 1
    assert (ours != ref).mean() < 1e-3
