"""The CFG step on the decode engine (engine.py): image codes for `Stream`s.

A chunk of N images keeps 2N cache rows: [0, N) conditional, [N, 2N) unconditional (upstream's
padded prompt), left-padded to the chunk's longest prompt; the prefill runs once per distinct
(prompt, cond/uncond) row and fans out to every image of that prompt. A step embeds the last
code, runs the LLM, combines `u + w * (c - u)` in float32 and draws (sampling.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor

from janus_eval.types import UserError

from .engine import DecodeEngine, cache_slots, decode_hidden, images_per_chunk, round_up
from .model import JanusModel
from .processor import left_pad
from .sampling import Stream, code_hashes, draw, stream_key, stream_params, uncond_ids, validate

__all__ = ["CFGSampler", "Stream", "cfg_step", "stream_key"]


def cfg_step(model, tok, slot, pad_len, step, params, keys) -> Tensor:
    """The next code of every image: both rows' logits, then the draw (pure tensor work)."""
    emb = model.gen_embeddings(tok)
    h = decode_hidden(model.llm, torch.cat([emb, emb]), slot, pad_len, keys)
    logits = model.gen_head(h).float()
    n = tok.shape[0]
    return draw(logits[:n], logits[n:], params, step)


class CFGSampler(DecodeEngine):
    """Image code grids for `Stream`s; reuse one: cache and graphs persist across like calls."""

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
        """fixed_shapes / rehearse: the GPU's KV buckets and warm-up run eagerly, for CPU tests."""
        compile = model.device.type == "cuda" if compile is None else compile
        super().__init__(model, cfg_step, cuda_graphs=cuda_graphs, compile=compile, bucket=bucket)
        self.pad_id = pad_id
        self.fixed_shapes = fixed_shapes
        self.rehearse = rehearse
        self.code_hash = code_hashes(model.config.vq.codebook_size, model.device)
        self._active: tuple[str, ...] = ()
        #: Set to {} to have generate() record per-phase seconds (adds device syncs).
        self.timings: dict[str, float] | None = None
        self._last: float | None = None

    @property
    def _shape(self) -> tuple[int, int]:
        """(images per chunk, cache slots) of the cache held."""
        return self.rows // 2, self.slots

    def generate(
        self,
        prompts: Sequence[list[int]],
        streams: Sequence[Stream],
        rows: int | None = None,
        n_tokens: int | None = None,
    ) -> Tensor:
        """[len(streams), n_tokens] CPU int64 codes. `rows`: images per chunk (default: all that
        fit; more is a UserError before any work); `n_tokens` below 576 is for benchmarks."""
        validate(streams)
        n_tok = n_tokens or self.model.config.num_gen_tokens
        if not 1 <= n_tok <= self.model.config.num_gen_tokens:
            raise UserError(f"n_tokens {n_tok}: expected 1..{self.model.config.num_gen_tokens}")
        if not streams:
            return torch.zeros(0, n_tok, dtype=torch.long)
        longest = max(len(prompts[s.prompt]) for s in streams)
        fit = images_per_chunk(self.model, self.held_bytes(), longest, n_tok, rows)
        chunk = min(rows or fit, len(streams))
        if self.cuda_graphs and rows is None:  # fewer distinct shapes: fewer graph captures
            chunk = min(fit, round_up(chunk, 8))
        chunks = [streams[i : i + chunk] for i in range(0, len(streams), chunk)]
        return torch.cat([self._chunk(prompts, list(c), chunk, n_tok).cpu() for c in chunks])

    @torch.inference_mode()
    def _chunk(
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
        ids, valid = left_pad(unique, self.pad_id)
        t0 = ids.shape[1]
        row_src = [used.index(s.prompt) for s in streams]
        row_src += [len(used) + i for i in row_src]
        self._ensure(n, cache_slots(t0, model.config.num_gen_tokens))
        slots = self.slots
        self._mark("setup")
        st = self._state
        ids, valid = ids.to(dev), valid.to(dev)
        row_map = torch.tensor(row_src, device=dev)
        st["pad_len"].copy_((~valid).sum(1)[row_map])
        params = stream_params(streams, self.code_hash)
        self._active = tuple(sorted(params))
        neutral = {"top_k": self.int64(n), "top_p": torch.ones(n, dtype=torch.float32, device=dev)}
        for key, value in {**neutral, **params}.items():
            # in place, never replaced: captured graphs hold these addresses
            st.setdefault("p_" + key, torch.empty_like(value)).copy_(value)
        st["out"].zero_()
        with self.installed():  # prefill: distinct rows only, fanned out to all 2N cache rows
            h = self.prefill_cache(model.llm.embed_tokens(ids), valid, row_map)
            logits = model.gen_head(h).float()[row_map]
            first = draw(logits[:n], logits[n:], self._params(), torch.zeros_like(st["step"]))
            self.start(first, t0)
            fixed = self.cuda_graphs or self.fixed_shapes
            key = (n, slots, self._active)
            graphs = self.graphs(key, self.buckets(slots)) if self.cuda_graphs else None
            if self.rehearse and graphs is None:  # the GPU warm-up, run eagerly (for tests)
                self.warm_up(self.buckets(slots))
            self._mark("prefill")
            self.decode_n(
                n_tok,
                lambda t: min(round_up(t0 + t, self.bucket), slots) if fixed else t0 + t,
                graphs,
            )
        self._mark("decode")
        return st["out"][:n_real, :n_tok].clone()

    def _mark(self, phase: str | None) -> None:
        """Seconds since the last mark into `timings[phase]`, if set (benchmarks: it syncs)."""
        if self.timings is None:
            return
        if self.model.device.type == "cuda":
            torch.cuda.synchronize(self.model.device)
        now = time.perf_counter()
        if phase is not None and self._last is not None:
            self.timings[phase] = self.timings.get(phase, 0.0) + now - self._last
        self._last = now

    def _params(self) -> dict[str, Tensor]:
        """The draw's inputs this chunk uses (top_k / top_p left out when no image asks)."""
        return {k: self._state["p_" + k] for k in self._active}

    def _ensure(self, n: int, need: int) -> None:
        """2n rows, >= `need` slots: the held cache if it fits (graphs stay valid), else new."""
        if self.rows == 2 * n and self.slots >= need:
            return
        out = self.int64(n, self.model.config.num_gen_tokens)
        self.allocate(2 * n, need, tok=self.int64(n), pad_len=self.int64(2 * n), out=out)

    def inputs(self) -> tuple:
        st = self._state
        return self.model, st["tok"], st["slot"], st["pad_len"], st["step"], self._params()
