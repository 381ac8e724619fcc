"""janusflow-tiny: the real JanusFlow architecture at toy sizes, with deterministic random weights.

Written on first use in the original deepseek-ai layout, with janus-tiny's tokenizer and
processor files (Janus's special tokens at their real ids; 32 px understanding images, 16
SigLIP tokens). Generation runs on 4 x 8 x 8 latents (16 LLM tokens after the 2x2 strided
encoder conv) and decodes them with a tiny random SDXL-shaped VAE (four levels, 8x upsampling:
64 px images), written beside it on first use because writing it needs diffusers.

Dims: LLM and SigLIP as janus-tiny (2 layers, width 64, vocab 102400; SigLIP 2 layers, width
64, patch 8); UViT encoder 4 -> 32 channels (kernel 2, stride 2), 2 ConvNeXt blocks; decoder
32 + 32 channels, 2 ConvNeXt blocks, one 2x pixel-shuffle step back to 4 channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..janus.tiny import LLM, SEED, VISION, _dump, export_state, write_processor_files
from ..janus.tinykit import random_weights, write_once

TINY_VERSION = 1
VAE_LABEL = f"janusflow-tiny-vae-v{TINY_VERSION}"
IMAGE_SIZE = 32
LATENT_SIZE = 8
ENCODER = dict(
    input_channels=4,
    stride=2,
    kernel_size=2,
    padding=0,
    block_out_channels=[32],
    layers_in_middle=2,
    hidden_size=LLM["hidden_size"],
    norm_eps=1e-5,
    use_bias=True,
    use_mid_block=True,
    latent_size=LATENT_SIZE,
)
DECODER = dict(
    in_channels=32,
    out_channels=4,
    block_out_channels=[32],
    upsamples=1,
    layers_in_middle=2,
    hidden_size=LLM["hidden_size"],
    norm_eps=1e-5,
    use_bias=True,
    use_mid_block=True,
)
#: diffusers AutoencoderKL config: SDXL's VAE (scaling factor included) at toy widths.
VAE = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [8, 8, 16, 16],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": LATENT_SIZE * 8,
    "scaling_factor": 0.13025,
    "force_upcast": True,
}


def default_path() -> Path:
    from janus_eval.cache import cache_dir

    return cache_dir() / f"janusflow-tiny-v{TINY_VERSION}"


def ensure_tiny_checkpoint(path: Path | None = None) -> Path:
    """The tiny checkpoint directory, written (atomically) if it is not there yet."""
    return write_once(Path(path) if path is not None else default_path(), _write)


def ensure_tiny_vae(path: Path | None = None) -> Path:
    """The tiny VAE directory (diffusers layout), written (atomically) if it is not there yet."""
    path = Path(path) if path is not None else default_path().with_name(VAE_LABEL)
    return write_once(path, _write_vae, marker="diffusion_pytorch_model.safetensors")


def config_json() -> dict[str, Any]:
    return {
        "model_type": "multi_modality",
        "architectures": ["MultiModalityCausalLM"],
        "language_config": {"model_type": "llama", "torch_dtype": "float32", **LLM},
        "vision_und_enc_config": {
            "cls": "CLIPVisionTower",
            "model_type": "vision_und_enc",
            "params": {
                "image_size": IMAGE_SIZE,
                "model_name": "siglip_janusflow_tiny",
                "select_feature": "same",
                "select_layer": -1,
                **VISION,
            },
        },
        "vision_gen_enc_config": {
            "cls": "ShallowUViTEncoder",
            "model_type": "vision_gen_enc",
            "params": ENCODER,
        },
        "vision_gen_dec_config": {
            "cls": "ShallowUViTDecoder",
            "model_type": "vision_gen_dec",
            "params": DECODER,
        },
        "torch_dtype": "float32",
    }


def random_state(model) -> dict[str, Any]:
    """janus-tiny's weight rule; the timestep MLP is fan-in scaled, not an embedding table."""

    def is_table(name: str) -> bool:
        return "embed" in name and "patch" not in name and "time_embed" not in name

    return random_weights(model, SEED, is_table)


def _write(root: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from .config import read_config
    from .load import sources
    from .model import JanusFlowModel

    _dump(root / "config.json", config_json())
    cfg = read_config(root)
    with torch.device("meta"):
        model = JanusFlowModel(cfg)
    tensors = export_state(random_state(model), cfg, "original", sources)
    save_file(tensors, str(root / "model.safetensors"), metadata={"format": "pt"})
    # JanusFlow's README roles (User/Assistant), stated as a checkpoint states them
    write_processor_files(root, "original", sft_format="deepseek_old", chat_template=None)


def _write_vae(root: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from .vae import autoencoder_class

    with torch.device("meta"):
        vae = autoencoder_class().from_config(VAE)
    tensors = random_weights(vae, SEED + 1)
    save_file(tensors, str(root / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    _dump(root / "config.json", VAE)
