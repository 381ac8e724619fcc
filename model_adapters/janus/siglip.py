"""The understanding encoder: SigLIP-L/16 at 384 px (timm's VisionTransformer without its head,
as upstream's `select_layer=-1, ignore_head=True`: the final LayerNorm of every patch), with
timm's parameter names, and the GELU MLP projector that maps features into the LLM.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import VisionConfig


class PatchEmbed(nn.Module):
    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, c.width, kernel_size=c.patch_size, stride=c.patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        self.heads = c.heads
        self.qkv = nn.Linear(c.width, 3 * c.width)
        self.proj = nn.Linear(c.width, c.width)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        hidden = int(c.width * c.mlp_ratio)
        self.fc1 = nn.Linear(c.width, hidden)
        self.fc2 = nn.Linear(hidden, c.width)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(c.width, eps=c.norm_eps)
        self.attn = Attention(c)
        self.norm2 = nn.LayerNorm(c.width, eps=c.norm_eps)
        self.mlp = Mlp(c)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTower(nn.Module):
    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        self.config = c
        self.patch_embed = PatchEmbed(c)
        self.pos_embed = nn.Parameter(torch.zeros(1, c.num_tokens, c.width))
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.width, eps=c.norm_eps)

    def forward(self, pixels: Tensor) -> Tensor:
        """[B, 3, S, S] normalised pixels -> [B, num_tokens, width] features."""
        x = self.patch_embed(pixels.to(self.pos_embed.dtype)) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class MlpProjector(nn.Module):
    """Upstream's `mlp_gelu`: Linear, (GELU, Linear) x (depth - 1), indexed as its nn.Sequential."""

    def __init__(self, in_dim: int, out_dim: int, depth: int) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
        for _ in range(1, depth):
            mods += [nn.GELU(), nn.Linear(out_dim, out_dim)]
        self.layers = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
