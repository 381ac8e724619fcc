"""LlamaGen's VQ-16 image tokenizer as Janus uses it: 16384 l2-normalised codes of dimension 8
and a 16x down/up-sampling conv net, with upstream's `vq_model.py` names. Upstream's upsample
casts to bf16 unless the input is fp32; nearest upsampling copies values, so running it in the
input dtype is bit-identical for both (load.vq_dtype_for: fp32 for fp32 models, else bf16).
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


class Resample(nn.Module):
    """2x: nearest upsampling then a conv, or a stride-2 conv of the bottom/right-padded input."""

    def __init__(self, ch: int, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv = nn.Conv2d(ch, ch, 3, stride=1 if up else 2, padding=1 if up else 0)

    def forward(self, x: Tensor) -> Tensor:
        if self.up:
            return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
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
    """One resolution: `n` ResnetBlocks (+ AttnBlocks at the lowest), then upstream's resampler."""

    def __init__(self, cin: int, cout: int, n: int, attn: bool, resample: str | None) -> None:
        super().__init__()
        self.res = nn.ModuleList(ResnetBlock(cin if j == 0 else cout, cout) for j in range(n))
        self.attn = nn.ModuleList(AttnBlock(cout) for _ in range(n if attn else 0))
        self.resample = resample
        if resample is not None:
            self.add_module(resample, Resample(cout, up=resample == "upsample"))

    def forward(self, x: Tensor) -> Tensor:
        for i, block in enumerate(self.res):
            x = block(x)
            if len(self.attn):
                x = self.attn[i](x)
        return getattr(self, self.resample)(x) if self.resample else x


class _ConvNet(nn.Module):
    """Both halves run conv_in, their two stages in `order`, then norm, swish and conv_out."""

    order: tuple[str, str]

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(x)
        for stage in self.order:
            for module in getattr(self, stage):
                h = module(h)
        return self.conv_out(_swish(self.norm_out(h)))


class Encoder(_ConvNet):
    order = ("conv_blocks", "mid")

    def __init__(self, c: VQConfig) -> None:
        super().__init__()
        top = c.ch * c.encoder_ch_mult[-1]
        self.conv_in = nn.Conv2d(3, c.ch, 3, padding=1)
        self.conv_blocks = _levels(c, (1, *c.encoder_ch_mult), c.num_res_blocks, "downsample")
        self.mid = _mid(top)
        self.norm_out = _norm(top)
        self.conv_out = nn.Conv2d(top, c.z_channels, 3, padding=1)


class Decoder(_ConvNet):
    order = ("mid", "conv_blocks")

    def __init__(self, c: VQConfig) -> None:
        super().__init__()
        mult = c.decoder_ch_mult[::-1]
        self.conv_in = nn.Conv2d(c.z_channels, c.ch * mult[0], 3, padding=1)
        self.mid = _mid(c.ch * mult[0])
        self.conv_blocks = _levels(c, (mult[0], *mult), c.num_res_blocks + 1, "upsample")
        self.norm_out = _norm(c.ch * mult[-1])
        self.conv_out = nn.Conv2d(c.ch * mult[-1], 3, 3, padding=1)


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
