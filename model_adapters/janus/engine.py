"""One static-cache decode engine under both of Janus's loops (greedy answers, CFG image codes).

As gpt-fast's generate.py: a static KV cache, a prefill, then a fixed-shape step, a pure `core`
(compiled with `compile=True`) and an in-place `advance` of device state (no host sync). CUDA
replays a graph per KV-length bucket; a CPU runs the step eagerly: CPU tests run what GPUs replay.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Hashable, Iterator

import torch
from torch import Tensor

from janus_eval.types import UserError

from .llm import causal_mask, decode_keys, decode_mask, positions
from .model import JanusModel

#: KV slots are allocated and attended over in multiples of this (one graph per bucket).
BUCKET = 64
#: What `--batch-size auto` plans for, as the adapter cannot see the task's prompts.
AUTO_TEXT_TOKENS = 384
AUTO_NEW_TOKENS = 128
AUTO_GEN_PROMPT_TOKENS = 128


def round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def decode_hidden(llm, x: Tensor, slot: Tensor, pad_len: Tensor, keys: Tensor) -> Tensor:
    """Hidden [B, dim] of each row's new token at `slot`; RoPE from the row's first real token."""
    mask = decode_mask(keys, pad_len, slot)
    return llm(x[:, None], (slot - pad_len)[:, None], mask, slot.view(1), keys.shape[0])[:, 0]


class DecodeEngine:
    """Cache, device state and (graphed) step of one model; subclasses give `inputs`, `advance`."""

    #: State tensors a warm-up step changes (saved before it, restored after).
    mutable: tuple[str, ...] = ("tok", "slot", "step", "out")

    def __init__(
        self, model, core: Callable[..., Tensor], *, cuda_graphs, compile: bool, bucket: int
    ) -> None:
        self.model = model
        cuda = model.device.type == "cuda"
        self.cuda_graphs = cuda if cuda_graphs is None else bool(cuda_graphs and cuda)
        self.compile = bool(compile)
        self.bucket = bucket
        self._core = torch.compile(core, fullgraph=True, dynamic=None) if self.compile else core
        self._graphs: dict[Hashable, dict[int, torch.cuda.CUDAGraph]] = {}
        self.release()

    def allocate(self, rows: int, slots: int, **state: Tensor) -> None:
        """A fresh cache of `rows` x `slots` and state (the old ones and their graphs go first)."""
        self.release()
        llm, dev = self.model.llm, self.model.device
        llm.use_cache(None)  # a cache left installed is freed before the new one is made
        self._caches = llm.setup_cache(rows, slots)
        self._state = {
            **state,
            "slot": self.int64(),
            "step": self.int64(),
            "arange": torch.arange(slots, dtype=torch.int64, device=dev),
        }
        self.rows, self.slots = rows, slots

    def int64(self, *shape: int, fill: int = 0) -> Tensor:
        """An int64 state tensor full of `fill` on the model's device."""
        return torch.full(shape, fill, dtype=torch.int64, device=self.model.device)

    def release(self) -> None:
        """Free the cache, the state and the graphs."""
        self._graphs.clear()
        self._pool = self._caches = None
        self._state: dict[str, Tensor] = {}
        self.rows = self.slots = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Our cache in the model's attention layers for the duration (none is left behind)."""
        self.model.llm.use_cache(self._caches)
        try:
            yield
        finally:
            self.model.llm.use_cache(None)

    def held_bytes(self) -> int:
        """Bytes of the cache and state held (free again for a new allocation)."""
        tensors = [t for c in self._caches or [] for t in (c.k, c.v)] + list(self._state.values())
        return sum(t.numel() * t.element_size() for t in tensors)

    def prefill_cache(self, x: Tensor, valid: Tensor, cache_rows: Tensor) -> Tensor:
        """Prompts into slots [0, T), cache row i from prompt cache_rows[i]; last hidden states."""
        slots = torch.arange(x.shape[1], device=x.device)
        h = self.model.llm(x, positions(valid), causal_mask(valid), slots, cache_rows=cache_rows)
        return h[:, -1]

    def start(self, first: Tensor, prompt_len: int) -> None:
        """Step 0's tokens `first` written; the next step writes slot `prompt_len`."""
        st = self._state
        st["out"][:, 0] = first
        st["tok"].copy_(first)
        st["slot"].fill_(prompt_len)
        st["step"].fill_(1)

    def inputs(self) -> tuple:
        """The core's arguments before `keys` (state tensors, parameters)."""
        raise NotImplementedError

    def advance(self, nxt: Tensor) -> None:
        """Write the step's tokens `nxt` into the state (in place: graphs hold the addresses)."""
        st = self._state
        st["out"].index_copy_(1, st["step"].view(1), nxt[:, None])
        st["tok"].copy_(nxt)
        st["slot"].add_(1)
        st["step"].add_(1)

    def step(self, kv_len: int) -> None:
        """One decode step attending over the first `kv_len` cache slots."""
        keys = decode_keys(self._state["arange"], kv_len, self.compile)
        self.advance(self._core(*self.inputs(), keys))

    def decode_n(self, steps: int, kv_len: Callable[[int], int], graphs=None, check_every=0) -> int:
        """Steps 1 .. steps-1 (`kv_len(t)` slots, from `graphs` if given); returns the steps run.
        With `check_every`, stop once every row is `done`, asked that often (each ask syncs)."""
        for t in range(1, steps):
            if check_every and (t - 1) % check_every == 0 and bool(self._state["done"].all()):
                return t - 1
            if graphs is not None:
                graphs[kv_len(t)].replay()
            else:
                self.step(kv_len(t))
        return max(steps - 1, 0)

    def buckets(self, slots: int) -> list[int]:
        """The KV lengths of the bucketed steps: multiples of `bucket`, the last = slots."""
        return sorted({min(e, slots) for e in range(self.bucket, slots + self.bucket, self.bucket)})

    def warm_up(self, kv_lens: list[int]) -> dict[str, Tensor]:
        """One step per KV length (compiling, autotuning) at the parked state; returns the state."""
        saved = {k: self._state[k].clone() for k in self.mutable}
        for kv_len in kv_lens:
            self._park(saved)
            self.step(kv_len)
        self._restore(saved)
        return saved

    def graphs(self, key: Hashable, kv_lens: list[int]) -> dict[int, torch.cuda.CUDAGraph]:
        """The step as a CUDA graph per KV length (kept under `key`), warmed up first, one pool."""
        if key in self._graphs:
            return self._graphs[key]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up (and compile) outside capture
            saved = self.warm_up(kv_lens)
        torch.cuda.current_stream().wait_stream(side)
        graphs = {}
        for kv_len in kv_lens:
            self._park(saved)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                self.step(kv_len)
            self._pool = graph.pool()
            graphs[kv_len] = graph
        self._restore(saved)  # capture runs no kernels, but _park wrote to the state
        self._graphs[key] = graphs
        return graphs

    def _park(self, saved: dict[str, Tensor]) -> None:
        self._restore(saved)
        st = self._state
        st["slot"].fill_(st["arange"].shape[0] - 1)
        st["step"].fill_(st["out"].shape[1] - 1)

    def _restore(self, saved: dict[str, Tensor]) -> None:
        for k, v in saved.items():
            self._state[k].copy_(v)


# ---------------------------------------------------------------------------------------------
# Memory planning


def available_bytes(device: torch.device) -> int:
    """Free memory of `device`: the CUDA allocator's view, else the host's MemAvailable."""
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
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def cache_slots(prompt_len: int, gen_tokens: int) -> int:
    """KV slots of an image chunk: prompt and codes but the last (never read), rounded to 16."""
    return round_up(prompt_len + gen_tokens - 1, 16)


def bytes_per_image(model, prompt_len: int, gen_tokens: int) -> int:
    """Device bytes per image (two cache rows), generously: KV, step temporaries, prefill share."""
    c = model.config.llm
    elem = torch.finfo(model.dtype).bits // 8
    slots = cache_slots(prompt_len, gen_tokens)
    kv = 2 * 2 * c.n_layers * c.n_kv_heads * c.head_dim * slots * elem
    step = 2 * model.config.vq.codebook_size * (4 * 3 + 8 * 4)
    prefill = 2 * prompt_len * (c.ffn_dim * 3 + c.dim * 6) * elem
    scores = 2 * c.n_heads * prompt_len**2 * 4
    return kv + step + prefill + scores


def bytes_per_row(
    model_config, elem_bytes: int, prompt_len: int, new_tokens: int, images: int = 1
) -> int:
    """Device bytes per question, generously: KV, a prefill layer, float32 norms, the [T, T] mask
    as bool and bias, its images' vision-tower activations and its logits."""
    c, v = model_config.llm, model_config.vision
    slots = round_up(prompt_len + new_tokens, BUCKET)
    kv = 2 * c.n_layers * c.n_kv_heads * c.head_dim * slots * elem_bytes
    t = prompt_len
    layer = t * (3 * c.ffn_dim + 8 * c.dim + 4 * c.n_kv_heads * c.head_dim) * elem_bytes
    norms = 2 * t * c.dim * 4
    mask = t * t * (1 + elem_bytes)
    vision = images * v.num_tokens * (int(v.width * v.mlp_ratio) * 2 + 8 * v.width) * elem_bytes
    return kv + layer + norms + mask + vision + c.vocab_size * 4


def rows_that_fit(free_bytes: int, need: int, fraction: float = 0.8) -> int:
    """Rows of `need` bytes in `fraction` of `free_bytes`: one rule for both decoders."""
    return int(max(free_bytes, 0) * fraction // need)


def images_per_chunk(model, held_bytes: int, prompt_len: int, n_tok: int, rows: int | None) -> int:
    """Images the CFG sampler can take at once (the cache it holds counts as free); a UserError
    before any work when `rows` asks for more or not even one fits."""
    free = available_bytes(model.device) + held_bytes
    per_image = bytes_per_image(model, prompt_len, n_tok)
    fit = rows_that_fit(free, per_image)
    if rows is not None and rows > fit:
        raise UserError(
            f"{rows} images per batch need about {rows * per_image / 2**30:.1f} GiB for the "
            f"KV cache and sampling buffers, but only {free / 2**30:.1f} GiB is free on "
            f"{model.device}; at most {fit} fit (lower --model-option rows_per_batch, "
            f"or leave it unset)"
        )
    if fit < 1:
        raise UserError(
            f"not even one image fits in the free memory of {model.device} "
            f"({free / 2**30:.2f} GiB free, about {per_image / 2**30:.2f} GiB needed)"
        )
    return fit


def fit_batch_size(
    config,
    dtype: torch.dtype,
    kind: str,
    free_bytes: int,
    *,
    weights_loaded: bool,
    fraction: float = 0.8,
    cap: int = 256,
) -> int:
    """Requests per batch in `fraction` of `free_bytes` (less unloaded weights) at the AUTO_*
    sizes; one image per generation request (the sampler chunks bigger requests itself)."""
    elem = torch.finfo(dtype).bits // 8
    with torch.device("meta"):
        meta = JanusModel(config).to(dtype)
    if not weights_loaded:
        free_bytes -= sum(p.numel() for p in meta.parameters()) * elem
    if kind.startswith("generat"):
        need = bytes_per_image(meta, AUTO_GEN_PROMPT_TOKENS, config.num_gen_tokens)
    else:
        prompt = config.vision.num_tokens + 2 + AUTO_TEXT_TOKENS
        need = bytes_per_row(config, elem, prompt, AUTO_NEW_TOKENS)
    return max(1, min(cap, rows_that_fit(free_bytes, need, fraction)))
