"""Loading a JanusFlow checkpoint (original layout) straight onto the target device and dtype.

Everything but the name mapping is Janus's loader (`janus/load.py`): a local directory or hub
name, safetensors first, `.bin` only through `torch.load(weights_only=True)`, never remote
code; all problems reported in one UserError before anything is copied; no float32 copy of a
bf16 checkpoint in host memory. SigLIP's unused `attn_pool.*` head is skipped as for Janus.
"""

from __future__ import annotations

from pathlib import Path

import torch

from janus_eval.types import UserError

from ..janus.layouts import original_sources
from ..janus.load import DTYPES, fill_weights, resolve
from .config import JanusFlowConfig, read_config
from .model import JanusFlowModel

#: Our top-level module -> the original checkpoint's prefix (`llm` follows Janus's rule).
PREFIXES = {
    "vision": "vision_und_enc_model.vision_tower",
    "und_aligner": "vision_und_enc_aligner",
    "beg_of_und_embed": "beg_of_und_embed",
    "gen_enc": "vision_gen_enc_model",
    "gen_enc_aligner": "vision_gen_enc_aligner",
    "gen_dec": "vision_gen_dec_model",
    "gen_dec_norm": "vision_gen_dec_aligner_norm",
    "gen_dec_aligner": "vision_gen_dec_aligner",
}


def sources(name: str) -> list[str]:
    """Our parameter name -> the original checkpoint's tensor name(s) (fused weights: parts)."""
    head, _, rest = name.partition(".")
    if head == "llm":
        return original_sources(name)
    return [PREFIXES[head] + ("." + rest if rest else "")]


def build_empty(cfg: JanusFlowConfig, device: str | torch.device, dtype: torch.dtype):
    """The model with uninitialised storage on `device` in `dtype` (built on the meta device)."""
    with torch.device("meta"):
        model = JanusFlowModel(cfg)
    return model.to(dtype).to_empty(device=device).eval().requires_grad_(False)


def load_model(
    model_path: str | Path, device: str = "cpu", dtype: str = "fp32"
) -> tuple[JanusFlowModel, Path]:
    if dtype not in DTYPES:
        raise UserError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
    ckpt = resolve(model_path, what="janusflow checkpoint")
    cfg = read_config(ckpt)
    model = fill_weights(
        ckpt, "original", lambda _: (build_empty(cfg, device, DTYPES[dtype]), set()), sources
    )
    return model, ckpt
