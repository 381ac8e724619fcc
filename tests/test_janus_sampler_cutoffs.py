"""The CFG sampler's exact edges, deterministically: which codes top-k and top-p keep at their
cutoffs (ties included), and the unconditional row's token ids as a literal list. Statistical
tests (test_janus_sampler.py) cannot see an off-by-one at a cutoff; these can."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from janus_eval.model_adapters.janus import sampling as S
from janus_eval.model_adapters.janus.sampler import CFGSampler
from janus_helpers import one_thread, tiny_model  # noqa: F401

from janus_eval.types import UserError

pytestmark = pytest.mark.usefixtures("one_thread")

INF = float("-inf")


def kept(z, top_k=None, top_p=None) -> list[set[int]]:
    """Codes each row keeps (finite logits after truncation)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    z = z[None] if z.dim() == 1 else z
    n = z.shape[0]
    k = None if top_k is None else torch.as_tensor(top_k, dtype=torch.int64).expand(n)
    p = None if top_p is None else torch.as_tensor(top_p, dtype=torch.float32).expand(n)
    out = S.truncate(z, k, p)
    assert torch.equal(out[torch.isfinite(out)], z[torch.isfinite(out)])  # kept logits unchanged
    return [set(torch.isfinite(row).nonzero().flatten().tolist()) for row in out]


def log(probs) -> list[float]:
    return [math.log(x) for x in probs]


def test_top_k_keeps_exactly_the_k_largest():
    z = [0.5, 3.0, 1.0, 2.0, -1.0]
    assert kept(z, top_k=1) == [{1}]
    assert kept(z, top_k=2) == [{1, 3}]
    assert kept(z, top_k=3) == [{1, 2, 3}]
    assert kept(z, top_k=5) == [{0, 1, 2, 3, 4}]
    assert kept(z, top_k=0) == [{0, 1, 2, 3, 4}]  # 0: no truncation
    assert kept(z, top_k=99) == [{0, 1, 2, 3, 4}]  # k above the vocabulary: all


def test_top_k_keeps_every_tie_at_the_cutoff():
    z = [2.0, 3.0, 2.0, 1.0, 2.0]
    assert kept(z, top_k=2) == [{0, 1, 2, 4}]  # the 2nd largest value is shared by three codes
    assert kept(z, top_k=4) == [{0, 1, 2, 4}]
    assert kept(z, top_k=5) == [{0, 1, 2, 3, 4}]
    assert kept([1.0, 1.0, 1.0], top_k=1) == [{0, 1, 2}]


def test_top_p_keeps_the_code_that_crosses_p():
    # probabilities 0.45 (code 1), 0.3 (3), 0.15 (2), 0.1 (0): cumulative 0.45, 0.75, 0.9, 1
    z = log([0.1, 0.45, 0.15, 0.3])
    assert kept(z, top_p=0.44) == [{1}]  # code 1 alone already crosses 0.44
    assert kept(z, top_p=0.46) == [{1, 3}]  # code 3 crosses 0.46: kept
    assert kept(z, top_p=0.6) == [{1, 3}]
    assert kept(z, top_p=0.74) == [{1, 3}]
    assert kept(z, top_p=0.76) == [{1, 2, 3}]
    assert kept(z, top_p=0.95) == [{0, 1, 2, 3}]
    assert kept(z, top_p=1.0) == [{0, 1, 2, 3}]
    # one code above p: that code, never nothing (dropping the crossing code left no code)
    assert kept(log([0.05, 0.9, 0.05]), top_p=0.5) == [{1}]


def test_top_p_keeps_every_tie_at_the_cutoff():
    z = log([0.4, 0.2, 0.2, 0.2])  # three exactly equal logits
    assert z[1] == z[2] == z[3]
    assert kept(z, top_p=0.3) == [{0}]
    assert kept(z, top_p=0.5) == [{0, 1, 2, 3}]  # the crossing code is one of three ties
    assert kept(log([0.3, 0.1, 0.3, 0.3]), top_p=0.2) == [{0, 2, 3}]
    # the answer does not depend on where the ties sit
    for perm in ([3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1]):
        (got,) = kept([z[i] for i in perm], top_p=0.5)
        assert got == {0, 1, 2, 3}
        (got,) = kept([[0.0, 1.0, 1.0, 0.5][i] for i in perm], top_k=2)
        assert got == {j for j, i in enumerate(perm) if i in (1, 2)}


def test_top_p_applies_to_what_top_k_left_renormalised():
    z = log([0.4, 0.3, 0.2, 0.1])
    assert kept(z, top_p=0.5) == [{0, 1}]  # 0.4 < 0.5 over all codes
    # top-k 2 first: codes 0 and 1 renormalised to 4/7 and 3/7, so 4/7 >= 0.5 alone
    assert kept(z, top_k=2, top_p=0.5) == [{0}]
    assert kept(z, top_k=3, top_p=0.99) == [{0, 1, 2}]


def test_rows_keep_their_own_settings_and_neutral_rows_keep_everything():
    """A chunk mixes images with and without top-k/top-p: the others get k = 0 and p = 1, which
    must keep every code, even ones whose probability underflows the cumulative sum."""
    z = torch.tensor([[0.0, -50.0, -100.0, -200.0], log([0.1, 0.45, 0.15, 0.3])])
    both = lambda k, p: S.truncate(z, torch.tensor(k), torch.tensor(p))  # noqa: E731
    out = both([0, 2], [1.0, 1.0])
    assert torch.isfinite(out[0]).all() and torch.isfinite(out[1]).sum() == 2
    out = both([0, 0], [1.0, 0.6])
    assert torch.isfinite(out[0]).all() and torch.isfinite(out[1]).nonzero().flatten().tolist() == [
        1,
        3,
    ]


def _brute_force(z: np.ndarray, k: int, p: float) -> set[int]:
    """The documented rule, one code at a time in float64: top-k threshold, then codes taken
    in order of probability while the mass before them is below p; ties of the last one kept."""
    order = sorted(range(len(z)), key=lambda i: -z[i])
    if k:
        thr = z[order[min(k, len(z)) - 1]]
        order = [i for i in order if z[i] >= thr]
    w = np.exp(z[order] - z[order].max())
    w /= w.sum()
    mass, last = 0.0, None
    for i, wi in zip(order, w):
        if mass >= p:
            break
        last, mass = z[i], mass + wi
    return {i for i in order if z[i] >= last}


def test_truncation_equals_a_brute_force_rule_on_random_rows_with_ties():
    rng = np.random.default_rng(0)
    z = (rng.integers(-12, 12, size=(40, 64)) / 4).astype(np.float32)  # many exact ties
    k = rng.integers(0, 20, size=40)
    p = rng.uniform(0.05, 0.999, size=40).astype(np.float32)
    got = kept(z, top_k=k, top_p=p)
    want = [_brute_force(z[i].astype(np.float64), int(k[i]), float(p[i])) for i in range(40)]
    assert got == want
    assert sum(len(g) for g in got) > 40  # not a trivial one-code-each case


def test_draws_stay_inside_the_cutoff_and_reach_both_sides_of_it():
    """Gumbel draws at temperature 1 over two near-equal top codes: with top_k=2 (or top_p just
    above the first code's mass) every draw is one of those two and both occur; with top_k=1 (or
    top_p below it) every draw is the top code."""
    c = torch.tensor(log([0.1, 0.36, 0.06, 0.34, 0.14]))
    n = 200
    code_hash = S.code_hashes(5, "cpu")

    def codes(**kw) -> set[int]:
        streams = [S.Stream(0, S.stream_key(1, "cut", i), cfg_weight=1.0, **kw) for i in range(n)]
        params = S.stream_params(streams, code_hash)
        return set(S.draw(c.expand(n, -1), c.expand(n, -1), params, torch.tensor(3)).tolist())

    assert codes() == {0, 1, 2, 3, 4}
    assert codes(top_k=2) == {1, 3}
    assert codes(top_p=0.37) == {1, 3}
    assert codes(top_k=1) == {1}
    assert codes(top_p=0.35) == {1}


def test_top_k_1_and_a_tiny_top_p_give_the_argmax_tokens():
    """Through the whole sampler: sampling at temperature 1 from one code is argmax decoding."""
    model = tiny_model()
    ids = [[100000, 100588, 25, 220, 64, 220, 66, 64, 83, 198, 198, 100589, 25, 100016]]
    sampler = CFGSampler(model, 100015)
    greedy = sampler.generate(
        ids, [S.Stream(0, S.stream_key(5, "g", i), temperature=0) for i in range(2)]
    )
    for kw in ({"top_k": 1}, {"top_p": 1e-4}):
        streams = [S.Stream(0, S.stream_key(5, "g", i), temperature=1.0, **kw) for i in range(2)]
        assert torch.equal(sampler.generate(ids, streams), greedy), kw
    sampled = sampler.generate(ids, [S.Stream(0, S.stream_key(5, "g", i)) for i in range(2)])
    assert not torch.equal(sampled, greedy)  # the comparison has power: sampling differs


BOS, PAD, BOI = 100000, 100015, 100016


def test_unconditional_ids_are_upstreams():
    """generation_inference.py: `tokens[i, 1:-1] = pad_id` for odd rows; the first token (BOS)
    and the last (`<begin_of_image>`) stay."""
    cond = [BOS, 100588, 25, 220, 64, 220, 66, 64, 83, 198, 198, 100589, 25, BOI]
    assert S.uncond_ids(cond, PAD) == [BOS, *[PAD] * 12, BOI]
    assert S.uncond_ids([BOS, 7, BOI], PAD) == [BOS, PAD, BOI]
    assert S.uncond_ids([BOS, BOI], PAD) == [BOS, BOI]


def test_the_sampler_prefills_these_rows():
    """The prefill's token ids, captured at the embedding: conditional rows, then the
    unconditional ones, left-padded to the longest prompt."""
    model = tiny_model()
    seen = []
    hook = model.llm.embed_tokens.register_forward_hook(lambda m, a, out: seen.append(a[0]))
    try:
        prompts = [[BOS, 100588, 25, 64, BOI], [BOS, 66, BOI]]
        streams = [S.Stream(1, 11, temperature=0), S.Stream(0, 12, temperature=0)]
        CFGSampler(model, PAD).generate(prompts, streams, n_tokens=2)
    finally:
        hook.remove()
    assert seen[0].tolist() == [
        [BOS, 100588, 25, 64, BOI],
        [PAD, PAD, BOS, 66, BOI],
        [BOS, PAD, PAD, PAD, BOI],
        [PAD, PAD, BOS, PAD, BOI],
    ]


# The noise, redone in plain Python from its definition (sampler/sampling docstrings): an image's
# tokens are a function of (seed, request id, image, step, code) through exactly this hash, so a
# changed constant would silently change every image of every stored run.
_M32 = 0xFFFFFFFF


def _mix(x: int) -> int:
    for _ in range(2):
        x ^= x >> 16
        x = (x * 0x45D9F3B) & _M32
    return x ^ (x >> 16)


def _gumbel(key: int, step: int, code: int) -> float:
    base = _mix(_mix(_mix(code + 0x1B873593) ^ (key & _M32)) ^ ((key >> 32) & _M32))
    s = _mix((step * 0x2545F491 + 0x3C6EF372) & _M32)
    u = ((_mix(base ^ s) >> 9) + 0.5) / 2**23  # 23 bits: exact in float32 too
    return -math.log(-math.log(u))


def test_the_noise_is_the_documented_hash():
    import hashlib

    keys = [S.stream_key(0, "req", 0), S.stream_key(7, "a/b", 3)]
    for (seed, rid, k), key in zip([(0, "req", 0), (7, "a/b", 3)], keys):
        digest = hashlib.sha256(f"janus-eval/image\x1f{seed}\x1f{rid}\x1f{k}".encode()).digest()
        assert key == int.from_bytes(digest[:8], "little")
    codes = [0, 1, 2, 777, 16383]
    lo, hi = S.split_keys(keys, "cpu")
    code_hash = S.code_hashes(16384, "cpu")
    for step in (0, 1, 575):
        got = S.gumbel_noise(lo, hi, torch.tensor(step), code_hash)[:, codes]
        want = torch.tensor([[_gumbel(key, step, c) for c in codes] for key in keys])
        assert torch.allclose(got.double(), want.double(), rtol=1e-6, atol=1e-6), step


def test_images_without_top_k_or_top_p_keep_every_code_beside_ones_with_them():
    """One chunk mixes requests: an image that sets neither gets k = 0 and p = 1 (no
    truncation), so its draw is the one it makes alone."""
    code_hash = S.code_hashes(5, "cpu")
    mixed = [S.Stream(0, 1, top_k=2), S.Stream(0, 2, top_p=0.5), S.Stream(0, 3)]
    params = S.stream_params(mixed, code_hash)
    assert params["top_k"].tolist() == [2, 0, 0]
    assert params["top_p"].tolist() == [1.0, 0.5, 1.0]
    c = torch.tensor(log([0.3, 0.25, 0.2, 0.15, 0.1]))
    for step in range(20):
        together = S.draw(c.expand(3, -1), c.expand(3, -1), params, torch.tensor(step))
        alone = S.draw(c[None], c[None], S.stream_params(mixed[2:], code_hash), torch.tensor(step))
        assert together[2] == alone[0]
    assert "top_k" not in S.stream_params(mixed[2:], code_hash)


@pytest.mark.parametrize(
    "kw", [{"cfg_weight": 0.0}, {"cfg_weight": 0.5}, {"top_k": 0}, {"top_p": 1.0}, {"top_p": 1e-6}]
)
def test_edge_values_that_are_allowed(kw):
    S.validate([S.Stream(0, 1, **kw)])  # cfg 0: unguided; top_k 0 and top_p 1: no truncation


@pytest.mark.parametrize("kw", [{"top_p": 1.5}, {"top_p": -0.1}, {"top_k": -1}])
def test_edge_values_that_are_refused(kw):
    with pytest.raises(UserError, match=next(iter(kw))):
        S.validate([S.Stream(0, 1, **kw)])
