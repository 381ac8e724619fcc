"""Janus dimensions, read from either checkpoint layout into one set of dataclasses.

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
  `_vq_from_params`.
* the transformers one (`model_type: janus`): `text_config`, `vision_config`, `vq_config`.

Everything downstream (model, loader, processor, sampler) sees only `JanusConfig`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

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


@dataclass(frozen=True)
class LLMConfig:
    vocab_size: int = 102400
    dim: int = 2048
    n_layers: int = 24
    n_heads: int = 16
    n_kv_heads: int = 16
    ffn_dim: int = 5632
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 16384

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


@dataclass(frozen=True)
class VisionConfig:
    """The understanding encoder: a SigLIP ViT without its pooling head."""

    image_size: int = 384
    patch_size: int = 16
    width: int = 1024
    layers: int = 24
    heads: int = 16
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6

    @property
    def num_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass(frozen=True)
class VQConfig:
    """LlamaGen's VQ tokenizer (VQ-16 for Janus): 16384 codes of dimension 8, l2-normalised.
    Encoder and decoder have their own channel multipliers, as upstream's ModelArgs does."""

    codebook_size: int = 16384
    embed_dim: int = 8
    ch: int = 128
    encoder_ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    decoder_ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    z_channels: int = 256
    num_res_blocks: int = 2

    @property
    def downsample(self) -> int:
        """Side of the image patch one code decodes to (the decoder's upsampling factor)."""
        return 2 ** (len(self.decoder_ch_mult) - 1)


@dataclass(frozen=True)
class JanusConfig:
    llm: LLMConfig = field(default_factory=LLMConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    vq: VQConfig = field(default_factory=VQConfig)
    aligner_depth: int = 2
    gen_aligner_depth: int = 2
    #: Width of the generation head's hidden layer (`image_token_embed` upstream).
    gen_head_dim: int = 2048
    #: "original" (deepseek-ai multi_modality) or "hf" (transformers janus).
    layout: str = "original"

    @property
    def image_size(self) -> int:
        """Native side of both the understanding input and the generated image (384)."""
        return self.vision.image_size

    @property
    def gen_grid(self) -> int:
        """Generated images are gen_grid x gen_grid VQ codes (24 at 384 px)."""
        return self.image_size // self.vq.downsample

    @property
    def num_gen_tokens(self) -> int:
        return self.gen_grid**2

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)


def read_config(path: Path) -> JanusConfig:
    """The checkpoint's `config.json` as a JanusConfig; a UserError names what is wrong."""
    file = Path(path) / "config.json" if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise UserError(
            f"{file.parent}: no config.json; a Janus checkpoint directory holds config.json, "
            f"tokenizer.json and the weights (model.safetensors or pytorch_model*.bin)"
        )
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{file}: cannot parse config.json ({exc})") from None
    model_type = raw.get("model_type")
    if model_type == "multi_modality" and "vision_gen_enc_config" in raw:
        raise UserError(
            f"{file}: this is a JanusFlow checkpoint (rectified-flow generation); "
            f"use --model janusflow"
        )
    try:
        if model_type == "multi_modality":
            return _from_original(raw)
        if model_type == "janus":
            return _from_hf(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{file}: malformed {model_type} config ({type(exc).__name__}: {exc})"
        ) from None
    raise UserError(
        f"{file}: unknown model_type {model_type!r}; the janus adapter reads Janus checkpoints "
        f"in the deepseek-ai layout (model_type 'multi_modality', e.g. deepseek-ai/Janus-Pro-7B) "
        f"or the transformers layout (model_type 'janus', e.g. deepseek-community/Janus-Pro-1B)"
    )


def _llm_from_llama(c: dict[str, Any]) -> LLMConfig:
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


def _from_original(raw: dict[str, Any]) -> JanusConfig:
    llm = _llm_from_llama(raw["language_config"])
    vision = vision_from_params(_params(raw, "vision_config"))

    gen_vision = raw.get("gen_vision_config") or {}
    vq = _vq_from_params(gen_vision.get("cls", "VQ-16"), dict(gen_vision.get("params") or {}))
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


def _vq_from_params(cls: str, params: dict[str, Any]) -> VQConfig:
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


def _from_hf(raw: dict[str, Any]) -> JanusConfig:
    llm = _llm_from_llama(raw["text_config"])
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
