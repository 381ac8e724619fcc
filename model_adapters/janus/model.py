"""The whole Janus model: one LLaMA decoder between two visual pathways.

Understanding: SigLIP features -> aligner MLP -> LLM input embeddings at the image placeholder
positions -> LLM -> lm_head. Generation: VQ code ids -> gen_embed (16384 x 8) -> gen_aligner MLP
-> LLM -> gen_head (MLP to 16384 code logits); finished code grids go through the VQ decoder.
Module names match the original checkpoint's, minus its `language_model.model.` and
`vision_model.vision_tower.` prefixes and with q/k/v and gate/up fused.
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


class JanusModel(nn.Module):
    def __init__(self, c: JanusConfig) -> None:
        super().__init__()
        self.config = c
        d = c.llm.dim
        self.llm = Transformer(c.llm)
        self.vision = VisionTower(c.vision)
        self.aligner = MlpProjector(c.vision.width, d, c.aligner_depth)
        self.gen_embed = nn.Embedding(c.vq.codebook_size, c.vq.embed_dim)
        self.gen_aligner = MlpProjector(c.vq.embed_dim, d, c.gen_aligner_depth)
        self.gen_head = GenHead(d, c.gen_head_dim, c.vq.codebook_size)
        self.vq = VQModel(c.vq)

    @property
    def dtype(self) -> torch.dtype:
        return self.llm.embed_tokens.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.llm.embed_tokens.weight.device

    def keep(self, parts: str, *, vq_encoder: bool = True) -> JanusModel:
        """parts="generation" drops what image generation never runs (vision tower, aligner,
        lm_head, VQ encoder): 1.5 GB less at 7B, which is what fits it in 24 GB with 16 images.
        vq_encoder=False drops only the VQ encoder (and its quant_conv), which no inference
        path runs: for checkpoints that ship without it. Call before weights are allocated
        (on the meta device)."""
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

    def text_embeddings(
        self, ids: Tensor, image_mask: Tensor | None = None, image_embeds: Tensor | None = None
    ) -> Tensor:
        """Token embeddings with image features written over the placeholder positions
        (in order: image 0's tokens first), as upstream's prepare_inputs_embeds does."""
        x = self.llm.embed_tokens(ids)
        if image_embeds is not None and image_mask is not None and image_mask.any():
            x = x.masked_scatter(image_mask[..., None], image_embeds.to(x.dtype))
        return x

    def gen_embeddings(self, codes: Tensor) -> Tensor:
        return self.gen_aligner(self.gen_embed(codes))

    def decode_images(self, codes: Tensor) -> Tensor:
        """[B, gen_tokens] -> [B, 3, H, W] in the VQ model's own dtype."""
        vq_dtype = self.vq.post_quant_conv.weight.dtype
        with torch.autocast(self.device.type, enabled=False):
            return self.vq.decode_codes(codes, self.config.gen_grid).to(vq_dtype)


def vq_dtype_for(dtype: torch.dtype) -> torch.dtype:
    """The VQ decoder runs in fp32 when the model does, else in bf16: upstream's decoder was
    written for bf16 (its Upsample cast to bf16 whenever the input was not fp32, so an fp16
    decoder breaks there), and that is the precision its published images come from."""
    return torch.float32 if dtype == torch.float32 else torch.bfloat16
