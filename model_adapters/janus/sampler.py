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

Seeds belong to images: the noise is a pure function of (seed, request id, image, step, code),
so tokens do not depend on batching (sampling.py, where the draw and its parts live).

On a GPU each KV-length bucket (64 slots) gets its own captured graph (attention reads only the
filled part of the cache, rounded up), sharing one memory pool; with `compile=True` the step is
first fused by torch.compile (the graphs are captured by hand, not by mode="reduce-overhead"),
compiled once: the KV length reaches it as a dynamic tensor length, not a specialised int.
On a CPU the same step runs eagerly with the exact KV length (compiled with `compile=True`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from janus_eval.types import UserError

from .llm import causal_mask, decode_keys, decode_mask, positions
from .model import JanusModel
from .sampling import (  # noqa: F401  (re-exported: sampler.py held them all once)
    MASK32,
    Stream,
    code_hashes,
    draw,
    gumbel_from_base,
    gumbel_noise,
    mix32,
    split_keys,
    stream_base,
    stream_key,
    stream_params,
    truncate,
    uncond_ids,
    validate,
)

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

    def _core_eager(self, tok, slot, pad_len, keys, step, params):
        """Logits for the next code of every image, then the draw: pure tensor work. `keys`
        (the attended cache slots) carries the KV length."""
        model = self.model
        emb = model.gen_embeddings(tok)
        x = torch.cat([emb, emb])[:, None]
        mask = decode_mask(keys, pad_len, slot)
        h = model.llm(x, (slot - pad_len)[:, None], mask, slots=slot.view(1), kv_len=keys.shape[0])
        logits = model.gen_head(h[:, 0]).float()
        n = tok.shape[0]
        return draw(logits[:n], logits[n:], params, step)

    def _compiled_core(self):
        return torch.compile(self._core_eager, fullgraph=True, dynamic=None)

    def _step(self, kv_len: int) -> None:
        st = self._state
        keys = decode_keys(st["arange"], kv_len, self.compile)
        nxt = self._core(st["tok"], st["slot"], st["pad_len"], keys, st["step"], self._params())
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
