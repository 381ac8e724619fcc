"""The whole Janus model: one LLaMA decoder between two visual pathways.

Understanding: SigLIP -> aligner MLP -> LLM (image placeholders) -> lm_head. Generation: VQ codes
-> gen_embed -> gen_aligner -> LLM -> gen_head (code logits); code grids -> VQ decoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import JanusConfig
from .llm import Transformer
from .siglip import MlpProjector, VisionTower
from .vq import VQModel


class GenHead(nn.Module):
    def __init__(self, dim: int, hidden: int, codes: int) -> None:
        super().__init__()
        self.output_mlp_projector = nn.Linear(dim, hidden)
        self.vision_head = nn.Linear(hidden, codes)

    def forward(self, h: Tensor) -> Tensor:
        return self.vision_head(F.gelu(self.output_mlp_projector(h)))


class VisionLLM(nn.Module):
    """What Janus and JanusFlow share: LLM, SigLIP tower, image features in token embeddings."""

    def __init__(self, c) -> None:
        super().__init__()
        self.config = c
        self.llm = Transformer(c.llm)
        self.vision = VisionTower(c.vision)

    @property
    def dtype(self) -> torch.dtype:
        return self.llm.embed_tokens.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.llm.embed_tokens.weight.device

    def text_embeddings(
        self, ids: Tensor, image_mask: Tensor | None = None, image_embeds: Tensor | None = None
    ) -> Tensor:
        """Token embeddings with image features written over the placeholder positions
        (in order: image 0's tokens first), as upstream's prepare_inputs_embeds does."""
        x = self.llm.embed_tokens(ids)
        if image_embeds is not None and image_mask is not None and image_mask.any():
            x = x.masked_scatter(image_mask[..., None], image_embeds.to(x.dtype))
        return x


class JanusModel(VisionLLM):
    def __init__(self, c: JanusConfig) -> None:
        super().__init__(c)
        d = c.llm.dim
        self.aligner = MlpProjector(c.vision.width, d, c.aligner_depth)
        self.gen_embed = nn.Embedding(c.vq.codebook_size, c.vq.embed_dim)
        self.gen_aligner = MlpProjector(c.vq.embed_dim, d, c.gen_aligner_depth)
        self.gen_head = GenHead(d, c.gen_head_dim, c.vq.codebook_size)
        self.vq = VQModel(c.vq)

    def keep(self, parts: str, *, vq_encoder: bool = True) -> JanusModel:
        """Drop, on the meta device, what never runs: parts="generation" the understanding path
        and the VQ encoder (1.5 GB at 7B: 16 images then fit in 24 GB); vq_encoder=False only
        the VQ encoder and its quant_conv (for checkpoints that ship without them)."""
        if parts == "generation":
            self.vision = self.aligner = None
            self.llm.lm_head = None
        elif parts != "all":
            raise ValueError(f"parts must be 'all' or 'generation', not {parts!r}")
        if parts == "generation" or not vq_encoder:
            self.vq.encoder = self.vq.quant_conv = None
        return self

    def image_features(self, pixels: Tensor) -> Tensor:
        """[N, 3, S, S] -> [N, num_tokens, dim] LLM input embeddings for N images."""
        return self.aligner(self.vision(pixels))

    def gen_embeddings(self, codes: Tensor) -> Tensor:
        return self.gen_aligner(self.gen_embed(codes))

    def decode_images(self, codes: Tensor) -> Tensor:
        """[B, gen_tokens] -> [B, 3, H, W] in the VQ model's own dtype."""
        vq_dtype = self.vq.post_quant_conv.weight.dtype
        with torch.autocast(self.device.type, enabled=False):
            return self.vq.decode_codes(codes, self.config.gen_grid).to(vq_dtype)
