"""The SDXL VAE that turns JanusFlow's latents into pixels, through diffusers' AutoencoderKL.

Upstream loads `stabilityai/sdxl-vae` apart from the checkpoint and decodes
`vae.decode(z / vae.config.scaling_factor).sample`, then (README) `clip(-1, 1) * 0.5 + 0.5`
and torchvision's `save_image`, i.e. `uint8(x * 255 + 0.5)`: rounded, not truncated as Janus's
VQ images. The VAE runs in float32 for float32 runs, else in bfloat16 ("this vae doesn't work
with fp16", upstream's README); the uint8 conversion is done in float32 (upstream does it in the
VAE's dtype, where bf16 cannot hold x * 255 + 0.5 exactly and rounding goes astray).

Where: a local directory in diffusers' layout (config.json and
diffusion_pytorch_model.safetensors, or the .bin, which diffusers opens with
`torch.load(weights_only=True)`), or one with a `vae/` folder (a pipeline), or a hub name
(resolved by janus_eval.hub: HF_HUB_OFFLINE and the cache honoured; safetensors only).

diffusers is an optional dependency: `pip install 'janus-eval[diffusers]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from janus_eval.types import UserError

DEFAULT_VAE = "stabilityai/sdxl-vae"
WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


def autoencoder_class() -> Any:
    """diffusers' AutoencoderKL, or a UserError naming the extra that provides it."""
    try:
        from diffusers import AutoencoderKL
    except ImportError as exc:
        raise UserError(
            f"JanusFlow image generation decodes its latents with diffusers' AutoencoderKL, and "
            f"diffusers is not installed ({exc}); install the extra: "
            f"pip install 'janus-eval[diffusers]'"
        ) from None
    return AutoencoderKL


def vae_dtype_for(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype == torch.float32 else torch.bfloat16


def locate(spec: str | Path) -> Path:
    """The directory holding the VAE's config.json and weights (downloading a hub name)."""
    from janus_eval.hub import looks_like_path, resolve_snapshot

    patterns = [f"{sub}{name}" for sub in ("", "vae/") for name in ("config.json", WEIGHTS[0])]
    root = resolve_snapshot(spec, what="JanusFlow VAE", allow_patterns=patterns)
    for folder in (root, root / "vae"):
        if (folder / "config.json").is_file() and any((folder / w).is_file() for w in WEIGHTS):
            return folder
    where = "a local directory" if looks_like_path(spec) else "the hub snapshot"
    raise UserError(
        f"JanusFlow VAE: {where} {root} holds no config.json with "
        f"{' or '.join(WEIGHTS)} (nor a vae/ folder with them); pass --model-option "
        f"vae=stabilityai/sdxl-vae or a directory in diffusers' AutoencoderKL layout"
    )


def fingerprint(folder: Path) -> str:
    """sha256 over the VAE's config.json and weight file (each hashed once and cached)."""
    from ..janus.load import fingerprint

    return fingerprint(folder, [folder / w for w in WEIGHTS if (folder / w).is_file()])


def scale_factor(folder: Path) -> int:
    """Pixels per latent side (8 for SDXL's four-level VAE), from its config alone."""
    from ..janus.processor import _read_json

    return 2 ** (len(_read_json(folder / "config.json").get("block_out_channels", [0] * 4)) - 1)


def load_vae(folder: Path, device: str | torch.device, dtype: torch.dtype) -> Any:
    cls = autoencoder_class()
    safetensors = (folder / WEIGHTS[0]).is_file()
    try:
        vae = cls.from_pretrained(
            str(folder), torch_dtype=dtype, use_safetensors=safetensors, low_cpu_mem_usage=False
        )
    except Exception as exc:
        raise UserError(
            f"JanusFlow VAE: cannot load {folder} as a diffusers AutoencoderKL "
            f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''})"
        ) from None
    return vae.to(device).eval().requires_grad_(False)


@torch.inference_mode()
def decode(vae: Any, z: Tensor) -> Tensor:
    """Latents [B, 4, L, L] -> [B, H, W, 3] uint8, as upstream's README saves them."""
    x = vae.decode(z.to(vae.dtype) / vae.config.scaling_factor).sample
    x = x.float().clamp(-1.0, 1.0) * 0.5 + 0.5
    return (x * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
