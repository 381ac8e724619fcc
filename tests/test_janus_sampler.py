"""The CFG sampler (issue 4) on the CPU: argmax and seeded tokens equal the reference loop's,
tokens do not depend on batching, draws follow the CFG softmax, bad requests fail first."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from janus_eval.model_adapters.janus import engine as E
from janus_eval.model_adapters.janus import sampling as S
from janus_eval.model_adapters.janus.llm import causal_mask, positions
from janus_eval.model_adapters.janus.processor import left_pad
from janus_eval.model_adapters.janus.reference import reference_generate
from janus_eval.model_adapters.janus.sampler import CFGSampler
from janus_helpers import one_thread, tiny_model, tiny_processor  # noqa: F401
from scipy import stats

from janus_eval.types import UserError

PROMPTS = ["a photo of a cat", "two red cubes and a green sphere on a wooden table", "a dog"]

pytestmark = pytest.mark.usefixtures("one_thread")


def _setup():
    proc, model = tiny_processor(), tiny_model()
    ids = [proc.generation_ids(p) for p in PROMPTS]
    return proc, model, ids, CFGSampler(model, proc.ids.pad)


def _streams(n: int, **kw) -> list[S.Stream]:
    return [
        S.Stream(i % len(PROMPTS), S.stream_key(7, f"req{i % len(PROMPTS)}", i), **kw)
        for i in range(n)
    ]


def test_argmax_tokens_equal_the_reference_loop():
    proc, model, ids, sampler = _setup()
    streams = _streams(6, temperature=0)
    fast = sampler.generate(ids, streams)  # three prompt lengths in one batch (left padding)
    for s, row in zip(streams, fast):
        ref = reference_generate(model, ids[s.prompt], [s.key], proc.ids.pad, draw="argmax")
        assert row.tolist() == ref[0].tolist()
    assert len({tuple(r) for r in fast.tolist()}) == 3  # one sequence per prompt


def test_seeded_tokens_equal_the_reference_loop_with_the_same_noise():
    proc, model, ids, sampler = _setup()
    streams = _streams(5, cfg_weight=3.0, temperature=0.8)
    fast = sampler.generate(ids, streams)
    for s, row in zip(streams, fast):
        ref = reference_generate(
            model,
            ids[s.prompt],
            [s.key],
            proc.ids.pad,
            cfg_weight=3.0,
            temperature=0.8,
            draw="gumbel",
        )
        assert row.tolist() == ref[0].tolist()
    assert len({tuple(r) for r in fast.tolist()}) == 5  # each image its own stream


def test_same_seed_same_tokens_for_batch_sizes_1_3_16():
    _, _, ids, sampler = _setup()
    streams = _streams(16)
    full = sampler.generate(ids, streams, rows=16)
    assert torch.equal(sampler.generate(ids, streams, rows=3), full)
    assert torch.equal(torch.cat([sampler.generate(ids, [s], rows=1) for s in streams]), full)
    order = np.random.default_rng(0).permutation(16)
    shuffled = sampler.generate(ids, [streams[i] for i in order], rows=16)
    assert torch.equal(shuffled, full[order])
    assert not torch.equal(full[0], full[3])  # same prompt, different image index


def test_gpu_path_semantics_on_cpu():
    """Bucketed KV lengths (attention over not-yet-written, masked slots), the warm-up steps
    that precede graph capture, and a cache reused with stale rows from a longer prompt: the
    tokens stay those of the plain eager run."""
    proc, model, ids, plain = _setup()
    streams = _streams(6)
    want = plain.generate(ids, streams)
    gpu_like = CFGSampler(model, proc.ids.pad, fixed_shapes=True, rehearse=True, bucket=16)
    assert torch.equal(gpu_like.generate(ids, streams), want)
    reuse = CFGSampler(model, proc.ids.pad, fixed_shapes=True, bucket=128)
    reuse.generate(ids, [s for s in streams if s.prompt == 1][:2], rows=2)  # the long prompt
    caches = reuse._caches
    assert torch.equal(reuse.generate(ids, [streams[2], streams[5]], rows=2), want[[2, 5]])
    assert reuse._caches is caches  # same buffers, stale rows and all
    topk = _streams(2, top_k=5)  # options switch on and off between chunks of one sampler
    fresh = CFGSampler(model, proc.ids.pad).generate(ids, topk)
    assert torch.equal(reuse.generate(ids, topk, rows=2), fresh)
    assert torch.equal(reuse.generate(ids, [streams[2], streams[5]], rows=2), want[[2, 5]])
    assert torch.equal(reuse.generate(ids, topk, rows=2), fresh)


def test_a_chunk_that_fits_reuses_the_cache():
    """The same chunk again reuses the cache (and the graphs that point into it) instead of
    reallocating (a mutant that reallocated when the cache was exactly long enough survived)."""
    _, _, ids, sampler = _setup()
    streams = _streams(2, temperature=0)
    first = sampler.generate(ids, streams, rows=2)
    caches = sampler._caches
    assert torch.equal(sampler.generate(ids, streams, rows=2), first)
    assert sampler._caches is caches


def _step0_logits(prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
    proc, model = tiny_processor(), tiny_model()
    cond = proc.generation_ids(prompt)
    ids, valid = left_pad([cond, S.uncond_ids(cond, proc.ids.pad)], proc.ids.pad)
    with torch.no_grad():
        h = model.llm(model.llm.embed_tokens(ids), positions(valid), causal_mask(valid))
        logits = model.gen_head(h[:, -1]).float()
    return logits[0], logits[1]


def _draws(c, u, n: int, **kw) -> np.ndarray:
    code_hash = S.code_hashes(c.shape[0], "cpu")
    out = []
    for start in range(0, n, 500):
        streams = [
            S.Stream(0, S.stream_key(0, "stat", i), **kw) for i in range(start, min(n, start + 500))
        ]
        params = S.stream_params(streams, code_hash)
        m = len(streams)
        out.append(S.draw(c.expand(m, -1), u.expand(m, -1), params, torch.tensor(0)))
    return torch.cat(out).numpy()


def _chisquare_p(samples: np.ndarray, probs: np.ndarray, min_expected: float = 20.0) -> float:
    """Pearson chi-square of sample counts against `probs`, codes binned (in order of
    probability) so every bin expects at least `min_expected` draws."""
    n = len(samples)
    counts = np.bincount(samples, minlength=len(probs))
    order = np.argsort(-probs)
    exp_bins, obs_bins, e, o = [], [], 0.0, 0
    for i in order:
        e += probs[i] * n
        o += counts[i]
        if e >= min_expected:
            exp_bins.append(e)
            obs_bins.append(o)
            e, o = 0.0, 0
    exp_bins[-1] += e
    obs_bins[-1] += o
    expected = np.asarray(exp_bins) * n / sum(exp_bins)  # exact total despite float rounding
    return float(stats.chisquare(obs_bins, expected).pvalue)


@pytest.mark.slow
def test_draws_follow_the_cfg_softmax():
    c, u = _step0_logits(PROMPTS[0])
    z = u + 5.0 * (c - u)
    n = 2000
    samples = _draws(c, u, n, cfg_weight=5.0, temperature=1.0)
    assert _chisquare_p(samples, torch.softmax(z, -1).double().numpy()) > 1e-3
    # the test has power: the same draws are far from the unguided (conditional) softmax
    assert _chisquare_p(samples, torch.softmax(c, -1).double().numpy()) < 1e-6
    assert _chisquare_p(samples, torch.softmax(u + 4.0 * (c - u), -1).double().numpy()) < 1e-6
    hot = _draws(c, u, n, cfg_weight=5.0, temperature=2.0)
    assert _chisquare_p(hot, torch.softmax(z / 2, -1).double().numpy()) > 1e-3
    assert _chisquare_p(hot, torch.softmax(z, -1).double().numpy()) < 1e-6


@pytest.mark.slow
def test_top_k_and_top_p_draw_from_the_truncated_softmax():
    c, u = _step0_logits(PROMPTS[1])
    z = (u + 5.0 * (c - u)).double()
    probs = torch.softmax(z / 3, -1).numpy()  # temperature 3: a flat enough distribution
    order = np.argsort(-probs)
    for kw, keep in [
        ({"top_k": 40}, order[:40]),
        ({"top_p": 0.6}, order[: int(np.searchsorted(np.cumsum(probs[order]), 0.6)) + 1]),
    ]:
        samples = _draws(c, u, 1500, cfg_weight=5.0, temperature=3.0, **kw)
        assert set(samples.tolist()) <= set(keep.tolist())
        truncated = np.zeros_like(probs)
        truncated[keep] = probs[keep] / probs[keep].sum()
        assert _chisquare_p(samples, truncated) > 1e-3


def test_noise_is_uniform_and_independent():
    code_hash = S.code_hashes(16384, "cpu")
    lo, hi = S.split_keys([S.stream_key(0, "r", k) for k in range(4)], "cpu")
    base = S.stream_base(lo, hi, code_hash)
    g = torch.stack([S.gumbel_from_base(base, torch.tensor(t)) for t in range(3)])  # [3, 4, V]
    u = torch.exp(-torch.exp(-g.double())).flatten().numpy()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert torch.isfinite(g).all() and u.min() > 0 and u.max() < 1
    flat = g.reshape(12, -1).numpy()
    corr = np.corrcoef(flat)[np.triu_indices(12, 1)]
    assert np.abs(corr).max() < 0.05  # different (stream, step) pairs are uncorrelated
    again = S.gumbel_noise(lo[:1], hi[:1], torch.tensor(2), code_hash)
    assert torch.equal(again[0], g[2, 0])  # a pure function of (key, step, code)


def test_bad_requests_fail_before_any_work(monkeypatch):
    _, model, ids, sampler = _setup()
    calls = []
    monkeypatch.setattr(model.llm, "forward", lambda *a, **k: calls.append(1))
    for kw, msg in [
        ({"cfg_weight": -1.0}, "cfg_weight"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": -2}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
    ]:
        with pytest.raises(UserError, match=msg):
            sampler.generate(ids, _streams(2) + _streams(1, **kw))
    per_image = E.bytes_per_image(model, len(ids[1]), 16)
    monkeypatch.setattr(E, "available_bytes", lambda device: 10 * per_image)
    with pytest.raises(UserError, match=r"64 images per batch .* at most 8 fit"):
        sampler.generate(ids, _streams(64), rows=64)
    assert not calls


def test_memory_edges_and_a_single_code(monkeypatch):
    """Exactly as many images as fit are accepted; room for one image means one at a time; a
    sampler's own cache counts as free on its next call; n_tokens=1 is the first code."""
    _, model, ids, sampler = _setup()
    streams = _streams(3, temperature=0)
    full = sampler.generate(ids, streams)
    assert torch.equal(sampler.generate(ids, streams, n_tokens=1), full[:, :1])
    per_image = E.bytes_per_image(model, len(ids[1]), 16)
    monkeypatch.setattr(E, "available_bytes", lambda device: 10 * per_image)  # 8 fit
    eight = CFGSampler(model, 100015).generate(ids, _streams(8, temperature=0), rows=8)
    assert torch.equal(eight[:3], full)
    monkeypatch.setattr(E, "available_bytes", lambda device: int(1.25 * per_image) + 1)
    one = CFGSampler(model, 100015)
    assert torch.equal(one.generate(ids, streams), full)
    assert one._shape[0] == 1  # chunks of one image
    assert torch.equal(one.generate(ids, streams), full)  # its held cache is free again


def test_the_cache_a_sampler_holds_counts_as_free_memory(monkeypatch):
    """The allocator reports the sampler's own cache as used; the next chunk reuses it, so the
    memory check adds it back (else a sampler that fit 8 rows refuses 8 rows the second time)."""
    _, model, ids, _ = _setup()
    per_image = E.bytes_per_image(model, len(ids[1]), 16)
    sampler = CFGSampler(model, 100015)
    monkeypatch.setattr(E, "available_bytes", lambda device: 10 * per_image)  # 8 fit
    first = sampler.generate(ids, _streams(8, temperature=0), rows=8)
    held = sampler.held_bytes()
    assert held > 0
    monkeypatch.setattr(E, "available_bytes", lambda device: 10 * per_image - held)
    assert torch.equal(sampler.generate(ids, _streams(8, temperature=0), rows=8), first)


def test_rows_per_batch_option_is_checked_against_memory(monkeypatch):
    from janus_eval.model_adapters.janus.adapter import JanusAdapter
    from janus_helpers import tiny_dir

    from janus_eval.types import ImageRequest

    monkeypatch.setattr(E, "available_bytes", lambda device: 1 << 20)
    a = JanusAdapter(str(tiny_dir()), rows_per_batch=4096)
    with pytest.raises(UserError, match="rows_per_batch"):
        a.generate_images([ImageRequest("a cat", "r", n=4096)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA graphs, bf16)")
def test_cuda_graphs_agree_with_the_reference_loop():
    from janus_eval.model_adapters.janus.load import load_model
    from janus_helpers import tiny_dir

    proc = tiny_processor()
    ids = [proc.generation_ids(p) for p in PROMPTS]
    for dtype, need in (("fp32", 1.0), ("bf16", 0.9)):
        model, _ = load_model(tiny_dir(), "cuda", dtype)
        fast = CFGSampler(model, proc.ids.pad, cuda_graphs=True, compile=False)
        streams = _streams(6, temperature=0)
        got = fast.generate(ids, streams)
        ref = torch.cat(
            [
                reference_generate(model, ids[s.prompt], [s.key], proc.ids.pad, draw="argmax")
                for s in streams
            ]
        )
        agreement = float((got == ref).float().mean())
        print(
            f"{dtype}: CUDA-graph argmax tokens agree with the eager reference on {agreement:.1%}"
        )
        assert agreement >= need


def test_memory_plan_at_the_janus_1_3b_shapes():
    """bytes_per_image by hand for Janus-1.3B in bf16 (24 layers, 16 KV heads of 128, FFN 5632,
    width 2048, 16384 codes), a 40-token prompt and 576 codes: 624 cache slots
    (40 + 575 rounded up to 16); KV 2 x 2 x 24 x 16 x 128 x 624 x 2 B = 245,366,784; step
    2 x 16384 x 44 B = 1,441,792; prefill 2 x 40 x (3 x 5632 + 6 x 2048) x 2 B + 2 x 16 x 40^2
    x 4 B = 4,874,240."""
    from janus_eval.model_adapters.janus.bench.generate import model_config
    from janus_eval.model_adapters.janus.load import build_empty

    model = build_empty(model_config("janus-1.3b"), "meta", torch.bfloat16)
    assert E.cache_slots(40, 576) == 624
    assert [E.cache_slots(p, 1) for p in (1, 16, 17)] == [16, 16, 32]
    assert E.bytes_per_image(model, 40, 576) == 245_366_784 + 1_441_792 + 4_874_240
