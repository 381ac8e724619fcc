"""Batched greedy answering at device speed.

One call answers a batch of questions in three phases:

1. Images: every image of the batch goes through SigLIP and the aligner in one call.
2. Prefill: the left-padded prompts (different lengths) run through the LLM once; their keys and
   values land in a static KV cache and the last position's logits give each row's first token.
3. Decode: one fixed-shape step per new token. Everything the step reads or advances lives in
   device tensors (last token, RoPE position, cache slot, step counter, per-row budget, stop ids,
   "done" flags, the output buffer), so on a GPU the step is captured once as a CUDA graph and
   replayed with no host work. Rows stop on their own: a row that hit a stop id or its budget
   keeps computing (fixed shapes) but its later tokens are cut off on the host. The host asks
   "are all rows done?" only every `check_every` steps (8 on CUDA), since each ask is a sync.

Fixed shapes. The cache has R rows and S slots and only grows (R = the largest batch seen, S =
the longest prompt + budget seen, rounded up to `bucket` = 64 slots). A smaller batch is padded
with dummy rows that start "done" (their prefill fans out row 0's keys, so they read finite
values); a decode step attends over `kv_len` = round_up(prompt + budget, 64) slots with a mask
(padding and not-yet-written slots masked out), so one graph serves every step of a batch and
is reused by any later batch of the same bucket. Graphs are keyed by kv_len and share one
memory pool; they are dropped when the cache grows. The same fixed-shape step runs eagerly on a
CPU, so CPU tests exercise the logic the GPU replays.

Equal to answering one prompt at a time: each row's RoPE positions count from its own first
real token and padding is masked out of every attention, as transformers' generate does with an
attention mask (upstream calls `language_model.generate(..., do_sample=False)`); rows never mix
(dummy rows and finished rows included). In float32 the greedy tokens equal one-at-a-time
tokens. In bf16/fp16 they can differ: a batch runs different matmul shapes (and so different
kernels and summation orders) than a single row, and a near-tie in the logits can flip. The
benchmark (`janus-eval bench understand`) reports how often that happens.

Memory: the decoder keeps its cache (and graphs) between calls; `release(model)` frees them.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from .llm import causal_mask, decode_keys, decode_mask, positions
from .model import JanusModel
from .processor import UnderstandBatch

#: KV slots are allocated and attended over in multiples of this (one graph per bucket).
BUCKET = 64
#: Steps between "all rows done?" checks on CUDA (each check is a host sync).
CHECK_EVERY_CUDA = 8
#: Stop-id buffer size (padded with -1); grows if a call passes more.
STOP_SLOTS = 8


@torch.inference_mode()
def prefill_logits(model: JanusModel, batch: UnderstandBatch) -> Tensor:
    """Logits for every position of the batch, no cache ([B, T, vocab]); used by parity tests."""
    x = _embed(model, batch)
    h = model.llm(
        x, positions(batch.valid.to(model.device)), causal_mask(batch.valid.to(model.device))
    )
    return model.llm.lm_head(h)


def _embed(model: JanusModel, batch: UnderstandBatch) -> Tensor:
    """Input embeddings with all of the batch's images encoded in one vision-tower call."""
    dev = model.device
    feats = None
    if batch.pixels is not None:
        feats = model.image_features(batch.pixels.to(dev, model.dtype))
    return model.text_embeddings(batch.ids.to(dev), batch.image_mask.to(dev), feats)


def greedy(
    model: JanusModel,
    batch: UnderstandBatch,
    max_new_tokens: list[int],
    stop_ids: set[int],
    *,
    cuda_graphs: bool | None = None,
    compile: bool | None = None,
) -> list[list[int]]:
    """Greedy continuation of each row (tokens before the first stop id, at most its budget).

    Uses the model's own GreedyDecoder for these options (kept between calls, so CUDA graphs
    are captured once). cuda_graphs: default on CUDA; compile: torch.compile the decode step
    once for every KV length (default off: decode is a small share of understanding time, and
    the first compilation costs tens of seconds)."""
    return decoder_for(model, cuda_graphs=cuda_graphs, compile=compile).greedy(
        batch, max_new_tokens, stop_ids
    )


def decoder_for(
    model: JanusModel, *, cuda_graphs: bool | None = None, compile: bool | None = None
) -> GreedyDecoder:
    """The decoder kept on `model` for these options (made on first use)."""
    decoders = model.__dict__.setdefault("_janus_eval_decoders", {})
    key = (cuda_graphs, compile)
    if key not in decoders:
        decoders[key] = GreedyDecoder(model, cuda_graphs=cuda_graphs, compile=compile)
    return decoders[key]


def release(model: JanusModel) -> None:
    """Free the caches and graphs of the decoders kept on `model` (e.g. before generating)."""
    for decoder in model.__dict__.pop("_janus_eval_decoders", {}).values():
        decoder.release()


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def bytes_per_row(
    model_config, elem_bytes: int, prompt_len: int, new_tokens: int, images: int = 1
) -> int:
    """Device bytes one question needs, generously counted: its KV cache (bucketed slots), its
    share of the prefill's transient activations (one layer's worth, float32 norms, the
    [T, T] attention mask as bool and as an additive bias), its images' vision-tower
    activations and its logits."""
    c, v = model_config.llm, model_config.vision
    slots = _round_up(prompt_len + new_tokens, BUCKET)
    kv = 2 * c.n_layers * c.n_kv_heads * c.head_dim * slots * elem_bytes
    t = prompt_len
    layer = t * (3 * c.ffn_dim + 8 * c.dim + 4 * c.n_kv_heads * c.head_dim) * elem_bytes
    norms = 2 * t * c.dim * 4
    mask = t * t * (1 + elem_bytes)
    vision = images * v.num_tokens * (int(v.width * v.mlp_ratio) * 2 + 8 * v.width) * elem_bytes
    return kv + layer + norms + mask + vision + c.vocab_size * 4


#: What `--batch-size auto` plans for (the adapter cannot see the task's prompts): one image,
#: generous text and answers, and a typical image-generation prompt.
AUTO_TEXT_TOKENS = 384
AUTO_NEW_TOKENS = 128
AUTO_GEN_PROMPT_TOKENS = 128


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
    """Requests per batch that fit in `fraction` of `free_bytes` of device memory (the weights'
    bytes subtracted first when they are not loaded yet). Understanding counts bytes_per_row
    for one image + AUTO_TEXT_TOKENS text + AUTO_NEW_TOKENS new tokens; generation counts the
    image sampler's bytes_per_image (its two cache rows) for one image per request, the
    sampler splitting bigger requests into chunks itself."""
    elem = torch.finfo(dtype).bits // 8
    with torch.device("meta"):
        meta = JanusModel(config).to(dtype)
    if not weights_loaded:
        free_bytes -= sum(p.numel() for p in meta.parameters()) * elem
    if kind.startswith("generat"):
        from . import sampler

        per_image = getattr(sampler, "bytes_per_image", None)
        prompt, new = AUTO_GEN_PROMPT_TOKENS, config.num_gen_tokens
        need = (
            per_image(meta, prompt, new)
            if per_image is not None
            else 2 * bytes_per_row(config, elem, prompt, new, images=0)
        )
    else:
        prompt = config.vision.num_tokens + 2 + AUTO_TEXT_TOKENS
        need = bytes_per_row(config, elem, prompt, AUTO_NEW_TOKENS)
    return max(1, min(cap, int(max(free_bytes, 0) * fraction // need)))


class GreedyDecoder:
    """Static-cache batched greedy decoding for one model (see the module docstring)."""

    def __init__(
        self,
        model: JanusModel,
        *,
        cuda_graphs: bool | None = None,
        compile: bool | None = None,
        bucket: int = BUCKET,
        check_every: int | None = None,
    ) -> None:
        self.model = model
        cuda = model.device.type == "cuda"
        self.cuda_graphs = cuda if cuda_graphs is None else bool(cuda_graphs and cuda)
        self.compile = bool(compile)
        self.bucket = bucket
        self.check_every = check_every or (CHECK_EVERY_CUDA if cuda else 1)
        self._core = (
            torch.compile(self._core_eager, fullgraph=True, dynamic=None)
            if self.compile
            else self._core_eager
        )
        self.rows = 0
        self.slots = 0
        self._caches = None
        self._state: dict[str, Tensor] = {}
        self._graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self._pool = None
        #: (rows, steps, kv_len, budgets, stop ids) of the batch being answered.
        self._run: tuple[int, int, int, list[int], list[int]] | None = None
        #: Host-side facts about the last call (the benchmark reads them).
        self.last_steps = 0

    # ---- public ------------------------------------------------------------------------------

    def greedy(
        self, batch: UnderstandBatch, max_new_tokens: list[int], stop_ids: set[int]
    ) -> list[list[int]]:
        if len(max_new_tokens) != batch.ids.shape[0]:
            raise ValueError(f"{len(max_new_tokens)} budgets for {batch.ids.shape[0]} rows")
        if max(max_new_tokens, default=0) <= 0:
            return [[] for _ in max_new_tokens]
        self.prefill(batch, max_new_tokens, stop_ids)
        self.decode()
        return self.answers()

    @torch.inference_mode()
    def prefill(
        self, batch: UnderstandBatch, max_new_tokens: list[int], stop_ids: set[int]
    ) -> None:
        """Encode the images, prefill the cache, and set every row's decode state."""
        model, llm, dev = self.model, self.model.llm, self.model.device
        b, t = batch.ids.shape
        steps = max(max_new_tokens)
        kv_len = _round_up(t + steps, self.bucket)
        self._ensure(b, kv_len, len(stop_ids))
        st = self._state
        valid = batch.valid.to(dev)
        rows = torch.arange(self.rows, device=dev)
        with self._installed():
            h = llm(
                _embed(model, batch),
                positions(valid),
                causal_mask(valid),
                slots=torch.arange(t, device=dev),
                cache_rows=torch.where(rows < b, rows, 0),  # dummy rows copy row 0
            )
        first = llm.lm_head(h[:, -1]).argmax(-1)
        i64 = dict(dtype=torch.int64, device=dev)
        st["tok"].zero_()
        st["tok"][:b] = first
        st["pos"].zero_()
        st["pos"][:b] = valid.sum(1)  # each row's next RoPE position
        st["pad_len"].zero_()
        st["pad_len"][:b] = (~valid).sum(1)
        st["budget"].fill_(0)
        st["budget"][:b] = torch.tensor(max_new_tokens, **i64)
        st["stop"].fill_(-1)
        if stop_ids:
            st["stop"][: len(stop_ids)] = torch.tensor(sorted(stop_ids), **i64)
        st["step"].zero_()
        st["out"][:, 0] = st["tok"]
        st["done"].copy_(self._finished(st["tok"]))
        st["slot"].fill_(t)
        st["step"].fill_(1)
        self._run = (b, steps, kv_len, list(max_new_tokens), sorted(stop_ids))

    @torch.inference_mode()
    def decode(self) -> int:
        """Run decode steps until every row is done (checked every `check_every` steps) or the
        longest budget is spent; returns the number of steps run."""
        assert self._run is not None, "prefill first"
        _, steps, kv_len, _, _ = self._run
        ran = 0
        with self._installed():
            graph = self._graph(kv_len) if self.cuda_graphs and steps > 1 else None
            for i in range(1, steps):
                if (i - 1) % self.check_every == 0 and bool(self._state["done"].all()):
                    break
                if graph is not None:
                    graph.replay()
                else:
                    self._step(kv_len)
                ran += 1
        self.last_steps = ran
        return ran

    def answers(self) -> list[list[int]]:
        assert self._run is not None, "prefill first"
        b, steps, _, budgets, stops = self._run
        tokens = self._state["out"][:b, :steps].tolist()
        stop_set, out = set(stops), []
        for row, limit in zip(tokens, budgets):
            row = row[:limit]
            cut = next((j for j, tok in enumerate(row) if tok in stop_set), len(row))
            out.append(row[:cut])
        return out

    def release(self) -> None:
        self._graphs.clear()
        self._pool = None
        self._caches = None
        self._state = {}
        self.rows = self.slots = 0
        self._run = None

    # ---- buffers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _installed(self):
        """Our cache in the model's attention layers for the duration (the image sampler
        installs its own; neither leaves one behind)."""
        self.model.llm.use_cache(self._caches)
        try:
            yield
        finally:
            self.model.llm.use_cache(None)

    def _ensure(self, rows: int, slots: int, n_stop: int) -> None:
        """Grow the cache and state to at least (rows, slots); growing drops the graphs."""
        n_stop = max(n_stop, STOP_SLOTS)
        have_stop = self._state["stop"].shape[0] if self._state else 0
        if rows <= self.rows and slots <= self.slots and n_stop <= have_stop:
            return
        rows, slots = max(rows, self.rows), max(slots, self.slots)
        self.release()  # graphs point into the buffers about to be replaced
        llm, dev = self.model.llm, self.model.device
        llm.drop_cache()
        self._caches = llm.setup_cache(rows, slots)
        llm.use_cache(None)
        i64 = dict(dtype=torch.int64, device=dev)
        self._state = {
            "tok": torch.zeros(rows, **i64),
            "pos": torch.zeros(rows, **i64),
            "pad_len": torch.zeros(rows, **i64),
            "budget": torch.zeros(rows, **i64),
            "done": torch.ones(rows, dtype=torch.bool, device=dev),
            "out": torch.zeros(rows, slots, **i64),
            "stop": torch.full((n_stop,), -1, **i64),
            "slot": torch.zeros((), **i64),
            "step": torch.zeros((), **i64),
            "arange": torch.arange(slots, **i64),
        }
        self.rows, self.slots = rows, slots

    # ---- the step ----------------------------------------------------------------------------

    def _core_eager(self, tok: Tensor, pos: Tensor, slot: Tensor, pad_len: Tensor, keys: Tensor):
        """Next token of every row: pure tensor work (`keys`, the attended slots, set kv_len)."""
        llm = self.model.llm
        mask = decode_mask(keys, pad_len, slot)
        h = llm(llm.embed_tokens(tok)[:, None], pos[:, None], mask, slot.view(1), keys.shape[0])
        return llm.lm_head(h[:, 0]).argmax(-1)

    def _finished(self, tok: Tensor) -> Tensor:
        """Rows whose token `tok` (written at index `step`) is a stop id or uses up the budget."""
        st = self._state
        return (tok[:, None] == st["stop"][None]).any(-1) | (st["step"] + 1 >= st["budget"])

    def _step(self, kv_len: int) -> None:
        st = self._state
        keys = decode_keys(st["arange"], kv_len, self.compile)
        nxt = self._core(st["tok"], st["pos"], st["slot"], st["pad_len"], keys)
        st["out"].index_copy_(1, st["step"].view(1), nxt[:, None])
        st["done"] |= self._finished(nxt)
        st["tok"].copy_(nxt)
        st["pos"].add_(1)
        st["slot"].add_(1)
        st["step"].add_(1)

    def _graph(self, kv_len: int) -> torch.cuda.CUDAGraph:
        """The step for `kv_len` as a CUDA graph, captured at the current state (after a
        prefill). Warm-up and capture leave the state as they found it: the cache slot they
        write is written again by the first real step before anything reads it."""
        if kv_len in self._graphs:
            return self._graphs[kv_len]
        st = self._state
        saved = {k: st[k].clone() for k in ("tok", "pos", "slot", "step", "done", "out")}

        def restore() -> None:
            for k, v in saved.items():
                st[k].copy_(v)

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up (and compile) outside capture
            self._step(kv_len)
            restore()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            self._step(kv_len)
        self._pool = graph.pool()
        restore()
        self._graphs[kv_len] = graph
        return graph
