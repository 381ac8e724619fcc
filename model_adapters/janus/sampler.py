"""The CFG image-token sampler: static KV cache, one deduplicated prefill, a fixed-shape decode
step replayed 576 times (as CUDA graphs on a GPU), and counter-based noise.

Layout. A chunk of N images keeps 2N cache rows: rows [0, N) conditional, [N, 2N) unconditional
(the prompt with every token but the first and the final `<begin_of_image>` replaced by the pad
id, as upstream). Prompts are left-padded to the chunk's longest; each row's RoPE positions start
at its first real token and padding is masked out. The prefill runs once per distinct
(prompt, cond/uncond) row and fans its keys/values out to every image of that prompt.

Step. Embed the last code (gen_embed -> gen_aligner), run the LLM on 2N rows of one token, take
gen_head logits in float32, combine `u + w * (c - u)` per image, divide by the temperature,
optionally keep only the top-k / top-p set, and draw with Gumbel-max: argmax(z + g). Slot,
step counter and last codes live in device tensors that the step itself advances, so a replay
needs no host write and no host read: the loop is `graph.replay()` 575 times.

Seeds belong to images. g for image k of a request is a pure function of
(stream key, step, code), where the stream key is a 64-bit hash of (seed, request id, k) and g
is computed with integer tensor ops (three rounds of a 32-bit xorshift-multiply mix; every
constant is below 2**31 so products stay exact in int64). Tokens therefore do not depend on the
batch size, the position in the batch or the shard. Uniforms carry 23 bits (u in
[2**-24, 1 - 2**-24], exact in float32), so the noise is capped at about 16.6: a code's noise
would exceed that with probability 6e-8 per (code, step), and even then the draw changes only
if that code would otherwise have won.

On a GPU each KV-length bucket (64 slots) gets its own captured graph (attention reads only the
filled part of the cache, rounded up), sharing one memory pool; with `compile=True` the step is
first fused by torch.compile (the graphs are captured by hand, not by mode="reduce-overhead").
On a CPU the same step runs eagerly with the exact KV length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from janus_eval.types import UserError

from .llm import causal_mask, positions
from .model import JanusModel

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
    """[N, V] float32 Gumbel(0, 1) noise at `step` (0-dim int64 tensor).

    Uniforms take 23 bits, u = (m + 0.5) / 2**23 with m < 2**23: exact in float32 and strictly
    inside (0, 1). (24 bits would round the top value to 1.0, i.e. infinite noise.)"""
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
    """Logits outside each row's top-k (k = 0: all) and top-p (p = 1: all) set become -inf.

    top-k keeps the k largest logits; top-p then keeps, of what top-k left (renormalised, as
    transformers applies TopK before TopP), the smallest most-probable set whose mass reaches p:
    every code whose preceding mass is below p, so the code that crosses p stays (and one code
    always does). Ties at either cutoff are all kept, so the result never depends on how a sort
    orders equal logits (transformers keeps top-k ties too; its top-p keeps whichever of the tied
    codes its sort puts first). Both become one threshold per row (the smallest kept logit),
    from one sort."""
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
    device = code_hash.device
    lo, hi = split_keys([s.key for s in streams], device)
    f32 = dict(dtype=torch.float32, device=device)
    params = {
        "noise_base": stream_base(lo, hi, code_hash),
        "cfg": torch.tensor([s.cfg_weight for s in streams], **f32),
        "inv_temp": torch.tensor(
            [1.0 / s.temperature if s.temperature > 0 else 1.0 for s in streams], **f32
        ),
        "greedy": torch.tensor(
            [s.temperature == 0 for s in streams], dtype=torch.bool, device=device
        ),
    }
    if any(s.top_k for s in streams):
        params["top_k"] = torch.tensor(
            [s.top_k or 0 for s in streams], dtype=torch.int64, device=device
        )
    if any(s.top_p is not None and s.top_p < 1 for s in streams):
        params["top_p"] = torch.tensor(
            [s.top_p if s.top_p is not None else 1.0 for s in streams], **f32
        )
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


# ---------------------------------------------------------------------------------------------
# Memory


def bytes_per_image(model: JanusModel, prompt_len: int, gen_tokens: int) -> int:
    """Device bytes one image (two cache rows) needs while sampling, generously counted: its KV
    cache, the step's logits and noise ([V] float32 and int64 temporaries) and its share of the
    prefill activations."""
    c = model.config.llm
    elem = torch.finfo(model.dtype).bits // 8
    slots = cache_slots(prompt_len, gen_tokens)
    kv = 2 * 2 * c.n_layers * c.n_kv_heads * c.head_dim * slots * elem
    step = 2 * model.config.vq.codebook_size * (4 * 3 + 8 * 4)
    prefill = (
        2 * prompt_len * (c.ffn_dim * 3 + c.dim * 6) * elem + 2 * c.n_heads * prompt_len**2 * 4
    )
    return kv + step + prefill


def available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def cache_slots(prompt_len: int, gen_tokens: int) -> int:
    """KV slots a chunk needs: the prompt and every code but the last (its keys are never
    read), rounded up to 16."""
    return _round_up(prompt_len + gen_tokens - 1, 16)


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


# ---------------------------------------------------------------------------------------------
# The sampler


class CFGSampler:
    """Makes image code grids for `Stream`s. Reuse one instance: graphs and the cache persist
    across calls with the same (images per chunk, cache length)."""

    def __init__(
        self,
        model: JanusModel,
        pad_id: int,
        *,
        cuda_graphs: bool | None = None,
        compile: bool | None = None,
        bucket: int = 64,
        fixed_shapes: bool = False,
        rehearse: bool = False,
    ) -> None:
        """fixed_shapes / rehearse make an eager (CPU) run take the GPU path's bucketed KV
        lengths and warm-up steps, so tests cover what the CUDA graphs replay."""
        self.model = model
        self.pad_id = pad_id
        cuda = model.device.type == "cuda"
        self.cuda_graphs = cuda if cuda_graphs is None else bool(cuda_graphs and cuda)
        self.compile = cuda if compile is None else bool(compile)
        self.bucket = bucket
        self.fixed_shapes = fixed_shapes
        self.rehearse = rehearse
        self.code_hash = code_hashes(model.config.vq.codebook_size, model.device)
        self._graphs: dict[tuple, dict[int, torch.cuda.CUDAGraph]] = {}
        self._pool = None
        self._state: dict[str, Tensor] = {}
        self._shape: tuple | None = None
        self._caches = None
        self._active: tuple[str, ...] = ()
        self._core = self._compiled_core() if self.compile else self._core_eager
        #: Set to {} to have generate() record per-phase seconds (adds device syncs).
        self.timings: dict[str, float] | None = None
        self._last: float | None = None

    # ---- public ------------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[list[int]],
        streams: Sequence[Stream],
        rows: int | None = None,
        n_tokens: int | None = None,
    ) -> Tensor:
        """[len(streams), n_tokens] codes (CPU int64). `rows`: images per chunk (default:
        as many as fit in memory); more than fit raises a UserError before any work.
        `n_tokens` (default: a whole image, 576 at 384 px) is for benchmarks' shorter runs."""
        validate(streams)
        n_tok = n_tokens or self.model.config.num_gen_tokens
        if not 1 <= n_tok <= self.model.config.num_gen_tokens:
            raise UserError(f"n_tokens {n_tok}: expected 1..{self.model.config.num_gen_tokens}")
        if not streams:
            return torch.zeros(0, n_tok, dtype=torch.long)
        longest = max(len(prompts[s.prompt]) for s in streams)
        free = available_bytes(self.model.device) + self._held_bytes()
        per_image = bytes_per_image(self.model, longest, n_tok)
        fit = int(free * 0.8 // per_image)
        if rows is not None and rows > fit:
            raise UserError(
                f"{rows} images per batch need about {rows * per_image / 2**30:.1f} GiB for the "
                f"KV cache and sampling buffers, but only {free / 2**30:.1f} GiB is free on "
                f"{self.model.device}; at most {fit} fit (lower --model-option rows_per_batch, "
                f"or leave it unset)"
            )
        if fit < 1:
            raise UserError(
                f"not even one image fits in the free memory of {self.model.device} "
                f"({free / 2**30:.2f} GiB free, about {per_image / 2**30:.2f} GiB needed)"
            )
        chunk = min(rows or fit, len(streams))
        if self.cuda_graphs and rows is None:  # fewer distinct shapes: fewer graph captures
            chunk = min(fit, _round_up(chunk, 8))
        out = []
        try:
            for i in range(0, len(streams), chunk):
                out.append(self._run(prompts, list(streams[i : i + chunk]), chunk, n_tok).cpu())
        finally:  # the caches stay ours (graphs point into them) but leave the model clean
            self.model.llm.use_cache(None)
        return torch.cat(out)

    # ---- one chunk ---------------------------------------------------------------------------

    @torch.inference_mode()
    def _run(
        self, prompts: Sequence[list[int]], streams: list[Stream], width: int, n_tok: int
    ) -> Tensor:
        model, dev = self.model, self.model.device
        self._mark(None)
        n_real = len(streams)
        if self.cuda_graphs:  # fixed image count, so graphs are reused across chunks
            streams = streams + [streams[-1]] * (width - n_real)
        n = len(streams)
        used = sorted({s.prompt for s in streams})
        unique = [prompts[p] for p in used] + [uncond_ids(prompts[p], self.pad_id) for p in used]
        ids, valid = _left_pad(unique, self.pad_id)
        t0 = ids.shape[1]
        where = {p: i for i, p in enumerate(used)}
        row_src = [where[s.prompt] for s in streams] + [
            len(used) + where[s.prompt] for s in streams
        ]
        slots = self._ensure(n, cache_slots(t0, model.config.num_gen_tokens))
        self._mark("setup")
        st = self._state
        ids, valid = ids.to(dev), valid.to(dev)
        row_map = torch.tensor(row_src, device=dev)
        st["pad_len"].copy_((~valid).sum(1)[row_map])
        params = stream_params(streams, self.code_hash)
        self._active = tuple(sorted(params))
        neutral = {
            "top_k": torch.zeros(n, dtype=torch.int64, device=dev),
            "top_p": torch.ones(n, dtype=torch.float32, device=dev),
        }
        for key, value in {**neutral, **params}.items():
            # in place, never replaced: captured graphs hold these addresses
            st.setdefault("p_" + key, torch.empty_like(value)).copy_(value)
        st["codes"].zero_()

        # prefill: distinct rows only, fanned out to all 2N cache rows
        llm = model.llm
        h = llm(
            llm.embed_tokens(ids),
            positions(valid),
            causal_mask(valid),
            slots=torch.arange(t0, device=dev),
            cache_rows=row_map,
        )
        logits = model.gen_head(h[:, -1]).float()[row_map]
        step0 = torch.zeros((), dtype=torch.int64, device=dev)
        first = draw(logits[:n], logits[n:], self._params(), step0)
        st["codes"][:, 0] = first
        st["tok"].copy_(first)
        st["slot"].fill_(t0)
        st["step"].fill_(1)
        graphs = self._graphs_for(n, slots) if self.cuda_graphs else None
        if self.rehearse and graphs is None:  # the GPU warm-up, run eagerly (for tests)
            self._rehearse(self._buckets(slots))
        self._mark("prefill")
        fixed = graphs is not None or self.fixed_shapes
        for t in range(1, n_tok):
            kv_len = min(_round_up(t0 + t, self.bucket), slots) if fixed else t0 + t
            if graphs is not None:
                graphs[kv_len].replay()
            else:
                self._step(kv_len)
        self._mark("decode")
        return st["codes"][:n_real, :n_tok].clone()

    def _mark(self, phase: str | None) -> None:
        """With `timings` set (benchmarks only: it synchronises), add the seconds since the
        last mark to `timings[phase]` (phase None: just start the clock)."""
        if self.timings is None:
            return
        import time

        if self.model.device.type == "cuda":
            torch.cuda.synchronize(self.model.device)
        now = time.perf_counter()
        if phase is not None and self._last is not None:
            self.timings[phase] = self.timings.get(phase, 0.0) + now - self._last
        self._last = now

    def _held_bytes(self) -> int:
        """Bytes of the cache and state this sampler already holds (free again for a new call)."""
        tensors = [t for c in self._caches or [] for t in (c.k, c.v)] + list(self._state.values())
        return sum(t.numel() * t.element_size() for t in tensors)

    def _params(self) -> dict[str, Tensor]:
        """The draw's inputs this chunk uses (top_k / top_p left out when no image asks)."""
        return {k: self._state["p_" + k] for k in self._active}

    def _buckets(self, slots: int) -> list[int]:
        """The KV lengths decode steps attend over: multiples of `bucket`, the last = slots."""
        return sorted({min(e, slots) for e in range(self.bucket, slots + self.bucket, self.bucket)})

    def _ensure(self, n: int, need: int) -> int:
        """Install a cache of 2n rows and at least `need` slots; returns its slot count. The
        cache only grows, so graphs captured for it stay valid for shorter prompts."""
        if self._shape is not None and self._shape[0] == n and self._shape[1] >= need:
            self.model.llm.use_cache(self._caches)
            return self._shape[1]
        slots = (
            max(need, self._shape[1]) if self._shape is not None and self._shape[0] == n else need
        )
        dev = self.model.device
        self._graphs.clear()  # they point into the buffers about to be freed
        self._pool = None
        self._caches = None
        self.model.llm.drop_cache()
        self._caches = self.model.llm.setup_cache(2 * n, slots)
        i64 = dict(dtype=torch.int64, device=dev)
        self._state = {
            "tok": torch.zeros(n, **i64),
            "slot": torch.zeros((), **i64),
            "step": torch.zeros((), **i64),
            "pad_len": torch.zeros(2 * n, **i64),
            "arange": torch.arange(slots, **i64),
            "codes": torch.zeros(n, self.model.config.num_gen_tokens, **i64),
        }
        self._shape = (n, slots)
        return slots

    # ---- the step ----------------------------------------------------------------------------

    def _core_eager(self, tok, slot, pad_len, arange, step, params, kv_len: int):
        """Logits for the next code of every image, then the draw: pure tensor work."""
        model = self.model
        emb = model.gen_embeddings(tok)
        x = torch.cat([emb, emb])[:, None]
        keys = arange[:kv_len]
        mask = (keys[None] >= pad_len[:, None]) & (keys[None] <= slot)
        h = model.llm(
            x, (slot - pad_len)[:, None], mask[:, None, None], slots=slot.view(1), kv_len=kv_len
        )
        logits = model.gen_head(h[:, 0]).float()
        n = tok.shape[0]
        return draw(logits[:n], logits[n:], params, step)

    def _compiled_core(self):
        return torch.compile(self._core_eager, fullgraph=True, dynamic=None)

    def _step(self, kv_len: int) -> None:
        st = self._state
        nxt = self._core(
            st["tok"], st["slot"], st["pad_len"], st["arange"], st["step"], self._params(), kv_len
        )
        st["codes"].index_copy_(1, st["step"].view(1), nxt[:, None])
        st["tok"].copy_(nxt)
        st["slot"].add_(1)
        st["step"].add_(1)

    def _graphs_for(self, n: int, slots: int) -> dict[int, torch.cuda.CUDAGraph]:
        key = (n, slots, tuple(sorted(self._params())))
        if key in self._graphs:
            return self._graphs[key]
        ends = self._buckets(slots)
        graphs: dict[int, torch.cuda.CUDAGraph] = {}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up (and compile) outside capture
            saved = self._rehearse(ends)
        torch.cuda.current_stream().wait_stream(side)
        for kv_len in ends:
            self._park(saved)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, pool=self._pool):
                self._step(kv_len)
            self._pool = g.pool()
            graphs[kv_len] = g
        self._restore(saved)  # capture runs no kernels, but _park wrote to the state
        self._graphs[key] = graphs
        return graphs

    def _rehearse(self, ends: list[int]) -> dict[str, Tensor]:
        """Run one warm-up step per KV bucket (compiling, autotuning) without disturbing the
        chunk in progress: state is saved first and restored after. Returns what was saved."""
        st = self._state
        saved = {k: st[k].clone() for k in ("tok", "slot", "step", "codes")}
        for kv_len in ends:
            self._park(saved)
            self._step(kv_len)
        self._restore(saved)
        return saved

    def _restore(self, saved: dict[str, Tensor]) -> None:
        for k, v in saved.items():
            self._state[k].copy_(v)

    def _park(self, saved: dict[str, Tensor]) -> None:
        """State for warm-up steps: write into the last cache slot, which the real run writes
        before it ever reads it, and leave the codes buffer to be restored."""
        st = self._state
        st["slot"].fill_(st["arange"].shape[0] - 1)
        st["step"].fill_(st["codes"].shape[1] - 1)
        st["tok"].copy_(saved["tok"])


def _left_pad(rows: list[list[int]], pad: int) -> tuple[Tensor, Tensor]:
    from .processor import left_pad

    return left_pad(rows, pad)
