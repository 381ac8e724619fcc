"""The greedy step on the decode engine (engine.py): batched greedy answers at device speed.

A finished row keeps computing and is cut off on the host, which asks "all done?" every
`check_every` steps (a sync). The cache only grows; dummy rows pad a smaller batch. As
transformers' generate, padding is masked, so float32 tokens equal one-at-a-time tokens (bf16
may flip a near-tie: `janus-eval bench understand` counts how often).
"""

from __future__ import annotations

from itertools import takewhile

import torch
from torch import Tensor

from .engine import BUCKET, DecodeEngine, decode_hidden, round_up
from .llm import causal_mask, positions
from .model import JanusModel
from .processor import UnderstandBatch

#: Steps between "all rows done?" checks on CUDA (each check is a host sync).
CHECK_EVERY_CUDA = 8
#: Stop-id buffer size (padded with -1); grows if a call passes more.
STOP_SLOTS = 8


@torch.inference_mode()
def prefill_logits(model: JanusModel, batch: UnderstandBatch) -> Tensor:
    """Logits for every position of the batch, no cache ([B, T, vocab]); used by parity tests."""
    valid = batch.valid.to(model.device)
    h = model.llm(_embed(model, batch), positions(valid), causal_mask(valid))
    return model.llm.lm_head(h)


def _embed(model: JanusModel, batch: UnderstandBatch) -> Tensor:
    """Input embeddings with all of the batch's images encoded in one vision-tower call."""
    dev, pixels = model.device, batch.pixels
    feats = None if pixels is None else model.image_features(pixels.to(dev, model.dtype))
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
    """Each row's greedy answer (before a stop id, within budget) by the model's kept decoder.
    compile defaults off: decode is a small share of the time; compiling takes tens of seconds."""
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


def greedy_step(llm, tok: Tensor, slot: Tensor, pad_len: Tensor, keys: Tensor) -> Tensor:
    """Next token of every row: pure tensor work."""
    return llm.lm_head(decode_hidden(llm, llm.embed_tokens(tok), slot, pad_len, keys)).argmax(-1)


class GreedyDecoder(DecodeEngine):
    """Static-cache batched greedy decoding for one model (see the module docstring)."""

    mutable = (*DecodeEngine.mutable, "done")

    def __init__(
        self,
        model: JanusModel,
        *,
        cuda_graphs: bool | None = None,
        compile: bool | None = None,
        bucket: int = BUCKET,
        check_every: int | None = None,
    ) -> None:
        super().__init__(
            model, greedy_step, cuda_graphs=cuda_graphs, compile=bool(compile), bucket=bucket
        )
        self.check_every = check_every or (CHECK_EVERY_CUDA if model.device.type == "cuda" else 1)
        #: (rows, steps, kv_len, budgets, stop ids) of the batch being answered.
        self._run: tuple[int, int, int, list[int], frozenset[int]] | None = None
        self.last_steps = 0  # steps the last decode ran (the benchmark reads it)

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
        model, dev = self.model, self.model.device
        b, t = batch.ids.shape
        steps = max(max_new_tokens)
        kv_len = round_up(t + steps, self.bucket)
        self._ensure(b, kv_len, len(stop_ids))
        st = self._state
        valid = batch.valid.to(dev)
        rows = torch.arange(self.rows, device=dev)
        with self.installed():  # dummy rows copy row 0
            h = self.prefill_cache(_embed(model, batch), valid, torch.where(rows < b, rows, 0))
        i64 = dict(dtype=torch.int64, device=dev)
        for key, value in {
            "tok": model.llm.lm_head(h).argmax(-1),
            "pad_len": (~valid).sum(1),
            "budget": torch.tensor(max_new_tokens, **i64),
            "stop": torch.tensor(sorted(stop_ids), **i64),
        }.items():
            st[key].fill_(-1 if key == "stop" else 0)
            st[key][: len(value)] = value
        st["step"].zero_()
        st["done"].copy_(self._finished(st["tok"]))
        self.start(st["tok"], t)
        self._run = (b, steps, kv_len, list(max_new_tokens), frozenset(stop_ids))

    @torch.inference_mode()
    def decode(self) -> int:
        """Steps until every row is done or the longest budget is spent; returns the steps run."""
        assert self._run is not None, "prefill first"
        _, steps, kv_len, _, _ = self._run
        with self.installed():
            graphs = self.graphs(kv_len, [kv_len]) if self.cuda_graphs and steps > 1 else None
            self.last_steps = self.decode_n(steps, lambda t: kv_len, graphs, self.check_every)
        return self.last_steps

    def answers(self) -> list[list[int]]:
        assert self._run is not None, "prefill first"
        b, steps, _, budgets, stops = self._run
        tokens = self._state["out"][:b, :steps].tolist()
        return [list(takewhile(lambda t: t not in stops, r[:n])) for r, n in zip(tokens, budgets)]

    def release(self) -> None:
        super().release()
        self._run = None

    def _ensure(self, rows: int, slots: int, n_stop: int) -> None:
        """Grow the cache and state to at least (rows, slots); growing drops the graphs."""
        n_stop = max(n_stop, STOP_SLOTS)
        have_stop = self._state["stop"].shape[0] if self._state else 0
        if rows <= self.rows and slots <= self.slots and n_stop <= have_stop:
            return
        rows, slots = max(rows, self.rows), max(slots, self.slots)
        state = {k: self.int64(rows) for k in ("tok", "pad_len", "budget")}
        state["done"] = torch.ones(rows, dtype=torch.bool, device=self.model.device)
        state["stop"] = self.int64(n_stop, fill=-1)
        self.allocate(rows, slots, **state, out=self.int64(rows, slots))

    def inputs(self) -> tuple:
        st = self._state
        return self.model.llm, st["tok"], st["slot"], st["pad_len"]

    def _finished(self, tok: Tensor) -> Tensor:
        """Rows whose token `tok` (written at index `step`) is a stop id or uses up the budget."""
        st = self._state
        return (tok[:, None] == st["stop"][None]).any(-1) | (st["step"] + 1 >= st["budget"])

    def advance(self, nxt: Tensor) -> None:
        self._state["done"] |= self._finished(nxt)
        super().advance(nxt)
