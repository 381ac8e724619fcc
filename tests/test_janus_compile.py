"""Both decode steps under torch.compile(fullgraph=True) on the CPU: one graph for a whole
generation (no graph break, no recompilation as the KV length grows step by step or bucket by
bucket), and the same tokens as eager.

Two backends. "aot_eager" runs dynamo's capture and AOTAutograd's tracing, everything that
decides graph breaks and recompilations, in a second or two. Inductor, what `compile=True`
runs, adds code generation and a C++ compile; that test is marked slow and checks tokens.
"""

from __future__ import annotations

import contextlib
import functools
import time

import pytest
import torch
from janus_eval.model_adapters.janus import sampler as S
from janus_eval.model_adapters.janus.understand import GreedyDecoder
from janus_helpers import one_thread, random_image, tiny_model, tiny_processor  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")

PAD = 100015
PROMPTS = [  # three lengths: left padding, and a KV length that differs per row
    [100000, 100588, 25, 220, 64, 220, 66, 64, 83, 198, 198, 100589, 25, 100016],
    [100000, 100588, 25, 220, 77, 198, 198, 100589, 25, 100016],
    [100000, 100588, 25, 100589, 25, 100016],
]
ITEMS = [
    ("What is in this picture? Answer briefly.", (random_image(3, 32, 32),), None),
    ("Hi", (), ""),
]


@contextlib.contextmanager
def compiled_with(backend: str, monkeypatch):
    """torch.compile with `backend` for code that calls torch.compile itself; yields dynamo's
    counters, reset first; any recompilation raises."""
    from torch._dynamo.utils import counters

    real = torch.compile
    monkeypatch.setattr(torch, "compile", functools.partial(real, backend=backend))
    torch._dynamo.reset()
    counters.clear()
    with torch._dynamo.config.patch(error_on_recompile=True):
        yield counters
    torch._dynamo.reset()


def _streams(**kw) -> list[S.Stream]:
    return [S.Stream(i % 3, S.stream_key(11, f"r{i % 3}", i), **kw) for i in range(6)]


def _sampler_runs(compiled: bool) -> list[torch.Tensor]:
    """A full generation each: exact KV lengths (one more every step), then the GPU path's
    bucketed lengths with its warm-up steps; sampled and greedy streams."""
    model = tiny_model()
    plain = S.CFGSampler(model, PAD, compile=compiled)
    gpu_like = S.CFGSampler(
        model, PAD, compile=compiled, fixed_shapes=True, rehearse=True, bucket=8
    )
    return [
        plain.generate(PROMPTS, _streams()),
        plain.generate(PROMPTS, _streams(temperature=0)),
        gpu_like.generate(PROMPTS, _streams(cfg_weight=3.0, temperature=0.7)),
    ]


def _greedy_runs(compiled: bool) -> list[list[list[int]]]:
    """Two batches with different KV buckets through one decoder (bucket 16: the first attends
    over 48 slots, the second over 64)."""
    proc = tiny_processor()
    decoder = GreedyDecoder(tiny_model(), compile=compiled, bucket=16)
    first = decoder.greedy(proc.understanding_batch(ITEMS), [6, 3], {proc.ids.eos})
    second = decoder.greedy(proc.understanding_batch(ITEMS[1:]), [30], {proc.ids.eos})
    assert decoder.last_steps == 29
    return [first, second]


def test_the_steps_compile_to_one_graph_with_no_break_or_recompilation(monkeypatch):
    want_codes, want_answers = _sampler_runs(False), _greedy_runs(False)
    with compiled_with("aot_eager", monkeypatch) as counters:
        codes = _sampler_runs(True)
        assert counters["stats"]["unique_graphs"] == 1  # every KV length, both runs
        answers = _greedy_runs(True)
        assert counters["stats"]["unique_graphs"] == 2  # one more: the greedy step
        assert not counters["graph_break"]
    for got, want in zip(codes, want_codes):
        assert torch.equal(got, want)
    assert answers == want_answers


def test_a_kv_length_int_would_recompile(monkeypatch):
    """The test above has power: the step fed kv_len as a plain int (no dynamic tensor length)
    is recompiled when the length changes."""
    from janus_eval.model_adapters.janus import engine, llm

    monkeypatch.setattr(llm, "decode_keys", lambda arange, n, compiled: arange[:n])
    monkeypatch.setattr(engine, "decode_keys", llm.decode_keys)
    with compiled_with("aot_eager", monkeypatch), pytest.raises(Exception, match="ecompil"):
        S.CFGSampler(tiny_model(), PAD, compile=True).generate(PROMPTS, _streams(), n_tokens=4)


@pytest.mark.slow
def test_inductor_gives_the_eager_tokens(monkeypatch):
    """What compile=True runs (inductor, C++ on the CPU): the same codes and answers as eager,
    one graph per step function. Measured on the 2-core test machine: about 30-60 s cold (C++
    compiles), seconds with inductor's cache warm."""
    want_codes = _sampler_runs(False)[:2]
    want_answers = _greedy_runs(False)
    t0 = time.perf_counter()
    with compiled_with("inductor", monkeypatch) as counters:
        model = tiny_model()
        sampler = S.CFGSampler(model, PAD, compile=True)
        codes = [
            sampler.generate(PROMPTS, _streams()),
            sampler.generate(PROMPTS, _streams(temperature=0)),
        ]
        answers = _greedy_runs(True)
        assert counters["stats"]["unique_graphs"] == 2 and not counters["graph_break"]
    print(f"inductor: compiled and ran both steps in {time.perf_counter() - t0:.1f} s")
    for got, want in zip(codes, want_codes):
        assert torch.equal(got, want)
    assert answers == want_answers
