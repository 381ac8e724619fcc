"""Upstream's ShallowUViT encoder and decoder: the adapters between SDXL-VAE latents and the LLM.

Encoder (latents -> LLM tokens): the timestep t in [0, 1000) becomes a sinusoidal feature
(diffusers' `Timesteps(C, flip_sin_to_cos=True, downscale_freq_shift=0)`: cos half first) and
then `t_emb` through Linear, SiLU, Linear (diffusers' `TimestepEmbedding`); the latent goes
through a strided conv to C channels and `layers_in_middle` ConvNeXt blocks, each modulated by
t_emb (scale and shift). `t_emb` itself is also an LLM input token.

Decoder (LLM states -> velocity): RMSNorm over channels, concatenation with the encoder's
features (the U-Net skip), ConvNeXt blocks, then 2x upsampling steps of RMSNorm, a 1x1 conv and
a pixel shuffle.

ConvNeXt block: depthwise 7x7 conv, RMSNorm (LLaMA's: float32 statistics), Linear to 4C, exact
GELU, Global Response Norm (ConvNeXt-V2), Linear back, residual; then `x * (1 + scale) + shift`
from Linear(SiLU(t_emb)). Parameter names are upstream's, so the checkpoint loads by prefix.
Dropout (0 in every config) is left out: inference only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..janus.llm import RMSNorm
from .config import GenDecoderConfig, GenEncoderConfig, UViTConfig


def timestep_features(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """[B] timesteps -> [B, dim] float32, diffusers' get_timestep_embedding with
    flip_sin_to_cos=True, downscale_freq_shift=0 (same operations, same order)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device)
    freqs = torch.exp(exponent / half)
    args = t[:, None].float() * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, hidden: int, bias: bool) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(dim, hidden, bias=bias)
        self.linear_2 = nn.Linear(hidden, hidden, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's GRN over [B, H, W, C]: x * (1 + weight * n) + bias, n the spatial L2 norm
    of each channel divided by its mean over channels."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: Tensor) -> Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return torch.addcmul(self.bias, self.weight * nx + 1, x, value=1)


class ConvNextBlock(nn.Module):
    def __init__(self, channels: int, hidden: int, eps: float, bias: bool) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            channels, channels, kernel_size=7, padding=3, groups=channels, bias=bias
        )
        self.norm = RMSNorm(channels, eps)
        self.channelwise_linear_1 = nn.Linear(channels, 4 * channels, bias=bias)
        self.channelwise_norm = GlobalResponseNorm(4 * channels)
        self.channelwise_linear_2 = nn.Linear(4 * channels, channels, bias=bias)
        self.cond_embeds_mapper = nn.Linear(hidden, 2 * channels, bias=bias)

    def forward(self, x: Tensor, t_emb: Tensor) -> Tensor:
        h = self.norm(self.depthwise(x).permute(0, 2, 3, 1))
        h = self.channelwise_linear_2(self.channelwise_norm(F.gelu(self.channelwise_linear_1(h))))
        x = h.permute(0, 3, 1, 2) + x
        scale, shift = self.cond_embeds_mapper(F.silu(t_emb)).chunk(2, dim=1)
        return torch.addcmul(shift[:, :, None, None], x, (1 + scale)[:, :, None, None], value=1)


class MidBlock(nn.Module):
    """Upstream's UVitBlock without down- or upsampling (the only way the shallow UViT uses it)."""

    def __init__(self, channels: int, layers: int, hidden: int, eps: float, bias: bool) -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList(
            ConvNextBlock(channels, hidden, eps, bias) for _ in range(layers)
        )

    def forward(self, x: Tensor, t_emb: Tensor) -> Tensor:
        for block in self.res_blocks:
            x = block(x, t_emb)
        return x


def _mid_block(c: UViTConfig, channels: int) -> MidBlock | None:
    """Upstream builds no mid block when use_mid_block is false (layers_in_middle 0 here)."""
    if not c.layers_in_middle:
        return None
    return MidBlock(channels, c.layers_in_middle, c.hidden_size, c.norm_eps, c.use_bias)


def _channel_norm(norm: RMSNorm, x: Tensor) -> Tensor:
    """RMSNorm over the channels of an NCHW tensor."""
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Unpatchify(nn.Module):
    def __init__(self, cin: int, cout: int, patch: int, bias: bool, eps: float) -> None:
        super().__init__()
        self.norm = RMSNorm(cin, eps)
        self.unpatch_conv = nn.Conv2d(cin, cout * patch * patch, kernel_size=1, bias=bias)
        self.patch = patch

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(self.unpatch_conv(_channel_norm(self.norm, x)), self.patch)


class GenEncoder(nn.Module):
    def __init__(self, c: GenEncoderConfig) -> None:
        super().__init__()
        self.channels = c.channels
        self.time_embed = TimestepEmbedding(c.channels, c.hidden_size, c.use_bias)
        self.in_conv = nn.Conv2d(
            c.input_channels, c.channels, c.kernel_size, stride=c.stride, padding=c.padding
        )
        self.mid_block = _mid_block(c, c.channels)

    def forward(self, z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Latents [B, C, L, L] at timesteps t [B] -> (features [B, C', g, g], t_emb [B, D])."""
        feats = timestep_features(t.flatten(), self.channels).view(z.shape[0], -1)
        t_emb = self.time_embed(feats.to(z.dtype))
        x = self.in_conv(z)
        return (x if self.mid_block is None else self.mid_block(x, t_emb)), t_emb


class GenDecoder(nn.Module):
    def __init__(self, c: GenDecoderConfig) -> None:
        super().__init__()
        width = c.in_channels + c.channels
        self.input_norm = RMSNorm(c.in_channels, c.norm_eps)
        self.mid_block = _mid_block(c, width)
        self.out_convs = nn.ModuleList(
            Unpatchify(
                width if i == 0 else c.channels,
                c.out_channels if i == c.upsamples - 1 else c.channels,
                2,
                c.use_bias,
                c.norm_eps,
            )
            for i in range(c.upsamples)
        )

    def forward(self, x: Tensor, skip: Tensor, t_emb: Tensor) -> Tensor:
        """LLM states [B, C_in, g, g], encoder features, t_emb -> velocity [B, C, L, L]."""
        x = torch.cat([_channel_norm(self.input_norm, x), skip], dim=1)
        if self.mid_block is not None:
            x = self.mid_block(x, t_emb)
        for conv in self.out_convs:
            x = conv(x)
        return x
