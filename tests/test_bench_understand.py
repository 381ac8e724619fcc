"""`janus-eval bench understand` on the toy shapes, CPU float32: every field, answers equal to
one at a time and to transformers, and the floor arithmetic at the real shapes."""

from __future__ import annotations

import json

import pytest
from janus_eval.model_adapters.janus.bench.understand import floor, janus_config, run

from janus_eval.types import UserError


def test_smoke_run_reports_speed_floor_and_agreement():
    # 6 questions in batches of 4: the second batch has 2 dummy rows
    out = run(size="tiny", questions=6, batch_size=4, baselines=True, device="cpu", dtype="fp32")
    assert out["card"] == "cpu" and out["torch"] and out["transformers"]
    assert out["questions"] == 6 and out["new_tokens"] == 10
    assert out["prompt_tokens"]["min"] < out["prompt_tokens"]["max"]  # padding exercised
    assert out["questions_per_s"] > 0 and out["prefill_ms_per_batch"] > 0
    assert out["decode_steps"] == 2 * 9 and out["decode_ms_per_step"] > 0  # no EOS at random
    assert out["floor"]["questions_per_s"] > 0 and 0 < out["fraction_of_floor"] < 1
    assert out["peak_gpu_memory_gib"] is None
    # float32: batched answers are exactly the one-at-a-time ones, ours and transformers'
    assert out["agreement_vs_ours_one_at_a_time"] == 1.0 and out["agreement_questions"] == 6
    assert out["agreement_vs_transformers"] == 1.0 and out["transformers_questions"] == 6
    assert out["transformers_one_at_a_time_questions_per_s"] > 0
    assert out["speedup_vs_transformers"] > 0
    json.dumps(out)  # what the CLI prints


def test_floor_at_the_real_shapes():
    """Janus-1.3B: the LLM's matmul weights are 1.233e9 parameters, so a 616-token prefill is
    2 x 1.233e9 x 616 = 1.52 TFLOP, ~0.4 more with SigLIP and attention: the issue's "compute
    floor near 400 questions/s"; decode steps read the weights plus 64 rows of KV cache."""
    small = floor(janus_config("janus-1.3b"), 616, 64)
    assert 1.85 < small["prefill_tflop_per_question"] < 2.05
    assert 380 < 1e3 / small["prefill_ms_per_question"] < 420
    # weights 2.9 GB + 64 rows x 24 layers x 2 x 2048 x 2 bytes x 621 slots = 7.8 GB
    assert 10.4 < small["decode_step_gb"] < 11.0
    big = floor(janus_config("janus-pro-7b"), 616, 64)
    assert 7.5 < big["prefill_tflop_per_question"] < 8.5
    assert 40 < big["questions_per_s"] < small["questions_per_s"] / 3


def test_refusals_are_user_errors():
    import torch

    with pytest.raises(UserError, match="random weights"):
        run(size="tiny", random_weights=False, device="cpu")
    with pytest.raises(UserError, match="unknown size"):
        run(size="janus-13b", device="cpu")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here, so --device cuda is not refused")
    with pytest.raises(UserError, match="--device cpu"):
        run(size="tiny", questions=2, device="cuda")


def test_cli_prints_the_report(cli, tmp_path):
    proc = cli("bench", "understand", "--size", "tiny", "--device", "cpu", "--dtype", "fp32",
               "--questions", "3", "--batch-size", "2", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["size"] == "tiny" and out["questions"] == 3 and "speedup_vs_transformers" not in out
    assert out["agreement_vs_ours_one_at_a_time"] == 1.0
