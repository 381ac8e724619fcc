"""Janus dimensions: one set of dataclasses that the model, loader, processor and decoders see.

Which checkpoint layout they came from is `layouts.configs`' business (it reads and writes both).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LLMConfig:
    """The LLaMA decoder (Janus-1.3B's numbers by default)."""

    vocab_size: int = 102400
    dim: int = 2048
    n_layers: int = 24
    n_heads: int = 16
    n_kv_heads: int = 16  # fewer than n_heads: grouped-query attention
    ffn_dim: int = 5632  # the SwiGLU hidden width
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
    layers: int = 24  # transformer blocks, all used (select_layer -1)
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


class GenGrid:
    """What Janus and JanusFlow derive alike from their `vision` config and `gen_grid`."""

    @property
    def image_size(self) -> int:
        """Native side of an understanding input (384)."""
        return self.vision.image_size

    @property
    def num_gen_tokens(self) -> int:
        """LLM tokens one generated image takes: gen_grid x gen_grid (576 at 384 px)."""
        return self.gen_grid**2


@dataclass(frozen=True)
class JanusConfig(GenGrid):
    llm: LLMConfig = field(default_factory=LLMConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    vq: VQConfig = field(default_factory=VQConfig)
    aligner_depth: int = 2
    gen_aligner_depth: int = 2
    gen_head_dim: int = 2048  # the generation head's hidden width (`image_token_embed` upstream)
    layout: str = "original"  # or "hf": which checkpoint layout this was read from

    @property
    def gen_grid(self) -> int:
        """Generated images are gen_grid x gen_grid VQ codes at the understanding side (24)."""
        return self.image_size // self.vq.downsample
