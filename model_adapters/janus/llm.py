"""The LLaMA decoder Janus is built on, written like gpt-fast's model.py.

One forward serves prefill and decode: `slots` (cache slots written, shared by every row),
`rope_pos` (per row: left-padded rows count from their first real token), `mask` and `kv_len`
(slots attended). With `cache_rows` a prefill of a few distinct rows fills many cache rows (16
images of one prompt share one prefill). Numerics follow transformers' LlamaModel (float32
RMSNorm and RoPE), so logits agree with it to float32 rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import LLMConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = x.float()
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


class KVCache(nn.Module):
    """Keys and values of `rows` x `max_len` slots, written in place; a spare slot keeps
    `k[:, :, :kv_len]` a strict view, so a compiled step does not recompile at kv_len = max_len."""

    def __init__(self, rows: int, heads: int, max_len: int, head_dim: int, dtype, device) -> None:
        super().__init__()
        shape = (rows, heads, max_len + 1, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def update(self, slots: Tensor, k: Tensor, v: Tensor, rows: Tensor | None = None) -> None:
        if rows is not None:  # many cache rows share one computed row (prefill fan-out)
            k, v = k.index_select(0, rows), v.index_select(0, rows)
        self.k.index_copy_(2, slots, k)
        self.v.index_copy_(2, slots, v)


def rope_cos_sin(pos: Tensor, head_dim: int, theta: float, dtype) -> tuple[Tensor, Tensor]:
    """cos/sin for positions `pos` ([B, T]), as transformers' LlamaRotaryEmbedding computes them."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=pos.device).float() / head_dim))
    freqs = pos.float()[..., None] * inv
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]  # [B, 1, T, D]


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, c: LLMConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = c.n_heads, c.n_kv_heads, c.head_dim
        self.qkv_sizes = [c.n_heads * c.head_dim] + [c.n_kv_heads * c.head_dim] * 2
        self.qkv_proj = nn.Linear(c.dim, sum(self.qkv_sizes), bias=False)  # fused at load
        self.o_proj = nn.Linear(c.n_heads * c.head_dim, c.dim, bias=False)
        self.kv_cache: KVCache | None = None

    def forward(self, x, cos, sin, slots, mask, kv_len, cache_rows=None) -> Tensor:
        b, t, _ = x.shape
        q, k, v = self.qkv_proj(x).split(self.qkv_sizes, -1)
        q, k, v = (y.view(b, t, -1, self.head_dim).transpose(1, 2) for y in (q, k, v))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.kv_cache is not None:
            self.kv_cache.update(slots, k, v, cache_rows)
            if cache_rows is None:  # decode: attend over the cache itself
                k, v = self.kv_cache.k[:, :, :kv_len], self.kv_cache.v[:, :, :kv_len]
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, enable_gqa=self.n_kv != self.n_heads
        )
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, c: LLMConfig) -> None:
        super().__init__()
        self.ffn_dim = c.ffn_dim
        self.gate_up_proj = nn.Linear(c.dim, 2 * c.ffn_dim, bias=False)  # gate, up (fused)
        self.down_proj = nn.Linear(c.ffn_dim, c.dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up_proj(x).split(self.ffn_dim, -1)
        return self.down_proj(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, c: LLMConfig) -> None:
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.dim, c.norm_eps)
        self.post_attention_layernorm = RMSNorm(c.dim, c.norm_eps)

    def forward(self, x, cos, sin, slots, mask, kv_len, cache_rows=None) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, slots, mask, kv_len, cache_rows)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    def __init__(self, c: LLMConfig) -> None:
        super().__init__()
        self.config = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.dim)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.dim, c.norm_eps)
        self.lm_head = nn.Linear(c.dim, c.vocab_size, bias=False)

    def setup_cache(self, rows: int, max_len: int) -> list[KVCache]:
        """A static cache for `rows` sequences of `max_len` slots (install it with use_cache)."""
        c, p = self.config, self.embed_tokens.weight
        return [
            KVCache(rows, c.n_kv_heads, max_len, c.head_dim, p.dtype, p.device) for _ in self.layers
        ]

    def use_cache(self, caches: list[KVCache] | None) -> None:
        """Install caches made by setup_cache (None: none)."""
        for i, layer in enumerate(self.layers):
            layer.self_attn.kv_cache = None if caches is None else caches[i]

    def forward(
        self,
        x: Tensor,
        rope_pos: Tensor,
        mask: Tensor,
        slots: Tensor | None = None,
        kv_len: int | None = None,
        cache_rows: Tensor | None = None,
    ) -> Tensor:
        """Final-normed hidden states for embeddings `x` [B, T, dim]; `mask` is bool [B, 1, T, S]
        (True = may attend), S = T without a cache or when prefilling, else kv_len."""
        c = self.config
        cos, sin = rope_cos_sin(rope_pos, c.head_dim, c.rope_theta, x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin, slots, mask, kv_len, cache_rows)
        return self.norm(x)


def causal_mask(valid: Tensor) -> Tensor:
    """[B, 1, T, T] causal mask over the real tokens of left-padded rows (`valid` [B, T]); a
    padding query sees itself, so no softmax row is empty (its output is never used)."""
    t = valid.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=valid.device).tril()
    mask = causal[None] & valid[:, None, :]
    return (mask | torch.eye(t, dtype=torch.bool, device=valid.device))[:, None]


def positions(valid: Tensor) -> Tensor:
    """RoPE positions counted from each row's first real token (transformers' cumsum rule)."""
    return (valid.long().cumsum(-1) - 1).clamp_min(0)


def decode_keys(arange: Tensor, kv_len: int, compiled: bool) -> Tensor:
    """The slots a decode step attends over, `arange[:kv_len]`, marked dynamic when compiled: one
    graph serves every KV length (an int would recompile per length, then fall back to eager)."""
    keys = arange[:kv_len]
    if compiled:
        torch._dynamo.maybe_mark_dynamic(keys, 0)
    return keys


def decode_mask(keys: Tensor, pad_len: Tensor, slot: Tensor) -> Tensor:
    """[B, 1, 1, S] mask of one new token per row at `slot`: its real slots up to its own."""
    return ((keys[None] >= pad_len[:, None]) & (keys[None] <= slot))[:, None, None]
