"""The whole JanusFlow model: Janus's LLaMA decoder between two continuous visual pathways.

Understanding: SigLIP features -> one Linear (`und_aligner`) -> LLM input embeddings. Unlike
Janus, the `<begin_of_image>` token of every image is an image position too: its embedding is
the learned `beg_of_und_embed`, so an image contributes 1 + 576 embeddings.

Generation (rectified flow, see flow.py): latents -> ShallowUViT encoder -> Linear
(`gen_enc_aligner`) -> LLM tokens after the prompt and t_emb; the LLM's last states -> RMSNorm ->
Linear (`gen_dec_aligner`) -> ShallowUViT decoder (with the encoder's features as skip) ->
velocity. The SDXL VAE that turns latents into pixels is not part of the checkpoint (vae.py).

Parameter names, and the checkpoint's (load.py maps them):

| ours | original |
|---|---|
| `llm.*` | `language_model.*` (as Janus, q/k/v and gate/up fused) |
| `vision.*` | `vision_und_enc_model.vision_tower.*` (timm names) |
| `und_aligner`, `beg_of_und_embed` | `vision_und_enc_aligner`, `beg_of_und_embed` |
| `gen_enc.*`, `gen_enc_aligner` | `vision_gen_enc_model.*`, `vision_gen_enc_aligner` |
| `gen_dec.*`, `gen_dec_norm`, `gen_dec_aligner` | `vision_gen_dec_model.*`, `vision_gen_dec_aligner_norm`, `vision_gen_dec_aligner` |
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..janus.llm import RMSNorm
from ..janus.model import VisionLLM
from .config import JanusFlowConfig
from .uvit import GenDecoder, GenEncoder


class JanusFlowModel(VisionLLM):
    def __init__(self, c: JanusFlowConfig) -> None:
        super().__init__(c)
        d = c.llm.dim
        self.und_aligner = nn.Linear(c.vision.width, d)
        self.beg_of_und_embed = nn.Parameter(torch.zeros(1, d))
        self.gen_enc = GenEncoder(c.encoder)
        self.gen_enc_aligner = nn.Linear(c.encoder.channels, d)
        self.gen_dec = GenDecoder(c.decoder)
        self.gen_dec_norm = RMSNorm(d, c.llm.norm_eps)
        self.gen_dec_aligner = nn.Linear(d, c.decoder.in_channels)

    def image_features(self, pixels: Tensor) -> Tensor:
        """[N, 3, S, S] -> [N, 1 + num_tokens, dim]: `beg_of_und_embed` (for `<begin_of_image>`)
        then the aligned SigLIP features, as upstream's prepare_inputs_embeds."""
        feats = self.und_aligner(self.vision(pixels))
        begin = self.beg_of_und_embed.to(feats.dtype).expand(feats.shape[0], 1, -1)
        return torch.cat([begin, feats], dim=1)

    def encode_latents(self, z: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Latents [B, C, L, L] at timesteps [B] -> (LLM tokens [B, g*g, dim] in row-major
        order, the encoder's features [B, C', g, g] for the decoder's skip, t_emb [B, dim])."""
        feats, t_emb = self.gen_enc(z, t)
        return self.gen_enc_aligner(feats.flatten(2).transpose(1, 2)), feats, t_emb

    def velocity(self, states: Tensor, feats: Tensor, t_emb: Tensor) -> Tensor:
        """The LLM's final states at the latent tokens [B, g*g, dim] -> velocity [B, C, L, L]."""
        b, g = states.shape[0], feats.shape[-1]
        h = self.gen_dec_aligner(self.gen_dec_norm(states))
        return self.gen_dec(h.view(b, g, g, -1).permute(0, 3, 1, 2), feats, t_emb)
