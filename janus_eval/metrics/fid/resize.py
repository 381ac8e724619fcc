"""clean-fid's "clean" resize (quirk 3 of the package docstring): PIL bicubic per channel in
float to 299x299, and the same computation as batched tensor ops, equal to PIL bit for bit."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from janus_eval.types import UserError

CLEAN_SIZE = 299


def pil_clean_resize(arr: np.ndarray) -> np.ndarray:
    """clean-fid's resize: per channel, PIL bicubic in float mode to 299x299 (float32 HxWx3)."""
    from PIL import Image

    def channel(x: np.ndarray) -> np.ndarray:
        img = Image.fromarray(x.astype(np.float32))
        img = img.resize((CLEAN_SIZE, CLEAN_SIZE), resample=Image.BICUBIC)
        return np.asarray(img).clip(0, 255).reshape(CLEAN_SIZE, CLEAN_SIZE, 1)

    return np.concatenate([channel(arr[:, :, c]) for c in range(3)], axis=2).astype(np.float32)


def _bicubic(x: float) -> float:
    # Pillow's bicubic_filter (a = -0.5), same operations in the same order.
    if x < 0.0:
        x = -x
    if x < 1.0:
        return (1.5 * x - 2.5) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * -0.5
    return 0.0


@functools.lru_cache(maxsize=64)
def _coefficients(in_size: int, out_size: int) -> tuple[Any, Any]:
    """Pillow's `precompute_coeffs` for bicubic: per output pixel, the first input index and the
    normalised weights; returned as (index (out, ksize), weight (out, ksize)) with zero weights
    (and a clamped index) past each pixel's support."""
    import torch

    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    inv = 1.0 / filterscale
    index = np.zeros((out_size, ksize), dtype=np.int64)
    weight = np.zeros((out_size, ksize), dtype=np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ws = [_bicubic((x + xmin - center + 0.5) * inv) for x in range(xmax)]
        ww = 0.0
        for w in ws:
            ww += w
        for x, w in enumerate(ws):
            weight[xx, x] = w / ww if ww != 0.0 else w
        index[xx, :] = np.minimum(np.arange(ksize) + xmin, in_size - 1)
    return torch.from_numpy(index), torch.from_numpy(weight)


def _resample(x: Any, dim: int) -> Any:
    """One Pillow pass along `dim` (-1: horizontal, -2: vertical) to 299: double products summed
    in tap order, rounded to float32 (Pillow's ImagingResample{Horizontal,Vertical}_32bpc)."""
    import torch

    index, weight = _coefficients(x.shape[dim], CLEAN_SIZE)
    index, weight = index.to(x.device), weight.to(x.device)
    if dim == -2:
        weight = weight[:, None, :]  # (out, 1, ksize): broadcast over the width
    xd = x.double()
    shape = list(x.shape)
    shape[dim] = CLEAN_SIZE
    acc = torch.zeros(shape, dtype=torch.float64, device=x.device)
    for t in range(index.shape[1]):
        acc = acc + xd.index_select(dim, index[:, t]) * weight[..., t]
    return acc.float()


def _vertical_first(height: int, width: int, rule: str) -> bool:
    """Pillow's pass order. Pillow 13 (see ImagingResampleInner) runs the vertical pass first
    when the height shrinks more than twice as much as the width; older Pillow always ran the
    horizontal pass first. The order changes float32 roundings, so it is part of "exact"."""
    if rule == "horizontal":
        return False
    shrink_h, shrink_w = height - CLEAN_SIZE, width - CLEAN_SIZE
    return shrink_h > 0 and shrink_h > shrink_w * 2


def _passes(x: Any, rule: str) -> Any:
    dims = (-2, -1) if _vertical_first(x.shape[-2], x.shape[-1], rule) else (-1, -2)
    for dim in dims:  # a pass only when its side changes (Pillow's need_horizontal/vertical)
        if x.shape[dim] != CLEAN_SIZE:
            x = _resample(x, dim)
    return x.clamp(0, 255).contiguous()


@functools.lru_cache(maxsize=1)
def pillow_pass_rule() -> str | None:
    """Which pass-order rule the installed Pillow follows ("cost" or "horizontal"), found by
    resizing one probe image with PIL and comparing bit for bit; None when neither matches (then
    the torch resize is not exact here and is not used)."""
    import torch

    probe = np.random.RandomState(0).randint(0, 256, size=(320, 48, 3)).astype(np.uint8)
    want = pil_clean_resize(probe)
    x = torch.from_numpy(probe).permute(2, 0, 1)[None].float()
    for rule in ("cost", "horizontal"):
        got = _passes(x, rule)[0].permute(1, 2, 0).numpy()
        if np.array_equal(got, want):
            return rule
    return None


def torch_clean_resize(x: Any) -> Any:
    """(B, 3, H, W) uint8/float tensor -> (B, 3, 299, 299) float32, equal to `pil_clean_resize`
    bit for bit (with the installed Pillow's pass order)."""
    rule = pillow_pass_rule()
    if rule is None:
        raise RuntimeError(
            "the torch clean resize does not reproduce this Pillow; use resize='pil'"
        )
    return _passes(x.float(), rule)


def resolve_resize(resize: str, device: str) -> str:
    """ "auto": the exact torch resize on CUDA (the decode workers then only decode), PIL in the
    workers on CPU, where PIL is faster. Either gives the same bits."""
    if resize not in ("auto", "torch", "pil"):
        raise UserError(f"resize={resize!r}: choose 'auto' (default), 'torch' or 'pil'")
    if resize == "auto":
        resize = "torch" if device.startswith("cuda") else "pil"
    if resize == "torch" and pillow_pass_rule() is None:
        warnings.warn(
            "torch resize does not match this Pillow bit for bit; using PIL", stacklevel=3
        )
        resize = "pil"
    return resize
