"""The janusflow / janusflow-tiny adapters as the runner uses them: description, checks before
work, batch-invariant images, the diffusers extra, checkpoint formats, and a POPE run end to end
(GenEval end to end is in test_geneval_pipeline.py)."""

from __future__ import annotations

import functools
import importlib.util
import shutil
import sys

import numpy as np
import pytest
import torch
from janus_helpers import one_thread, tiny_dir  # noqa: F401

from janus_eval import registry
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

pytestmark = pytest.mark.usefixtures("one_thread")
needs_diffusers = pytest.mark.skipif(
    importlib.util.find_spec("diffusers") is None,
    reason="JanusFlow's VAE needs diffusers: pip install 'janus-eval[diffusers]'",
)

#: Prompts of 24 to 130 tokens: two prompt-length buckets, so chunks hold mixed paddings.
PROMPTS = ["a cat", "a red car", "blue sky", "two dogs on a bench " * 5, "a cow", "x", "y", "z"]


@functools.cache
def adapter(**options):
    return registry.adapter_class("janusflow-tiny")(steps=3, **options)


def arrays(images) -> list[np.ndarray]:
    return [np.asarray(im) for im in images]


def test_registered_cheaply_and_listed(cli):
    assert {"janusflow", "janusflow-tiny"} <= set(registry.adapter_names())
    shown = cli("models")
    assert shown.returncode == 0, shown.stderr
    assert "janusflow-tiny" in shown.stdout and "rectified-flow" in shown.stdout


def test_needs_a_model_path_and_valid_options():
    cls = registry.adapter_class("janusflow")
    with pytest.raises(UserError, match="needs --model-path"):
        cls()
    tiny = registry.adapter_class("janusflow-tiny")
    for options, message in (
        ({"sampler": "fast"}, "no option"),
        ({"steps": "0"}, "steps"),
        ({"rows_per_batch": "many"}, "rows_per_batch"),
        ({"chat_format": "chatml"}, "chat_format"),
    ):
        with pytest.raises(UserError, match=message):
            tiny(**options)


@needs_diffusers
def test_describe_pins_weights_and_every_setting_that_changes_pixels(tmp_path):
    d = adapter().describe()
    assert d["name"] == "janusflow-tiny" and d["checkpoint"] == "janusflow-tiny-v1"
    assert len(d["weights_sha256"]) == 64 and d["chat_format"] == "janus"
    assert (d["steps"], d["rows_per_batch"], d["vae"]) == (3, 8, "janusflow-tiny-vae-v1")
    assert d["latent_size"] == 8 and d["image_size"] == 32
    assert "vae_sha256" not in d  # a VAE named, not given as a directory
    other = registry.adapter_class("janusflow-tiny")(rows_per_batch=4, chat_format="pro")
    assert (other.describe()["rows_per_batch"], other.describe()["chat_format"]) == (4, "pro")
    from janus_eval.model_adapters.janusflow.tiny import ensure_tiny_vae

    vae = ensure_tiny_vae(tmp_path / "vae")
    given = registry.adapter_class("janusflow-tiny")(vae=str(vae)).describe()
    assert given["vae"] == str(vae) and len(given["vae_sha256"]) == 64


def test_each_family_names_the_other_adapter():
    flow_ckpt = adapter().checkpoint
    with pytest.raises(UserError, match="JanusFlow checkpoint.*--model janusflow"):
        registry.adapter_class("janus")(model_path=str(flow_ckpt)).describe()
    with pytest.raises(UserError, match="use --model janus"):
        registry.adapter_class("janusflow")(model_path=str(tiny_dir())).describe()


def test_bad_image_requests_fail_before_any_work():
    a = registry.adapter_class("janusflow-tiny")()
    for req, message in (
        (ImageRequest("x", "r", size=384), "size 384"),
        (ImageRequest("x", "r", n=2, image_indices=(2,)), r"outside range\(2\)"),
        (ImageRequest("x", "r", temperature=0.5), "temperature"),
        (ImageRequest("x", "r", top_k=10), "top_k"),
        (ImageRequest("x", "r", cfg_weight=-1.0), "cfg_weight -1"),
    ):
        with pytest.raises(UserError, match=message):
            a.generate_images([ImageRequest("fine", "ok"), req])
        assert a._model is None  # nothing was loaded


@functools.cache
def eight_images() -> list[np.ndarray]:
    reqs = [ImageRequest(p, f"r{i}", seed=7, n=1) for i, p in enumerate(PROMPTS)]
    return arrays(im for out in adapter().generate_images(reqs) for im in out)


@needs_diffusers
@pytest.mark.slow
def test_images_do_not_depend_on_the_batch():
    """Batch 1, 3 and 8 (and a resumed request's missing image alone) give identical images."""
    a, want = adapter(), eight_images()
    reqs = [ImageRequest(p, f"r{i}", seed=7, n=1) for i, p in enumerate(PROMPTS)]
    for size in (1, 3):
        got = []
        for i in range(0, len(reqs), size):
            got += arrays(im for out in a.generate_images(reqs[i : i + size]) for im in out)
        assert all(np.array_equal(x, y) for x, y in zip(got, want)), size
    assert len({x.tobytes() for x in want}) == 8  # and the images differ from each other
    both = arrays(a.generate_images([ImageRequest("a cat", "two", n=2)])[0])
    second = arrays(a.generate_images([ImageRequest("a cat", "two", n=2, image_indices=(1,))])[0])
    assert np.array_equal(both[1], second[0]) and not np.array_equal(both[0], both[1])


@needs_diffusers
@pytest.mark.slow
def test_cfg_weight_left_to_the_model_is_upstreams_two():
    a = adapter()
    auto, two, five = (
        arrays(a.generate_images([ImageRequest("a cat", "r0", seed=7, n=1, cfg_weight=w)])[0])[0]
        for w in (None, 2.0, 5.0)
    )
    assert np.array_equal(auto, two) and not np.array_equal(auto, five)
    assert np.array_equal(auto, eight_images()[0])
    fewer = registry.adapter_class("janusflow-tiny")(steps=2)  # and the steps option is used
    req = [ImageRequest("a cat", "r0", seed=7, n=1)]
    assert not np.array_equal(arrays(fewer.generate_images(req)[0])[0], auto)


def test_missing_diffusers_names_the_extra(monkeypatch):
    """Understanding needs no diffusers; decoding images says which extra to install."""
    from janus_eval.model_adapters.janusflow.vae import autoencoder_class

    monkeypatch.setitem(sys.modules, "diffusers", None)  # import diffusers -> ImportError
    with pytest.raises(UserError, match=r"pip install 'janus-eval\[diffusers\]'"):
        autoencoder_class()
    a = registry.adapter_class("janusflow-tiny")(steps=1)
    assert a.understand([UnderstandRequest("Hello?", max_new_tokens=2)])[0]
    with pytest.raises(UserError, match=r"janus-eval\[diffusers\]"):
        a.generate_images([ImageRequest("a cat", "r")])


@needs_diffusers
def test_vae_locations(tmp_path):
    from janus_eval.model_adapters.janusflow.tiny import ensure_tiny_vae
    from janus_eval.model_adapters.janusflow.vae import locate

    vae = ensure_tiny_vae(tmp_path / "vae")
    assert locate(vae) == vae
    pipeline = tmp_path / "pipeline"
    shutil.copytree(vae, pipeline / "vae")
    (pipeline / "model_index.json").write_text("{}")
    assert locate(pipeline) == pipeline / "vae"  # a diffusers pipeline's vae/ folder
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no config.json"):
        locate(tmp_path / "empty")
    with pytest.raises(UserError, match="does not exist"):
        locate(tmp_path / "nowhere")


def test_pytorch_bin_checkpoint_loads_like_safetensors(tmp_path):
    from janus_eval.model_adapters.janusflow.load import load_model
    from safetensors.torch import load_file

    ckpt = adapter().checkpoint
    binary = tmp_path / "bin"
    shutil.copytree(ckpt, binary, ignore=shutil.ignore_patterns("*.safetensors"))
    tensors = load_file(str(ckpt / "model.safetensors"))
    # real checkpoints carry SigLIP's unused pooling head: skipped, as for Janus
    tensors["vision_und_enc_model.vision_tower.attn_pool.latent"] = torch.zeros(1, 1, 64)
    torch.save(tensors, binary / "pytorch_model.bin")
    a, _ = load_model(ckpt)
    b, _ = load_model(binary)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any("gen_dec.mid_block" in k for k in sa)
    tensors["vision_gen_dec_model.extra.weight"] = torch.zeros(2)  # anything else is refused
    del tensors["beg_of_und_embed"]
    torch.save(tensors, binary / "pytorch_model.bin")
    with pytest.raises(UserError, match=r"JanusFlow model.*1 missing: beg_of_und_embed.*extra"):
        load_model(binary)


def test_malformed_configs_are_user_errors(tmp_path):
    import json

    from janus_eval.model_adapters.janusflow.config import read_config

    ckpt = adapter().checkpoint
    raw = json.loads((ckpt / "config.json").read_text())
    for change, message in (
        (lambda c: c["vision_gen_dec_config"]["params"].update(upsamples=2), "latent_size"),
        (lambda c: c["vision_gen_enc_config"]["params"].update(hidden_size=32), "hidden_size"),
        (lambda c: c["vision_gen_enc_config"].update(cls="Other"), "ShallowUViTEncoder"),
        (lambda c: c.pop("vision_gen_enc_config"), "not a JanusFlow config"),
    ):
        bad = json.loads(json.dumps(raw))
        change(bad)
        (tmp_path / "config.json").write_text(json.dumps(bad))
        with pytest.raises(UserError, match=message):
            read_config(tmp_path)


@pytest.mark.slow
def test_pope_end_to_end(tmp_path):
    from janus_eval.api import evaluate

    def run():
        options = {"max_new_tokens": "3"}
        return evaluate(
            "pope", "janusflow-tiny", demo=True, limit=4, output_dir=tmp_path, task_options=options
        )

    record = run()
    assert record.n_samples == 4 and record.model["name"] == "janusflow-tiny"
    assert record.model["weights_sha256"] and "accuracy" in record.metrics
    assert (tmp_path / record.run_id / "samples.jsonl").is_file()
    again = run()
    assert again.run_id == record.run_id and again.n_reused == 4


@pytest.mark.slow
def test_flow_latents_do_not_depend_on_the_chunk():
    """Bitwise: the same latents for 8 images asked for together, 3 at a time and alone."""
    from janus_eval.model_adapters.janusflow.flow import FlowImage, FlowSampler

    model, proc = adapter()._load()
    prompts = [proc.generation_ids(p) for p in PROMPTS]
    images = [FlowImage(i, 1000 + i, 1.5 + i % 3) for i in range(8)]
    sampler = FlowSampler(model, proc.ids.pad, rows=4)
    want = sampler.generate(prompts, images, 2)
    for size in (1, 3):
        got = torch.cat(
            [sampler.generate(prompts, images[i : i + size], 2) for i in range(0, 8, size)]
        )
        assert torch.equal(got, want), size


def test_chat_format_is_stated_never_guessed(tmp_path):
    """JanusFlow-1.3B's name states User/Assistant; an anonymous fine-tune must say."""
    import json

    src = adapter().checkpoint
    for name in ("JanusFlow-1.3B", "step-5000"):
        shutil.copytree(src, tmp_path / name)
        config = tmp_path / name / "processor_config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), "sft_format": "deepseek"}))
    cls = registry.adapter_class("janusflow")
    assert cls(model_path=str(tmp_path / "JanusFlow-1.3B")).describe()["chat_format"] == "janus"
    with pytest.raises(UserError, match="chat_format"):
        cls(model_path=str(tmp_path / "step-5000")).describe()
    given = cls(model_path=str(tmp_path / "step-5000"), chat_format="pro").describe()
    assert given["chat_format"] == "pro"
