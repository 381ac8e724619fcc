"""Loading Janus checkpoints: both file formats, sharding, clear errors, host memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from janus_eval.model_adapters.janus.layouts import read_config
from janus_eval.model_adapters.janus.load import load_model
from janus_helpers import one_thread, rel_err, tiny_dir, tiny_model  # noqa: F401
from safetensors.torch import load_file, save_file

from janus_eval.types import UserError

pytestmark = pytest.mark.usefixtures("one_thread")


def _variant(tmp_path: Path, edit) -> Path:
    """A copy of the tiny checkpoint whose tensors went through edit(dict)."""
    out = tmp_path / "ckpt"
    shutil.copytree(tiny_dir(), out, ignore=shutil.ignore_patterns("model.safetensors"))
    tensors = load_file(str(tiny_dir() / "model.safetensors"))
    edit(tensors)
    save_file(tensors, str(out / "model.safetensors"))
    return out


def test_missing_tensor_is_named(tmp_path):
    ckpt = _variant(tmp_path, lambda t: t.pop("language_model.model.layers.1.mlp.up_proj.weight"))
    with pytest.raises(
        UserError, match=r"1 missing: language_model\.model\.layers\.1\.mlp\.up_proj\.weight"
    ):
        load_model(ckpt)


def test_wrong_shape_and_unexpected_tensors_are_listed_together(tmp_path):
    def edit(t):
        t["gen_head.vision_head.weight"] = t["gen_head.vision_head.weight"][:100].clone()
        t["language_model.model.layers.7.mlp.up_proj.weight"] = torch.zeros(2, 2)
        t["vision_model.vision_tower.attn_pool.latent"] = torch.zeros(1, 1, 64)  # known, ignored

    with pytest.raises(UserError) as err:
        load_model(_variant(tmp_path, edit))
    msg = str(err.value)
    assert "1 wrong shape: gen_head.vision_head.weight: [100, 64] (expected [16384, 64])" in msg
    assert "1 unexpected: language_model.model.layers.7.mlp.up_proj.weight" in msg
    assert "attn_pool" not in msg
    assert "\n" not in msg  # one message, no traceback-like dump


def test_ignored_tensors_load(tmp_path):
    def edit(t):
        t["vision_model.vision_tower.attn_pool.latent"] = torch.zeros(1, 1, 64)
        t["gen_vision_model.quantize.codebook_used"] = torch.zeros(65536)

    model, _ = load_model(_variant(tmp_path, edit))
    assert torch.equal(model.llm.lm_head.weight, tiny_model().llm.lm_head.weight)


def test_sharded_bin_with_index_loads_the_same_tensors(tmp_path):
    out = tmp_path / "bin"
    shutil.copytree(tiny_dir(), out, ignore=shutil.ignore_patterns("model.safetensors"))
    tensors = load_file(str(tiny_dir() / "model.safetensors"))
    keys = sorted(tensors)
    shards = {
        "pytorch_model-00001-of-00002.bin": keys[::2],
        "pytorch_model-00002-of-00002.bin": keys[1::2],
    }
    for name, ks in shards.items():
        torch.save({k: tensors[k] for k in ks}, out / name)
    weight_map = {k: name for name, ks in shards.items() for k in ks}
    (out / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    model, _ = load_model(out, dtype="bf16")
    ref = tiny_model().state_dict()
    for k, v in model.state_dict().items():
        want = ref[k].to(torch.bfloat16)  # the VQ model too (bf16 unless the run is fp32)
        assert v.dtype == want.dtype and torch.equal(v, want), k
    os.remove(out / "pytorch_model-00002-of-00002.bin")
    with pytest.raises(UserError, match="lists shard"):
        load_model(out)


def test_pickle_that_needs_code_is_refused(tmp_path):
    out = tmp_path / "evil"
    shutil.copytree(tiny_dir(), out, ignore=shutil.ignore_patterns("model.safetensors"))
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save(
        {"language_model.lm_head.weight": torch.zeros(2), "x": Payload()}, out / "pytorch_model.bin"
    )
    with pytest.raises(UserError, match="needs code execution"):
        load_model(out)
    assert not marker.exists()


def test_unknown_model_type_and_missing_files(tmp_path):
    out = tmp_path / "other"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(UserError, match="unknown model_type 'llava'"):
        load_model(out)
    (out / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot parse"):
        load_model(out)
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    shutil.copy(tiny_dir() / "config.json", out / "config.json")
    with pytest.raises(UserError, match="no weights found"):
        load_model(out)


def test_hub_name_offline_gives_user_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(UserError, match="deepseek-ai/Janus-Pro-7B"):
        load_model("deepseek-ai/Janus-Pro-7B")


def test_real_configs_parse_to_published_dims(tmp_path):
    """Config shapes of the public checkpoints (original layout; dims from the issue)."""
    for name, (d, layers, heads, ffn) in {
        "1b": (2048, 24, 16, 5632),
        "7b": (4096, 30, 32, 11008),
    }.items():
        raw = {
            "model_type": "multi_modality",
            "language_config": {
                "hidden_size": d,
                "intermediate_size": ffn,
                "num_hidden_layers": layers,
                "num_attention_heads": heads,
                "num_key_value_heads": heads,
                "vocab_size": 102400,
            },
            "vision_config": {
                "cls": "CLIPVisionTower",
                "params": {
                    "image_size": 384,
                    "model_name": "siglip_large_patch16_384",
                    "select_feature": "same",
                    "select_layer": -1,
                },
            },
            "aligner_config": {
                "cls": "MlpProjector",
                "params": {
                    "depth": 2,
                    "input_dim": 1024,
                    "n_embed": d,
                    "projector_type": "mlp_gelu",
                },
            },
            "gen_vision_config": {
                "cls": "VQ-16",
                "params": {"image_token_size": 16384, "n_embed": 8},
            },
            "gen_aligner_config": {
                "cls": "MlpProjector",
                "params": {"depth": 2, "input_dim": 8, "n_embed": d, "projector_type": "mlp_gelu"},
            },
            "gen_head_config": {
                "cls": "vision_head",
                "params": {"image_token_embed": d, "image_token_size": 16384, "n_embed": d},
            },
        }
        (tmp_path / f"{name}.json").write_text(json.dumps(raw))
        cfg = read_config(tmp_path / f"{name}.json")
        assert (cfg.llm.dim, cfg.llm.n_layers, cfg.llm.n_heads, cfg.llm.ffn_dim) == (
            d,
            layers,
            heads,
            ffn,
        )
        assert (cfg.vision.width, cfg.vision.layers, cfg.vision.num_tokens) == (1024, 24, 576)
        vq = cfg.vq
        assert (vq.ch, vq.encoder_ch_mult, vq.decoder_ch_mult, vq.z_channels) == (
            128,
            (1, 1, 2, 2, 4),
            (1, 1, 2, 2, 4),
            256,
        )
        assert (vq.codebook_size, vq.embed_dim, vq.num_res_blocks) == (16384, 8, 2)
        assert (cfg.num_gen_tokens, cfg.image_size) == (576, 384)


_MEASURE = textwrap.dedent("""
    import json, sys
    import torch
    from janus_eval.model_adapters.janus.load import load_model
    from janus_eval.model_adapters.janus.model import JanusModel
    from janus_eval.model_adapters.janus.tiny import tiny_config
    with torch.device("meta"):  # first meta-device use loads ~150 MB of torch internals
        JanusModel(tiny_config())
    def status(field):  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(field)) * 1024
    before = status("VmRSS")
    model, _ = load_model(sys.argv[1], "cpu", "bf16")
    print(json.dumps({"before": before, "peak": status("VmHWM")}))
""")


def _mid_checkpoint(root: Path, fmt: str) -> tuple[Path, int]:
    """A ~190 MB bf16 checkpoint at mid-size dims (dim 512, 8 layers) in the original layout."""
    import dataclasses

    from janus_eval.model_adapters.janus.tiny import _original_config, export_state, tiny_config

    cfg = tiny_config()
    cfg = dataclasses.replace(
        cfg, llm=dataclasses.replace(cfg.llm, dim=512, n_layers=8, ffn_dim=1408), gen_head_dim=512
    )
    with torch.device("meta"):
        from janus_eval.model_adapters.janus.model import JanusModel

        shapes = {n: p.shape for n, p in JanusModel(cfg).named_parameters()}
    g = torch.Generator().manual_seed(0)
    state = {n: (torch.randn(s, generator=g) * 0.02).to(torch.bfloat16) for n, s in shapes.items()}
    tensors = export_state(state, cfg, "original")
    shutil.copytree(tiny_dir(), root, ignore=shutil.ignore_patterns("model.safetensors"))
    config = _original_config()
    config["language_config"].update(hidden_size=512, num_hidden_layers=8, intermediate_size=1408)
    for key in ("aligner_config", "gen_aligner_config"):
        config[key]["params"]["n_embed"] = 512
    config["gen_head_config"]["params"].update(n_embed=512, image_token_embed=512)
    (root / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        save_file(tensors, str(root / "model.safetensors"))
        return root, (root / "model.safetensors").stat().st_size
    torch.save(tensors, root / "pytorch_model.bin")
    return root, (root / "pytorch_model.bin").stat().st_size


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_peak_host_memory_of_loading(tmp_path, fmt):
    """Peak RSS growth while loading onto the CPU in the checkpoint's dtype, over its size.

    safetensors: the model itself plus one tensor (target <= 1.3x). .bin: torch.load maps the
    file, and its touched (clean, reclaimable) pages count in RSS, so up to ~2x on a CPU target;
    onto a GPU only those pages remain (see docs/MODEL.md)."""
    ckpt, size = _mid_checkpoint(tmp_path / fmt, fmt)
    res = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(ckpt)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr[-2000:]
    m = json.loads(res.stdout.strip().splitlines()[-1])
    ratio = (m["peak"] - m["before"]) / size
    print(f"{fmt}: checkpoint {size / 1e6:.0f} MB, peak RSS growth {ratio:.2f}x")
    assert 0.8 < ratio <= 1.3


def _vq_variant(tmp_path: Path, gen_vision: dict, cfg, drop_encoder: bool) -> Path:
    """A tiny checkpoint whose VQ model has `cfg.vq`'s dims and config `gen_vision`."""
    from janus_eval.model_adapters.janus.tiny import export_state, random_state

    tensors = export_state(random_state(cfg), cfg, "original")
    encoder = ("gen_vision_model.encoder.", "gen_vision_model.quant_conv.")
    if drop_encoder:
        tensors = {k: v for k, v in tensors.items() if not k.startswith(encoder)}
    out = tmp_path / "vq-ckpt"
    shutil.copytree(tiny_dir(), out, ignore=shutil.ignore_patterns("model.safetensors"))
    config = json.loads((out / "config.json").read_text())
    config["gen_vision_config"] = gen_vision
    (out / "config.json").write_text(json.dumps(config))
    save_file(tensors, str(out / "model.safetensors"))
    return out


def test_upstream_named_vq_with_unequal_multipliers_and_no_encoder_loads_and_decodes(tmp_path):
    """gen_vision_config in upstream's ModelArgs names, a class name upstream does not know, a
    decoder wider than its encoder, no encoder tensors: it loads, and decodes exactly as
    transformers' VQ decoder built with the decoder's multipliers."""
    import dataclasses

    from janus_eval.model_adapters.janus.tiny import export_state, random_state, tiny_config
    from transformers import JanusVQVAE, JanusVQVAEConfig

    enc, dec = (1, 1, 2, 2), (1, 2, 2, 4)
    base = tiny_config()
    cfg = dataclasses.replace(
        base, vq=dataclasses.replace(base.vq, encoder_ch_mult=enc, decoder_ch_mult=dec)
    )
    params = {
        "codebook_size": 16384,
        "codebook_embed_dim": 8,
        "encoder_ch_mult": list(enc),
        "decoder_ch_mult": list(dec),
        "z_channels": 32,
        "ch": 32,  # upstream fixes ch=128 and num_res_blocks=2 in code; tiny needs its own
        "num_res_blocks": 1,
    }
    ckpt = _vq_variant(tmp_path, {"cls": "VQ-tiny-wide", "params": params}, cfg, True)
    assert read_config(ckpt).vq == cfg.vq
    model, _ = load_model(ckpt)
    assert model.vq.encoder is None and model.vq.quant_conv is None
    assert model.vq.decoder.conv_in.out_channels == 32 * 4  # the decoder's widest level
    codes = torch.randint(0, 16384, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model.decode_images(codes)
    assert ours.shape == (3, 3, 32, 32)

    ref = JanusVQVAE(
        JanusVQVAEConfig(
            embed_dim=8,
            num_embeddings=16384,
            latent_channels=32,
            base_channels=32,
            channel_multiplier=list(dec),
            num_res_blocks=1,
            num_patches=4,
        )
    ).eval()
    state = {k: v for k, v in random_state(cfg).items() if k.startswith("vq.")}
    hf = {k.removeprefix("model.vqmodel."): v for k, v in export_state(state, cfg, "hf").items()}
    decoder_side = {k: v for k, v in hf.items() if not k.startswith(("encoder.", "quant_conv."))}
    missing, unexpected = ref.load_state_dict(decoder_side, strict=False)
    assert not unexpected and all(k.startswith(("encoder.", "quant_conv.")) for k in missing)
    with torch.no_grad():
        assert rel_err(ours, ref.decode(codes)) <= 1e-4
    with pytest.raises(RuntimeError, match="no encoder"):
        model.vq.encode(torch.zeros(1, 3, 32, 32))

    # with its encoder tensors the same checkpoint loads the encoder at the encoder's widths
    full, _ = load_model(_vq_variant(tmp_path / "full", {"cls": "X", "params": params}, cfg, False))
    assert full.vq.encoder.conv_out.in_channels == 32 * 2
    assert full.vq.encode(torch.zeros(1, 3, 32, 32)).shape == (1, 16)


def test_vq_config_names_and_errors(tmp_path):
    from janus_eval.model_adapters.janus.tiny import tiny_config

    cfg = tiny_config()
    # upstream's codebook names are read (not only Janus's image_token_size / n_embed)
    raw = json.loads((tiny_dir() / "config.json").read_text())
    raw["gen_vision_config"]["params"] = {
        "codebook_size": 4096,
        "codebook_embed_dim": 4,
        "ch_mult": [1, 2],
    }
    raw["gen_head_config"]["params"]["image_token_size"] = 4096
    (tmp_path / "config.json").write_text(json.dumps(raw))
    vq = read_config(tmp_path / "config.json").vq
    assert (vq.codebook_size, vq.embed_dim, vq.encoder_ch_mult, vq.decoder_ch_mult) == (
        4096,
        4,
        (1, 2),
        (1, 2),
    )
    assert (vq.ch, vq.z_channels, vq.num_res_blocks) == (128, 256, 2)  # upstream's defaults
    unknown = _vq_variant(tmp_path / "a", {"cls": "VQ-32", "params": {"z_channels": 32}}, cfg, 0)
    with pytest.raises(UserError, match=r"'VQ-32' is not one of upstream's VQ models.*decoder"):
        load_model(unknown)
    clash = {"cls": "VQ-16", "params": {"codebook_size": 16384, "image_token_size": 8192}}
    with pytest.raises(UserError, match="codebook_size and image_token_size disagree"):
        load_model(_vq_variant(tmp_path / "b", clash, cfg, False))
    # part of an encoder is not "no encoder": the missing tensor is named
    ckpt = _variant(tmp_path, lambda t: t.pop("gen_vision_model.encoder.conv_in.bias"))
    with pytest.raises(UserError, match=r"1 missing: gen_vision_model\.encoder\.conv_in\.bias"):
        load_model(ckpt)
