"""The static-cache batched greedy decoder (understand.py) on janus-tiny, float32 on the CPU.

The reference is independent of every cache: each row alone, its whole sequence recomputed from
scratch for every new token (prefill_logits). The decoder runs the same fixed-shape step the
GPU replays as a CUDA graph (bucketed KV length, dummy rows, device-side stop flags), eagerly.
"""

from __future__ import annotations

import pytest
import torch
from janus_eval.model_adapters.janus.engine import fit_batch_size
from janus_eval.model_adapters.janus.processor import UnderstandBatch
from janus_eval.model_adapters.janus.understand import (
    GreedyDecoder,
    decoder_for,
    greedy,
    prefill_logits,
    release,
)
from janus_helpers import one_thread, random_image, tiny_dir, tiny_model, tiny_processor  # noqa: F401

ITEMS = [
    ("What is in this picture? Answer briefly.", (random_image(3, 40, 24),), None),
    ("Hi", (), ""),
    ("Compare <image> and <image>", (random_image(4, 16, 16), random_image(5, 30, 50)), None),
    ("<image>\nHow many? Answer the question using a single word.", (random_image(6, 20, 20),), ""),
]
BUDGETS = [9, 4, 12, 0]

pytestmark = pytest.mark.usefixtures("one_thread")


def recompute_greedy(item, budget: int) -> list[int]:
    """One row, no cache: the full sequence re-run for every token (the plain definition)."""
    proc, model = tiny_processor(), tiny_model()
    b = proc.understanding_batch([item])
    ids, out = b.ids, []
    for _ in range(budget):
        n = ids.shape[1]
        grown = UnderstandBatch(
            ids,
            torch.ones(1, n, dtype=torch.bool),
            b.pixels,
            torch.cat([b.image_mask, torch.zeros(1, n - b.ids.shape[1], dtype=torch.bool)], 1),
        )
        tok = int(prefill_logits(model, grown)[0, -1].argmax())
        out.append(tok)
        ids = torch.cat([ids, torch.tensor([[tok]])], 1)
    return out


@pytest.fixture(scope="module")
def reference() -> list[list[int]]:
    return [recompute_greedy(it, b) for it, b in zip(ITEMS, BUDGETS)]


def batch(items=ITEMS):
    return tiny_processor().understanding_batch(list(items))


def test_batched_equals_recomputed_one_at_a_time(reference):
    """Different prompt lengths, images or none, different budgets (one of them 0)."""
    lengths = batch().valid.sum(1).tolist()
    assert len(set(lengths)) == len(lengths)  # really different lengths: padding is exercised
    assert [len(r) for r in reference] == BUDGETS  # random weights never say EOS here
    eos = {tiny_processor().ids.eos}
    for check_every in (1, 8):  # 8: the CUDA setting (rows run on past their end meanwhile)
        dec = GreedyDecoder(tiny_model(), check_every=check_every)
        assert dec.greedy(batch(), BUDGETS, eos) == reference
    # and each row through a decoder of its own (one cache row, no dummy rows)
    for item, budget, ref in zip(ITEMS, BUDGETS, reference):
        assert GreedyDecoder(tiny_model()).greedy(batch([item]), [budget], eos) == [ref]


def test_a_row_that_stops_early_leaves_the_others_alone(reference):
    eos = tiny_processor().ids.eos
    stop = reference[0][3]  # row 0 emits this mid-way
    cut = [r[: r.index(stop)] if stop in r else r for r in reference]
    assert len(cut[0]) == 3 and len(cut[2]) > 3
    dec = GreedyDecoder(tiny_model(), check_every=1)
    assert dec.greedy(batch(), BUDGETS, {eos, stop}) == cut
    # the stopped row keeps computing (fixed shapes) but nothing leaks between rows: the full
    # token buffer of the other rows equals the run without that stop id
    full = dec._state["out"][:, : max(BUDGETS)].clone()
    dec.greedy(batch(), BUDGETS, {eos})
    assert torch.equal(full[1:3], dec._state["out"][1:3, : max(BUDGETS)])


def test_decode_stops_when_every_row_is_done(reference):
    eos = tiny_processor().ids.eos
    firsts = {r[0] for r in reference if r}
    dec = GreedyDecoder(tiny_model(), check_every=1)
    assert dec.greedy(batch(), BUDGETS, firsts | {eos}) == [[] for _ in ITEMS]
    assert dec.last_steps == 0
    # stop on each row's 2nd token (if that is not earlier in the row): checked every 8 steps,
    # the loop runs on to the first check after the last row is done, not to the budget
    dec = GreedyDecoder(tiny_model(), check_every=8)
    dec.greedy(batch(ITEMS[:3]), [40, 40, 40], {r[1] for r in reference[:3]})
    assert dec.last_steps == 8


def test_cache_grows_and_small_batches_use_dummy_rows(reference):
    """One decoder, batches of 4, then 1 (3 dummy rows), then a longer budget (cache grows)."""
    eos = {tiny_processor().ids.eos}
    dec = GreedyDecoder(tiny_model())
    assert dec.greedy(batch(), BUDGETS, eos) == reference
    rows, slots = dec.rows, dec.slots
    assert dec.greedy(batch(ITEMS[1:2]), [4], eos) == [reference[1]]
    assert (dec.rows, dec.slots) == (rows, slots)  # reused, not reallocated
    longer = dec.greedy(batch(ITEMS[:1]), [slots], eos)[0]
    assert dec.slots > slots and longer[: BUDGETS[0]] == reference[0]
    assert dec.greedy(batch(), BUDGETS, eos) == reference  # after growing


def test_kept_decoder_and_release():
    model, eos = tiny_model(), {tiny_processor().ids.eos}
    release(model)  # other tests may have used the model's decoder
    a = greedy(model, batch(ITEMS[:2]), [3, 3], eos)
    dec = decoder_for(model)
    assert dec.rows == 2 and greedy(model, batch(ITEMS[:2]), [3, 3], eos) == a
    assert all(layer.self_attn.kv_cache is None for layer in model.llm.layers)  # model left clean
    release(model)
    assert decoder_for(model) is not dec and decoder_for(model).rows == 0


def test_release_frees_what_the_decoder_held():
    """release() drops the cache, the state and the graphs (nothing held, sizes back to 0), and
        the next call allocates afresh and answers the same; what it holds is counted in bytes; CUDA
    graphs are never taken on a CPU (each a mutant of engine.py that survived the other tests)."""
    model, eos = tiny_model(), {tiny_processor().ids.eos}
    dec = GreedyDecoder(model, bucket=16, cuda_graphs=True)
    assert not dec.cuda_graphs  # asked for, but this model is on a CPU
    want = dec.greedy(batch(ITEMS[:2]), [3, 3], eos)
    c = model.config.llm  # k and v: layers x rows x heads x (slots + the spare one) x head_dim
    cache = 2 * c.n_layers * dec.rows * c.n_kv_heads * (dec.slots + 1) * c.head_dim * 4
    assert cache < dec.held_bytes() < 2 * cache  # the state adds a little
    dec.release()
    assert (dec.rows, dec.slots, dec.held_bytes(), dec._state) == (0, 0, 0, {})
    assert dec.greedy(batch(ITEMS[:2]), [3, 3], eos) == want


def test_kv_buckets_end_at_the_cache_length():
    """The KV lengths graphs are captured for: multiples of the bucket, the last one the whole
    cache, so every step of a chunk finds its graph (a mutant that dropped the last survived
    on the CPU, where only the warm-up runs them)."""
    dec = GreedyDecoder(tiny_model(), bucket=16)
    assert dec.buckets(40) == [16, 32, 40]
    assert dec.buckets(48) == [16, 32, 48]
    assert dec.buckets(8) == [8]


def test_auto_batch_size_arithmetic():
    from janus_eval.model_adapters.janus.adapter import JanusAdapter
    from janus_eval.model_adapters.janus.config import JanusConfig
    from janus_eval.model_adapters.janus.engine import bytes_per_row

    assert JanusAdapter(str(tiny_dir())).auto_batch_size("understanding") == 8  # CPU
    cfg = JanusConfig()  # Janus-1.3B shapes
    per_row = bytes_per_row(cfg, 2, 576 + 2 + 384, 128)
    # KV cache alone: 2 (k, v) x 24 layers x 2048 x 1024 slots x 2 bytes
    assert per_row > 2 * 24 * 2048 * 1024 * 2
    free = int(10.5 * per_row / 0.8)
    assert fit_batch_size(cfg, torch.bfloat16, "understanding", free, weights_loaded=True) == 10
    # not loaded yet: the weights' bytes come off first (about 2 GB at 1.3B in bf16 > 10 rows)
    assert fit_batch_size(cfg, torch.bfloat16, "understanding", free, weights_loaded=False) == 1
    big = fit_batch_size(cfg, torch.bfloat16, "understanding", 80 * 2**30, weights_loaded=False)
    assert 100 < big <= 256
    gen = fit_batch_size(cfg, torch.bfloat16, "generation", 80 * 2**30, weights_loaded=False)
    assert 1 <= gen <= 256
