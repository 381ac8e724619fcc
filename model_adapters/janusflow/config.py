"""JanusFlow dimensions, read from the original deepseek-ai layout (the only one published).

`config.json` says `model_type: multi_modality`, like Janus, but holds
`vision_und_enc_config`, `vision_gen_enc_config` and `vision_gen_dec_config`:

* `language_config`: a LLaMA config (as Janus).
* `vision_und_enc_config.params`: the SigLIP tower (`model_name`, `image_size`, `select_layer`),
  read exactly as Janus's `vision_config`.
* `vision_gen_enc_config.params` / `vision_gen_dec_config.params`: the constructor arguments of
  upstream's ShallowUViTEncoder / ShallowUViTDecoder; an absent one takes the constructor's
  default, as upstream.

Upstream hard-codes what the config does not say: the understanding aligner is Linear(1024 ->
2048), the generation aligners Linear(768 <-> 2048) and the latents 48 x 48 (384 px through the
8x SDXL VAE). Here the aligners follow from the tower width, the LLM width and the UViT
channels (the same numbers for JanusFlow-1.3B), and the latent side is
`vision_gen_enc_config.params.latent_size` when given (a janus-eval key that tiny checkpoints
spell out; upstream passes unknown params to `**kwargs` and ignores them), else 48.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_eval.types import UserError

from ..janus.config import GenGrid, LLMConfig, VisionConfig
from ..janus.layouts import SIGLIP_TOWERS, config_json, llm_from_llama, vision_from_params

#: The towers JanusFlow's own siglip_vit.py knows: Janus's, and a 256 px SigLIP-L.
TOWERS = {
    **SIGLIP_TOWERS,
    "siglip_large_patch16_256": dict(width=1024, layers=24, heads=16, patch_size=16, mlp_ratio=4.0),
}


@dataclass(frozen=True)
class UViTConfig:
    """What the shallow UViT encoder and decoder share (upstream's constructor defaults)."""

    channels: int = 768  # block_out_channels (one entry)
    layers_in_middle: int = 2  # ConvNeXt blocks (0 when use_mid_block is false)
    hidden_size: int = 2048  # the LLM width: t_emb's size
    norm_eps: float = 1e-6
    use_bias: bool = True


@dataclass(frozen=True)
class GenEncoderConfig(UViTConfig):
    """ShallowUViTEncoder: timestep embedding, a strided conv from latents to `channels`, then
    ConvNeXt blocks modulated by the timestep."""

    input_channels: int = 3
    stride: int = 4
    kernel_size: int = 7
    padding: int = 3  # upstream: ceil(kernel_size - stride) when not given


@dataclass(frozen=True)
class GenDecoderConfig(UViTConfig):
    """ShallowUViTDecoder: RMSNorm of the LLM's projected states, concatenated with the
    encoder's features, ConvNeXt blocks, then `upsamples` 2x pixel-shuffle convolutions."""

    in_channels: int = 768
    out_channels: int = 3
    upsamples: int = 2


@dataclass(frozen=True)
class JanusFlowConfig(GenGrid):
    llm: LLMConfig = field(default_factory=LLMConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    encoder: GenEncoderConfig = field(default_factory=GenEncoderConfig)
    decoder: GenDecoderConfig = field(default_factory=GenDecoderConfig)
    #: Side of the square latent the flow runs on (upstream: 48, i.e. 384 px through SDXL's VAE).
    latent_size: int = 48
    layout: str = "original"

    @property
    def latent_channels(self) -> int:
        return self.encoder.input_channels

    @property
    def gen_grid(self) -> int:
        """The encoder's output side: the latent is gen_grid x gen_grid LLM tokens (24)."""
        e = self.encoder
        return (self.latent_size + 2 * e.padding - e.kernel_size) // e.stride + 1


def read_config(path: Path) -> JanusFlowConfig:
    """The checkpoint's config.json as a JanusFlowConfig; a UserError names what is wrong."""
    file, raw = config_json(path, "JanusFlow")
    if raw.get("model_type") != "multi_modality" or "vision_gen_enc_config" not in raw:
        hint = (
            " (a Janus checkpoint: use --model janus)"
            if "gen_vision_config" in raw or raw.get("model_type") == "janus"
            else ""
        )
        raise UserError(
            f"{file}: not a JanusFlow config{hint}; expected model_type 'multi_modality' with "
            f"vision_und_enc_config, vision_gen_enc_config and vision_gen_dec_config, as in "
            f"deepseek-ai/JanusFlow-1.3B"
        )
    try:
        return _from_original(raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{file}: malformed JanusFlow config ({type(exc).__name__}: {exc})"
        ) from None


def _params(raw: dict[str, Any], key: str, cls: str) -> dict[str, Any]:
    sub = raw.get(key) or {}
    if sub.get("cls", cls) != cls:
        raise ValueError(f"{key}.cls is {sub.get('cls')!r}; only {cls} is supported")
    return dict(sub.get("params") or {})


def _uvit(params: dict[str, Any]) -> dict[str, Any]:
    """The shared UViTConfig fields from a `params` dict, upstream's defaults filled in."""
    # upstream reads block_out_channels[0] in some places and [-1] in others: one width only
    widths = [int(c) for c in params.get("block_out_channels", (768,))]
    if len(set(widths)) != 1:
        raise ValueError(f"block_out_channels {widths}: only one width is supported")
    mid = bool(params.get("use_mid_block", True))
    return dict(
        channels=widths[0],
        layers_in_middle=int(params.get("layers_in_middle", 2)) if mid else 0,
        hidden_size=int(params.get("hidden_size", 2048)),
        norm_eps=float(params.get("norm_eps", 1e-6)),
        use_bias=bool(params.get("use_bias", True)),
    )


def _from_original(raw: dict[str, Any]) -> JanusFlowConfig:
    llm = llm_from_llama(raw["language_config"])
    vparams = _params(raw, "vision_und_enc_config", "CLIPVisionTower")
    if vparams.get("pixel_mean") is not None or vparams.get("pixel_std") is not None:
        raise ValueError("vision_und_enc_config pixel_mean/pixel_std (a second normalisation)")
    vision = vision_from_params(vparams, TOWERS)
    ep = _params(raw, "vision_gen_enc_config", "ShallowUViTEncoder")
    dp = _params(raw, "vision_gen_dec_config", "ShallowUViTDecoder")
    kernel, stride = int(ep.get("kernel_size", 7)), int(ep.get("stride", 4))
    padding = ep.get("padding")
    encoder = GenEncoderConfig(
        input_channels=int(ep.get("input_channels", 3)),
        stride=stride,
        kernel_size=kernel,
        padding=kernel - stride if padding is None else int(padding),  # upstream: ceil(k - s)
        **_uvit(ep),
    )
    decoder = GenDecoderConfig(
        in_channels=int(dp.get("in_channels", 768)),
        out_channels=int(dp.get("out_channels", 3)),
        upsamples=int(dp.get("upsamples", 2)),
        **_uvit(dp),
    )
    cfg = JanusFlowConfig(
        llm=llm,
        vision=vision,
        encoder=encoder,
        decoder=decoder,
        latent_size=int(ep.get("latent_size", 48)),
    )
    _check(cfg)
    return cfg


def _check(c: JanusFlowConfig) -> None:
    """The shape contracts upstream's generation loop relies on without checking them."""
    e, d = c.encoder, c.decoder
    problems = [
        f"{what} ({a} != {b})"
        for what, a, b in (
            ("encoder hidden_size != LLM hidden_size", e.hidden_size, c.llm.dim),
            ("decoder hidden_size != LLM hidden_size", d.hidden_size, c.llm.dim),
            ("decoder block_out_channels != encoder's", d.channels, e.channels),
            ("decoder out_channels != encoder input_channels", d.out_channels, e.input_channels),
            (
                f"decoder output side (grid {c.gen_grid} x 2^{d.upsamples}) != latent_size",
                c.gen_grid * 2**d.upsamples,
                c.latent_size,
            ),
        )
        if a != b
    ]
    if problems:
        raise ValueError("; ".join(problems))
