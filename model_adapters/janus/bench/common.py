"""What `bench generate` and `bench understand` share: the benchmark sizes, a device sync, and
transformers' JanusConfig at our dims (for the baselines, written by layouts.hf_config)."""

from __future__ import annotations

from typing import Any

from janus_eval.types import UserError

from ..config import JanusConfig, LLMConfig

SIZES = ("tiny", "janus-1.3b", "janus-pro-7b")


def model_config(size: str) -> JanusConfig:
    """Janus dims for a benchmark size (the public checkpoints' configs; tiny = janus-tiny)."""
    from ..tiny import tiny_config

    if size == "tiny":
        return tiny_config()
    if size == "janus-1.3b":  # also Janus-Pro-1B
        return JanusConfig(
            llm=LLMConfig(dim=2048, n_layers=24, n_heads=16, n_kv_heads=16, ffn_dim=5632),
            gen_head_dim=2048,
        )
    if size == "janus-pro-7b":
        return JanusConfig(
            llm=LLMConfig(dim=4096, n_layers=30, n_heads=32, n_kv_heads=32, ffn_dim=11008),
            gen_head_dim=4096,
        )
    raise UserError(f"unknown size {size!r}; expected one of {', '.join(SIZES)}")


def sync(device: Any) -> None:
    """Wait for the device (a name or a torch.device); a no-op off CUDA."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hf_config(cfg: JanusConfig) -> Any:
    """transformers' JanusConfig with every dim of our JanusConfig `cfg`."""
    from transformers import JanusConfig as HFJanusConfig

    from ..layouts import hf_config as hf_config_json

    return HFJanusConfig.from_dict(hf_config_json(cfg))


def random_model(
    cfg: JanusConfig,
    device: str,
    dtype: str,
    fill,
    *,
    parts: str = "all",
    seed: int = 0,
    in_name_order: bool = False,
) -> Any:
    """A JanusModel built directly on `device` (no host copy), each parameter set in place by
    `fill(name, param, generator)` (walked in name order if asked)."""
    import torch

    from ..load import DTYPES, build_empty

    model = build_empty(cfg, device, DTYPES[dtype], parts)
    g = torch.Generator(device=device).manual_seed(seed)
    params = list(model.named_parameters())
    with torch.no_grad():
        for name, p in sorted(params) if in_name_order else params:
            fill(name, p, g)
    return model


def sig(x: float, digits: int = 3) -> float:
    """Round to significant digits, so tiny ratios (a toy model on a CPU) do not become 0.0."""
    return float(f"{x:.{digits}g}")
