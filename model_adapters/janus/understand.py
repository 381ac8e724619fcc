"""Batched greedy answering: one prefill of the left-padded batch, then one token per step for
every row until each row has produced EOS or its own token budget.

Equal to answering one prompt at a time: each row's RoPE positions count from its own first
real token and padding is masked out of every attention, as transformers' generate does with an
attention mask (upstream calls `language_model.generate(..., do_sample=False)`).
"""

from __future__ import annotations

import torch

from .llm import causal_mask, positions
from .model import JanusModel
from .processor import UnderstandBatch


@torch.inference_mode()
def prefill_logits(model: JanusModel, batch: UnderstandBatch) -> torch.Tensor:
    """Logits for every position of the batch, no cache ([B, T, vocab]); used by parity tests."""
    x = _embed(model, batch)
    h = model.llm(
        x, positions(batch.valid.to(model.device)), causal_mask(batch.valid.to(model.device))
    )
    return model.llm.lm_head(h)


def _embed(model: JanusModel, batch: UnderstandBatch) -> torch.Tensor:
    dev = model.device
    feats = None
    if batch.pixels is not None:
        feats = model.image_features(batch.pixels.to(dev, model.dtype))
    return model.text_embeddings(batch.ids.to(dev), batch.image_mask.to(dev), feats)


@torch.inference_mode()
def greedy(
    model: JanusModel, batch: UnderstandBatch, max_new_tokens: list[int], stop_ids: set[int]
) -> list[list[int]]:
    """Greedy continuation of each row (tokens before the first stop id, at most its budget)."""
    dev, llm = model.device, model.llm
    ids, valid = batch.ids.to(dev), batch.valid.to(dev)
    b, t = ids.shape
    steps = max(max_new_tokens)
    if steps <= 0:
        return [[] for _ in range(b)]
    llm.setup_cache(b, t + steps)
    try:
        h = llm(
            _embed(model, batch),
            positions(valid),
            causal_mask(valid),
            slots=torch.arange(t, device=dev),
            cache_rows=torch.arange(b, device=dev),
        )
        nxt = llm.lm_head(h[:, -1]).argmax(-1)
        out = [nxt]
        budget = torch.tensor(max_new_tokens, device=dev)
        stop = torch.tensor(sorted(stop_ids), device=dev)
        done = torch.isin(nxt, stop) | (budget <= 1)
        start = valid.long().sum(1)  # each row's next RoPE position
        key_valid = torch.cat([valid, torch.ones(b, steps, dtype=torch.bool, device=dev)], 1)
        for i in range(1, steps):
            if bool(done.all()):
                break
            slot = t + i - 1
            x = llm.embed_tokens(nxt)[:, None]
            mask = key_valid[:, None, None, : slot + 1]
            h = llm(
                x,
                (start + i - 1)[:, None],
                mask,
                slots=torch.tensor([slot], device=dev),
                kv_len=slot + 1,
            )
            nxt = llm.lm_head(h[:, -1]).argmax(-1)
            out.append(nxt)
            done |= torch.isin(nxt, stop) | (budget <= i + 1)
    finally:
        llm.drop_cache()
    tokens = torch.stack(out, 1).tolist()
    answers = []
    for row, limit in zip(tokens, max_new_tokens):
        row = row[:limit]
        cut = next((j for j, tok in enumerate(row) if tok in stop_ids), len(row))
        answers.append(row[:cut])
    return answers
