"""`bench generate` runs end to end on the CPU at the tiny size (the GPU numbers are in
docs/PERFORMANCE.md), and its bandwidth floor is the arithmetic the issue quotes."""

from __future__ import annotations

import pytest
from janus_eval.model_adapters.janus.bench import generate as bench
from janus_helpers import one_thread  # noqa: F401

from janus_eval.types import UserError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.slow
def test_bench_generate_smoke_on_cpu():
    out = bench.run(
        "tiny",
        images_per_prompt=3,
        prompts=2,
        baselines=True,
        device="cpu",
        dtype="fp32",
        steps=8,
        repeats=1,
    )
    assert out["images"] == 6 and out["rows"] == 12 and out["steps"] == 8
    for key in (
        "images_per_s",
        "ms_per_step",
        "prefill_ms",
        "vq_decode_ms",
        "floor_ms_per_step",
        "fraction_of_floor",
        "hf_generate_images_per_s",
        "upstream_loop_images_per_s",
        "speedup_vs_hf_generate",
        "speedup_vs_upstream_loop",
    ):
        assert out[key] > 0, key
    assert out["peak_gpu_mem_gb"] is None and out["torch"] and out["transformers"]


def test_floor_matches_the_issue_arithmetic():
    """Janus-1.3B: 2.55 GB of weights per step, ~2 GB of KV for 32 rows at the mean context,
    1.54 ms at 3.0 TB/s; Janus-Pro-7B: ~5.8 ms (issue 4 and anchors/README.md)."""
    from janus_eval.model_adapters.janus.load import build_empty

    for size, weights_gb, floor_ms in (("janus-1.3b", 2.55, 1.54), ("janus-pro-7b", 12.35, 5.83)):
        model = build_empty(bench.model_config(size), "meta", __import__("torch").bfloat16)
        w, kv = bench.step_bytes(model, rows=32, prompt=40, steps=576)
        assert abs(w / 1e9 - weights_gb) < 0.02
        assert abs((w + kv) / 3.0e12 * 1000 - floor_ms) < 0.02


def test_bench_rejects_bad_arguments():
    with pytest.raises(UserError, match="unknown size"):
        bench.run("janus-13b", device="cpu")
    with pytest.raises(UserError, match="steps"):
        bench.run("tiny", device="cpu", dtype="fp32", steps=10_000)
