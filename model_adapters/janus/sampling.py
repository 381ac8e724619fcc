"""What one image draws, as pure tensor functions: its random stream, counter-based Gumbel
noise, CFG, top-k/top-p truncation, the draw, request checks and upstream's unconditional prompt.

Seeds belong to images: the noise is a pure function of (stream key, step, code), the key a
64-bit hash of (seed, request id, k), mixed with exact int64 ops (32-bit xorshift-multiply,
constants below 2**31), so tokens do not depend on batch size, position or shard. Uniforms carry
23 bits, capping the noise at about 16.6 (exceeded with probability 6e-8 per code and step).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from janus_eval.types import UserError

MASK32 = 0xFFFFFFFF
_MIX = 0x45D9F3B  # < 2**31


@dataclass(frozen=True)
class Stream:
    """One image to make: which prompt, its random stream and its sampling parameters."""

    prompt: int
    key: int  # 64-bit
    cfg_weight: float = 5.0
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None


def stream_key(seed: int, request_id: str, k: int) -> int:
    digest = hashlib.sha256(f"janus-eval/image\x1f{seed}\x1f{request_id}\x1f{k}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def mix32(x: Tensor) -> Tensor:
    """A 32-bit integer hash on int64 tensors holding values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * _MIX) & MASK32
    x = x ^ (x >> 16)
    x = (x * _MIX) & MASK32
    return x ^ (x >> 16)


def stream_base(key_lo: Tensor, key_hi: Tensor, code_hash: Tensor) -> Tensor:
    """[N, V] per-(stream, code) hashes; fixed for a chunk, so a step mixes in only its index."""
    return mix32(mix32(code_hash[None, :] ^ key_lo[:, None]) ^ key_hi[:, None])


def gumbel_from_base(base: Tensor, step: Tensor) -> Tensor:
    """[N, V] float32 Gumbel(0, 1) noise at `step` (0-dim int64). u = (m + 0.5) / 2**23 is exact
    in float32 and strictly inside (0, 1) (24 bits would round the top value to 1.0)."""
    s = mix32((step * 0x2545F491 + 0x3C6EF372) & MASK32)
    u = ((mix32(base ^ s) >> 9).float() + 0.5) * (1.0 / 8388608.0)
    return -torch.log(-torch.log(u))


def gumbel_noise(key_lo: Tensor, key_hi: Tensor, step: Tensor, code_hash: Tensor) -> Tensor:
    """The noise of streams (key_lo, key_hi) at `step`: a pure function of (key, step, code)."""
    return gumbel_from_base(stream_base(key_lo, key_hi, code_hash), step)


def code_hashes(n: int, device) -> Tensor:
    return mix32(torch.arange(n, dtype=torch.int64, device=device) + 0x1B873593)


def split_keys(keys: Sequence[int], device) -> tuple[Tensor, Tensor]:
    lo = torch.tensor([k & MASK32 for k in keys], dtype=torch.int64, device=device)
    hi = torch.tensor([(k >> 32) & MASK32 for k in keys], dtype=torch.int64, device=device)
    return lo, hi


def truncate(z: Tensor, top_k: Tensor | None, top_p: Tensor | None) -> Tensor:
    """-inf outside each row's top-k (0: all), then top-p (1: all) set, as transformers orders them:
    top-p keeps each code whose preceding mass is below p (at least one). Ties at a cutoff are all
    kept (sort order never matters); both cutoffs become one threshold per row, from one sort."""
    if top_k is None and top_p is None:
        return z
    v = z.shape[-1]
    ranked = z.sort(-1, descending=True).values
    cut = ranked[:, -1:]  # keep everything
    if top_k is not None:
        k = torch.where(top_k > 0, top_k, torch.full_like(top_k, v)).clamp(max=v)
        cut = ranked.gather(-1, (k - 1)[:, None])
        ranked = ranked.masked_fill(ranked < cut, float("-inf"))
    if top_p is not None:
        probs = ranked.softmax(-1)
        before = F.pad(probs.cumsum(-1)[:, :-1], (1, 0))  # mass of the more probable codes
        n_keep = (before < top_p[:, None]).sum(-1, keepdim=True).clamp(min=1)
        n_keep = torch.where(top_p[:, None] >= 1, torch.full_like(n_keep, v), n_keep)
        cut = torch.maximum(cut, ranked.gather(-1, n_keep - 1))
    return z.masked_fill(z < cut, float("-inf"))


def draw(logits_c: Tensor, logits_u: Tensor, params: dict[str, Tensor], step: Tensor) -> Tensor:
    """CFG-combine, temper, truncate and draw one code per image (all on the device)."""
    z = logits_u + params["cfg"][:, None] * (logits_c - logits_u)
    z = z * params["inv_temp"][:, None]
    z = truncate(z, params.get("top_k"), params.get("top_p"))
    g = gumbel_from_base(params["noise_base"], step)
    return torch.where(params["greedy"][:, None], z, z + g).argmax(-1)


def stream_params(streams: Sequence[Stream], code_hash: Tensor) -> dict[str, Tensor]:
    """Per-image device tensors for `draw`; top_k / top_p only when some image uses them."""
    lo, hi = split_keys([s.key for s in streams], code_hash.device)

    def column(values: list, dtype: torch.dtype = torch.float32) -> Tensor:
        return torch.tensor(values, dtype=dtype, device=code_hash.device)

    params = {
        "noise_base": stream_base(lo, hi, code_hash),
        "cfg": column([s.cfg_weight for s in streams]),
        "inv_temp": column([1.0 / s.temperature if s.temperature > 0 else 1.0 for s in streams]),
        "greedy": column([s.temperature == 0 for s in streams], torch.bool),
    }
    if any(s.top_k for s in streams):
        params["top_k"] = column([s.top_k or 0 for s in streams], torch.int64)
    if any(s.top_p is not None and s.top_p < 1 for s in streams):
        params["top_p"] = column([1.0 if s.top_p is None else s.top_p for s in streams])
    return params


def validate(streams: Sequence[Stream]) -> None:
    for s in streams:
        if s.cfg_weight < 0:
            raise UserError(
                f"cfg_weight {s.cfg_weight} < 0; classifier-free guidance needs a weight >= 0 (default 5)"
            )
        if s.temperature < 0:
            raise UserError(
                f"temperature {s.temperature} < 0; use 0 for argmax, 1 for upstream's sampling"
            )
        if s.top_k is not None and s.top_k < 0:
            raise UserError(f"top_k {s.top_k} < 0; use None or 0 to sample from all codes")
        if s.top_p is not None and not 0 < s.top_p <= 1:
            raise UserError(f"top_p {s.top_p} is not in (0, 1]")


def uncond_ids(ids: list[int], pad: int) -> list[int]:
    """Upstream's unconditional prompt: the first and last tokens kept, the rest padding."""
    return [ids[0], *[pad] * (len(ids) - 2), ids[-1]] if len(ids) > 2 else list(ids)
