"""config.json in either layout <-> JanusConfig, and Janus's special token ids.

Two layouts exist on disk:

* the original deepseek-ai one (`model_type: multi_modality`): `language_config` is a LLaMA
  config; the vision tower is named by `vision_config.params.model_name` (a timm SigLIP name,
  e.g. `siglip_large_patch16_384`); the VQ tokenizer is named by `gen_vision_config.cls`
  (`VQ-16`), whose channel multipliers upstream's `VQ_models` table fixes. Upstream ignores
  extra keys in `params`, so checkpoints with other dims spell them out there: for the tower
  `width`, `layers`, `heads`, `patch_size`, `mlp_ratio`; for the VQ model upstream's own
  `ModelArgs` names (`encoder_ch_mult`, `decoder_ch_mult`, `z_channels`, `codebook_size`,
  `codebook_embed_dim`), plus `ch`, `num_res_blocks` (fixed at 128 and 2 in upstream's code)
  and `ch_mult` (both multipliers at once). With them any class name is accepted; see
  `vq_from_params`.
* the transformers one (`model_type: janus`): `text_config`, `vision_config`, `vq_config`.

Everything downstream (model, loader, processor, sampler) sees only `JanusConfig`.

Both ways: `read_config` turns either layout into a JanusConfig; `original_config` and
`hf_config` write a JanusConfig back out as the layout's config.json (janus-tiny writes its
checkpoints with them; the benchmarks build transformers' JanusConfig from `hf_config`), so
reading and writing cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

from ..config import JanusConfig, LLMConfig, VisionConfig, VQConfig

#: Janus's special token ids in the deepseek-ai tokenizer (janus-tiny keeps them): begin and
#: end of sentence, the pad id of upstream's unconditional rows, begin/end of image, and the
#: image placeholder (transformers' JanusConfig.image_token_id).
BOS, EOS, PAD, BOI, EOI, IMAGE = 100000, 100001, 100015, 100016, 100593, 100581

#: timm SigLIP towers that upstream's `create_siglip_vit` knows (width, layers, heads, patch, mlp).
SIGLIP_TOWERS: dict[str, dict[str, Any]] = {
    "siglip_large_patch16_384": dict(width=1024, layers=24, heads=16, patch_size=16, mlp_ratio=4.0),
    "siglip_so400m_patch14_384": dict(
        width=1152, layers=27, heads=16, patch_size=14, mlp_ratio=3.7362
    ),
}

#: Upstream's VQ models by class name (`VQ_models` in janus/models/vq_model.py: LlamaGen's VQ-16
#: is the only one): what the class name itself decides.
VQ_MODELS: dict[str, dict[str, Any]] = {
    "VQ-16": dict(encoder_ch_mult=(1, 1, 2, 2, 4), decoder_ch_mult=(1, 1, 2, 2, 4)),
}
#: Defaults for everything else, as upstream has them for every class: `ModelArgs`
#: (codebook_size, codebook_embed_dim, z_channels) and the Encoder/Decoder constructors (ch,
#: num_res_blocks), which VQModel calls without those arguments.
VQ_DEFAULTS: dict[str, int] = dict(
    codebook_size=16384, codebook_embed_dim=8, z_channels=256, ch=128, num_res_blocks=2
)
#: Names Janus's own config uses for two of them (gen_vision_config.params, read by the
#: gen aligner and head): same meaning, so both spellings must agree when both are given.
VQ_ALIASES = {"codebook_size": "image_token_size", "codebook_embed_dim": "n_embed"}


def config_json(path: Path, family: str = "Janus") -> tuple[Path, dict[str, Any]]:
    """(file, parsed) of a checkpoint's config.json (`path`: its directory or the file itself);
    a UserError says what is missing or unreadable (`family` names the checkpoint kind)."""
    file = Path(path) / "config.json" if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise UserError(
            f"{file.parent}: no config.json; a {family} checkpoint directory holds config.json, "
            f"tokenizer.json and the weights (model.safetensors or pytorch_model*.bin)"
        )
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{file}: cannot parse config.json ({exc})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{file}: config.json should hold a JSON object")
    return file, raw


def read_config(path: Path) -> JanusConfig:
    """The checkpoint's `config.json` as a JanusConfig; a UserError names what is wrong."""
    file, raw = config_json(path)
    model_type = raw.get("model_type")
    if model_type == "multi_modality" and "vision_gen_enc_config" in raw:
        raise UserError(
            f"{file}: this is a JanusFlow checkpoint (rectified-flow generation); "
            f"use --model janusflow"
        )
    try:
        if model_type == "multi_modality":
            return from_original(raw)
        if model_type == "janus":
            return from_hf(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{file}: malformed {model_type} config ({type(exc).__name__}: {exc})"
        ) from None
    raise UserError(
        f"{file}: unknown model_type {model_type!r}; the janus adapter reads Janus checkpoints "
        f"in the deepseek-ai layout (model_type 'multi_modality', e.g. deepseek-ai/Janus-Pro-7B) "
        f"or the transformers layout (model_type 'janus', e.g. deepseek-community/Janus-Pro-1B)"
    )


def llm_from_llama(c: dict[str, Any]) -> LLMConfig:
    rope = c.get("rope_parameters") or {}
    heads = int(c["num_attention_heads"])
    return LLMConfig(
        vocab_size=int(c.get("vocab_size", 102400)),
        dim=int(c["hidden_size"]),
        n_layers=int(c["num_hidden_layers"]),
        n_heads=heads,
        n_kv_heads=int(c.get("num_key_value_heads") or heads),
        ffn_dim=int(c["intermediate_size"]),
        norm_eps=float(c.get("rms_norm_eps", 1e-6)),
        rope_theta=float(rope.get("rope_theta", c.get("rope_theta", 10000.0))),
        max_position_embeddings=int(c.get("max_position_embeddings", 16384)),
    )


def _params(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return dict((raw.get(key) or {}).get("params") or {})


def vision_from_params(
    vparams: dict[str, Any], towers: dict[str, dict[str, Any]] = SIGLIP_TOWERS
) -> VisionConfig:
    """The SigLIP tower an original-layout `params` dict names (JanusFlow's too): its timm
    name's dims from `towers`, overridden by dims spelled out in `params` (tiny checkpoints)."""
    name = vparams.get("model_name", "siglip_large_patch16_384")
    tower = dict(towers.get(name, {}))
    tower.update(
        {
            k: vparams[k]
            for k in ("width", "layers", "heads", "patch_size", "mlp_ratio")
            if k in vparams
        }
    )
    if set(tower) != {"width", "layers", "heads", "patch_size", "mlp_ratio"}:
        raise ValueError(
            f"vision tower {name!r} is not one of {sorted(towers)} and its params do not "
            f"give width/layers/heads/patch_size/mlp_ratio"
        )
    if vparams.get("select_layer", -1) != -1:
        raise ValueError(f"select_layer={vparams['select_layer']} (only -1 is supported)")
    return VisionConfig(image_size=int(vparams.get("image_size", 384)), **tower)


def from_original(raw: dict[str, Any]) -> JanusConfig:
    llm = llm_from_llama(raw["language_config"])
    vision = vision_from_params(_params(raw, "vision_config"))

    gen_vision = raw.get("gen_vision_config") or {}
    vq = vq_from_params(gen_vision.get("cls", "VQ-16"), dict(gen_vision.get("params") or {}))
    aligner = _params(raw, "aligner_config")
    gen_aligner = _params(raw, "gen_aligner_config")
    head = _params(raw, "gen_head_config")
    _check(aligner.get("projector_type", "mlp_gelu") == "mlp_gelu", "aligner projector_type")
    _check(
        gen_aligner.get("projector_type", "mlp_gelu") == "mlp_gelu", "gen_aligner projector_type"
    )
    _check(int(aligner.get("n_embed", llm.dim)) == llm.dim, "aligner n_embed != hidden_size")
    _check(
        int(gen_aligner.get("n_embed", llm.dim)) == llm.dim, "gen_aligner n_embed != hidden_size"
    )
    _check(int(head.get("n_embed", llm.dim)) == llm.dim, "gen_head n_embed != hidden_size")
    _check(int(head.get("image_token_size", vq.codebook_size)) == vq.codebook_size, "gen_head size")
    return JanusConfig(
        llm=llm,
        vision=vision,
        vq=vq,
        aligner_depth=int(aligner.get("depth", 2)),
        gen_aligner_depth=int(gen_aligner.get("depth", 2)),
        gen_head_dim=int(head.get("image_token_embed", llm.dim)),
        layout="original",
    )


def vq_from_params(cls: str, params: dict[str, Any]) -> VQConfig:
    """The VQ model of `gen_vision_config`. The class name decides the channel multipliers (as
    upstream's VQ_models table does); params may override anything, under upstream's ModelArgs
    names. A class upstream does not know is accepted when params give the decoder's
    multipliers, the one thing its name would otherwise have to say; the rest falls back to
    upstream's defaults, and a dimension that does not fit the weights is then reported by the
    loader's shape check."""
    dims: dict[str, Any] = {**VQ_DEFAULTS, **VQ_MODELS.get(cls, {})}
    for name, alias in VQ_ALIASES.items():
        given = {k: params[k] for k in (name, alias) if k in params}
        if len({int(v) for v in given.values()}) > 1:
            raise ValueError(f"gen_vision_config.params {name} and {alias} disagree: {given}")
        if given:
            dims[name] = next(iter(given.values()))
    for side in ("encoder_ch_mult", "decoder_ch_mult"):
        value = params.get(side, params.get("ch_mult"))
        if value is not None:
            dims[side] = value
    dims.update({k: params[k] for k in ("z_channels", "ch", "num_res_blocks") if k in params})
    if "decoder_ch_mult" not in dims:
        raise ValueError(
            f"gen_vision_config.cls {cls!r} is not one of upstream's VQ models "
            f"({', '.join(sorted(VQ_MODELS))}) and its params do not give decoder_ch_mult "
            "(or ch_mult); add the VQ dimensions to gen_vision_config.params"
        )
    dims.setdefault("encoder_ch_mult", VQConfig.encoder_ch_mult)
    return VQConfig(
        codebook_size=int(dims["codebook_size"]),
        embed_dim=int(dims["codebook_embed_dim"]),
        ch=int(dims["ch"]),
        encoder_ch_mult=tuple(int(m) for m in dims["encoder_ch_mult"]),
        decoder_ch_mult=tuple(int(m) for m in dims["decoder_ch_mult"]),
        z_channels=int(dims["z_channels"]),
        num_res_blocks=int(dims["num_res_blocks"]),
    )


def from_hf(raw: dict[str, Any]) -> JanusConfig:
    llm = llm_from_llama(raw["text_config"])
    v = raw.get("vision_config") or {}
    q = raw.get("vq_config") or {}
    for sub, key, want in (
        (v, "hidden_act", "gelu"),
        (q, "hidden_act", "gelu"),
        (v, "use_qk_norm", False),
        (q, "double_latent", False),
    ):
        _check(sub.get(key, want) == want, f"{key}={sub.get(key)!r} (expected {want!r})")
    vision = VisionConfig(
        image_size=int(v.get("image_size", 384)),
        patch_size=int(v.get("patch_size", 16)),
        width=int(v.get("hidden_size", 1024)),
        layers=int(v.get("num_hidden_layers", 24)),
        heads=int(v.get("num_attention_heads", 16)),
        mlp_ratio=float(v.get("mlp_ratio", 4.0)),
        norm_eps=float(v.get("layer_norm_eps", 1e-6)),
    )
    _check(int(v.get("projection_dim", llm.dim)) == llm.dim, "vision projection_dim != hidden_size")
    _check(int(q.get("projection_dim", llm.dim)) == llm.dim, "vq projection_dim != hidden_size")
    _check(int(q.get("image_token_embed_dim", llm.dim)) == llm.dim, "vq image_token_embed_dim")
    mult = tuple(int(m) for m in q.get("channel_multiplier", (1, 1, 2, 2, 4)))
    vq = VQConfig(
        codebook_size=int(q.get("num_embeddings", 16384)),
        embed_dim=int(q.get("embed_dim", 8)),
        ch=int(q.get("base_channels", 128)),
        encoder_ch_mult=mult,  # transformers' VQ has one multiplier list for both halves
        decoder_ch_mult=mult,
        z_channels=int(q.get("latent_channels", 256)),
        num_res_blocks=int(q.get("num_res_blocks", 2)),
    )
    return JanusConfig(
        llm=llm,
        vision=vision,
        vq=vq,
        aligner_depth=int(v.get("depth", 2)),
        gen_aligner_depth=int(q.get("num_hidden_layers", 2)),
        # transformers' head is Linear(image_token_embed_dim -> projection_dim) -> vision_head
        gen_head_dim=int(q.get("projection_dim", llm.dim)),
        layout="hf",
    )


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


# ---------------------------------------------------------------------------------------------
# Writing: JanusConfig -> config.json


def llama_config(c: LLMConfig) -> dict[str, Any]:
    """The LLaMA dims of `c` under transformers' names (what `llm_from_llama` reads back)."""
    return {
        "vocab_size": c.vocab_size,
        "hidden_size": c.dim,
        "intermediate_size": c.ffn_dim,
        "num_hidden_layers": c.n_layers,
        "num_attention_heads": c.n_heads,
        "num_key_value_heads": c.n_kv_heads,
        "max_position_embeddings": c.max_position_embeddings,
    }


def vision_params(v: VisionConfig, tower: str) -> dict[str, Any]:
    """An original-layout SigLIP `params` dict naming `tower` with every dim spelled out."""
    return {
        "image_size": v.image_size,
        "model_name": tower,
        "select_feature": "same",
        "select_layer": -1,
        **dict(width=v.width, layers=v.layers, heads=v.heads, patch_size=v.patch_size),
        "mlp_ratio": v.mlp_ratio,
    }


def original_config(cfg: JanusConfig, tower: str) -> dict[str, Any]:
    """`cfg` as a deepseek-ai (`multi_modality`) config.json, every dim spelled out in the
    `params` upstream ignores; `tower` names the SigLIP tower."""
    d, q = cfg.llm.dim, cfg.vq
    mult = (
        {"ch_mult": list(q.decoder_ch_mult)}
        if q.encoder_ch_mult == q.decoder_ch_mult
        else {
            "encoder_ch_mult": list(q.encoder_ch_mult),
            "decoder_ch_mult": list(q.decoder_ch_mult),
        }
    )

    def part(cls: str, model_type: str, **params: Any) -> dict[str, Any]:
        return {"cls": cls, "model_type": model_type, "params": params}

    mlp = dict(projector_type="mlp_gelu")
    return {
        "model_type": "multi_modality",
        "architectures": ["MultiModalityCausalLM"],
        "language_config": {"model_type": "llama", "torch_dtype": "float32", **llama_config(cfg.llm)},
        "vision_config": {
            "cls": "CLIPVisionTower",
            "model_type": "vision",
            "params": vision_params(cfg.vision, tower),
        },
        "aligner_config": part(
            "MlpProjector", "aligner", depth=cfg.aligner_depth, input_dim=cfg.vision.width,
            n_embed=d, **mlp,
        ),
        "gen_vision_config": part(
            "VQ-16", "gen_vision", image_token_size=q.codebook_size, n_embed=q.embed_dim,
            ch=q.ch, **mult, z_channels=q.z_channels, num_res_blocks=q.num_res_blocks,
        ),
        "gen_aligner_config": part(
            "MlpProjector", "gen_aligner", depth=cfg.gen_aligner_depth, input_dim=q.embed_dim,
            n_embed=d, **mlp,
        ),
        "gen_head_config": part(
            "vision_head", "gen_head", image_token_embed=cfg.gen_head_dim,
            image_token_size=q.codebook_size, n_embed=d,
        ),
        "torch_dtype": "float32",
    }  # fmt: skip


def hf_config(cfg: JanusConfig) -> dict[str, Any]:
    """`cfg` as a transformers (`janus`) config.json: transformers.JanusConfig.from_dict takes
    it as is (transformers' VQ has one channel-multiplier list: the decoder's)."""
    c, v, q = cfg.llm, cfg.vision, cfg.vq
    return {
        "model_type": "janus",
        "architectures": ["JanusForConditionalGeneration"],
        "image_token_id": IMAGE,
        "tie_word_embeddings": False,
        "text_config": {
            "model_type": "llama",
            **llama_config(c),
            "rms_norm_eps": c.norm_eps,
            "hidden_act": "silu",
            "rope_parameters": {"rope_theta": c.rope_theta, "rope_type": "default"},
            "tie_word_embeddings": False,
            "bos_token_id": BOS,
            "eos_token_id": EOS,
            "pad_token_id": PAD,
        },
        "vision_config": {
            "model_type": "janus_vision_model",
            "hidden_size": v.width,
            "num_hidden_layers": v.layers,
            "num_attention_heads": v.heads,
            "image_size": v.image_size,
            "patch_size": v.patch_size,
            "mlp_ratio": v.mlp_ratio,
            "projection_dim": c.dim,
            "depth": cfg.aligner_depth,
            "num_image_tokens": v.num_tokens,
            "hidden_act": "gelu",
            "layer_norm_eps": v.norm_eps,
        },
        "vq_config": {
            "model_type": "janus_vqgan",
            "embed_dim": q.embed_dim,
            "num_embeddings": q.codebook_size,
            "latent_channels": q.z_channels,
            "base_channels": q.ch,
            "channel_multiplier": list(q.decoder_ch_mult),
            "num_res_blocks": q.num_res_blocks,
            "projection_dim": c.dim,
            "image_token_embed_dim": cfg.gen_head_dim,
            "num_hidden_layers": cfg.gen_aligner_depth,
            "hidden_act": "gelu",
        },
    }
