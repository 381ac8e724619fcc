"""LlamaGen's VQ-16 image tokenizer as Janus uses it: 16384 l2-normalised codes of dimension 8,
a 16x down/up-sampling conv net (GroupNorm-32, swish, one attention block per resolution at the
bottom). Names follow upstream's `vq_model.py` so the original checkpoint loads by prefix.

Quirk kept from upstream: the decoder's nearest-neighbour upsample was written to run in float32
and cast to bfloat16, so upstream decodes in bf16 or fp32 only; nearest upsampling copies values,
so doing it in the input dtype is bit-identical for both. The adapter decodes in bf16 on GPU
(fp16 is not offered for the VQ model) and fp32 on CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import VQConfig


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, ch, eps=1e-6, affine=True)


def _swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1 = _norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        h = self.conv2(_swish(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.norm = _norm(ch)
        self.q, self.k, self.v = (nn.Conv2d(ch, ch, 1) for _ in range(3))
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (m(y).reshape(b, 1, c, h * w).transpose(-1, -2) for m in (self.q, self.k, self.v))
        y = F.scaled_dot_product_attention(q, k, v)  # single head, scale c**-0.5 as upstream
        return x + self.proj_out(y.transpose(-1, -2).reshape(b, c, h, w))


class Upsample(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Downsample(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


def _mid(ch: int) -> nn.ModuleList:
    return nn.ModuleList([ResnetBlock(ch, ch), AttnBlock(ch), ResnetBlock(ch, ch)])


def _levels(c: VQConfig, mult: tuple[int, ...], n_res: int, resample: str) -> nn.ModuleList:
    """One `Level` per resolution from `mult[0]` to `mult[-1]`; attention at the low end."""
    n = len(mult) - 1
    low = n - 1 if resample == "downsample" else 0
    return nn.ModuleList(
        Level(c.ch * mult[i], c.ch * mult[i + 1], n_res, i == low, resample if i != n - 1 else None)
        for i in range(n)
    )


class Level(nn.Module):
    """One resolution: `n` ResnetBlocks (each followed by an AttnBlock at the lowest one), then
    an optional resampler under upstream's name (`downsample` or `upsample`)."""

    def __init__(self, cin: int, cout: int, n: int, attn: bool, resample: str | None) -> None:
        super().__init__()
        self.res = nn.ModuleList(ResnetBlock(cin if j == 0 else cout, cout) for j in range(n))
        self.attn = nn.ModuleList(AttnBlock(cout) for _ in range(n if attn else 0))
        self.resample = resample
        if resample is not None:
            self.add_module(resample, (Downsample if resample == "downsample" else Upsample)(cout))

    def forward(self, x: Tensor) -> Tensor:
        for i, block in enumerate(self.res):
            x = block(x)
            if len(self.attn):
                x = self.attn[i](x)
        return getattr(self, self.resample)(x) if self.resample else x


class Encoder(nn.Module):
    def __init__(self, c: VQConfig) -> None:
        super().__init__()
        top = c.ch * c.encoder_ch_mult[-1]
        self.conv_in = nn.Conv2d(3, c.ch, 3, padding=1)
        self.conv_blocks = _levels(c, (1, *c.encoder_ch_mult), c.num_res_blocks, "downsample")
        self.mid = _mid(top)
        self.norm_out = _norm(top)
        self.conv_out = nn.Conv2d(top, c.z_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for level in self.conv_blocks:
            h = level(h)
        for block in self.mid:
            h = block(h)
        return self.conv_out(_swish(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, c: VQConfig) -> None:
        super().__init__()
        mult = c.decoder_ch_mult[::-1]
        self.conv_in = nn.Conv2d(c.z_channels, c.ch * mult[0], 3, padding=1)
        self.mid = _mid(c.ch * mult[0])
        self.conv_blocks = _levels(c, (mult[0], *mult), c.num_res_blocks + 1, "upsample")
        self.norm_out = _norm(c.ch * mult[-1])
        self.conv_out = nn.Conv2d(c.ch * mult[-1], 3, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.conv_in(z)
        for block in self.mid:
            h = block(h)
        for level in self.conv_blocks:
            h = level(h)
        return self.conv_out(_swish(self.norm_out(h)))


class Quantizer(nn.Module):
    def __init__(self, c: VQConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(c.codebook_size, c.embed_dim)

    def codebook(self) -> Tensor:
        return F.normalize(self.embedding.weight, p=2, dim=-1)

    def lookup(self, codes: Tensor, grid: int) -> Tensor:
        """[B, grid*grid] codes -> [B, embed_dim, grid, grid] l2-normalised code vectors."""
        z = self.codebook()[codes]
        return z.view(codes.shape[0], grid, grid, -1).permute(0, 3, 1, 2).contiguous()

    def quantize(self, z: Tensor) -> Tensor:
        """[B, embed_dim, h, w] latents -> [B, h*w] nearest codes (cosine, as upstream)."""
        zf = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]), p=2, dim=-1)
        e = self.codebook()
        d = (zf**2).sum(1, keepdim=True) + (e**2).sum(1) - 2 * zf @ e.T
        return d.argmin(1).view(z.shape[0], -1)


class VQModel(nn.Module):
    def __init__(self, c: VQConfig) -> None:
        super().__init__()
        self.config = c
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.quantize = Quantizer(c)
        self.quant_conv = nn.Conv2d(c.z_channels, c.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(c.embed_dim, c.z_channels, 1)

    def decode_codes(self, codes: Tensor, grid: int) -> Tensor:
        """[B, grid*grid] codes -> [B, 3, H, W] pixels in about [-1, 1]."""
        return self.decoder(self.post_quant_conv(self.quantize.lookup(codes, grid)))

    def encode(self, pixels: Tensor) -> Tensor:
        """[B, 3, H, W] pixels in [-1, 1] -> [B, h*w] codes."""
        if self.encoder is None or self.quant_conv is None:
            raise RuntimeError(
                "this VQ model has no encoder: its checkpoint holds none, or it was loaded "
                "with parts=generation (inference never encodes images)"
            )
        return self.quantize.quantize(self.quant_conv(self.encoder(pixels)))


def to_uint8(pixels: Tensor) -> Tensor:
    """[B, 3, H, W] decoder output -> [B, H, W, 3] uint8, exactly as upstream:
    clip((x + 1) / 2 * 255, 0, 255) in float32, then truncated (numpy assignment into uint8)."""
    x = ((pixels.float() + 1) / 2 * 255).clamp(0, 255)
    return x.to(torch.uint8).permute(0, 2, 3, 1)
