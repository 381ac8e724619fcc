"""The CUDA-only branches, each checked against the CPU path the rest of the suite verifies.
Skipped without a GPU; docs/PERFORMANCE.md lists every CUDA-only branch and its test here.

Kept small (janus-tiny, a few images) so the whole file takes seconds on a GPU after the first
compilations."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA graphs, autocast, NCCL)"
)

PAD = 100015
PROMPTS = [
    [100000, 100588, 25, 220, 64, 220, 66, 64, 83, 198, 198, 100589, 25, 100016],
    [100000, 100588, 25, 100589, 25, 100016],
]


def _cuda_model(dtype: str = "fp32"):
    from janus_eval.model_adapters.janus.load import load_model
    from janus_helpers import tiny_dir

    return load_model(tiny_dir(), "cuda", dtype)[0]


@pytest.mark.parametrize("compile", [False, True])
def test_greedy_decoder_graphs_answer_as_the_cpu(compile):
    """GreedyDecoder._graph (capture, replay), the every-8-steps done check, dummy rows of a
    smaller batch, and (compile=True) one compiled step for two KV buckets."""
    from janus_eval.model_adapters.janus.understand import GreedyDecoder
    from janus_helpers import random_image, tiny_model, tiny_processor

    proc = tiny_processor()
    items = [
        ("What is in this picture?", (random_image(3, 32, 32),), None),
        ("Hi", (), ""),
        ("Compare <image> and <image>", (random_image(4, 32, 32), random_image(5, 16, 16)), None),
    ]
    budgets, stops = [20, 5, 12], {proc.ids.eos}
    cpu = GreedyDecoder(tiny_model(), bucket=16)
    gpu = GreedyDecoder(_cuda_model(), compile=compile, bucket=16)
    assert gpu.cuda_graphs and gpu.check_every == 8
    batch = proc.understanding_batch(items)
    assert gpu.greedy(batch, budgets, stops) == cpu.greedy(batch, budgets, stops)
    small = proc.understanding_batch(items[1:2])  # 1 real row, 2 dummy rows, another bucket
    assert gpu.greedy(small, [40], stops) == cpu.greedy(small, [40], stops)
    assert len(gpu._graphs) == 2


@pytest.mark.parametrize("compile", [False, True])
def test_sampler_graphs_make_the_cpu_tokens(compile):
    """CFGSampler's CUDA path as run by default (compile=True, CUDA graphs per KV bucket on one
    memory pool, chunks padded to a multiple of 8) against the CPU's eager tokens: argmax and
    Gumbel draws, fp32."""
    from janus_eval.model_adapters.janus import sampler as S
    from janus_helpers import tiny_model

    streams = [S.Stream(i % 2, S.stream_key(3, f"r{i % 2}", i)) for i in range(5)]
    streams += [S.Stream(i % 2, S.stream_key(3, "g", i), temperature=0) for i in range(2)]
    want = S.CFGSampler(tiny_model(), PAD).generate(PROMPTS, streams)
    gpu = S.CFGSampler(_cuda_model(), PAD, compile=compile, bucket=8)
    assert gpu.cuda_graphs and gpu.compile == compile
    got = gpu.generate(PROMPTS, streams)
    agreement = float((got == want).float().mean())
    print(f"compile={compile}: CUDA-graph tokens equal the CPU's on {agreement:.1%}")
    assert agreement >= (0.98 if compile else 1.0)  # inductor may reorder float sums
    assert len(next(iter(gpu._graphs.values()))) == 4  # KV buckets 8, 16, 24, 32


def test_auto_batch_size_reads_free_gpu_memory(monkeypatch):
    from janus_eval.model_adapters.janus.adapter import JanusTinyAdapter

    adapter = JanusTinyAdapter(device="cuda", dtype="bf16")
    sizes = [adapter.auto_batch_size(kind) for kind in ("understanding", "generation")]
    assert all(1 <= n <= 256 for n in sizes)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1 << 20, 1 << 30))
    assert adapter.auto_batch_size("understanding") == 1


def test_bench_commands_time_and_measure_memory_on_cuda():
    from janus_eval.model_adapters.janus.bench import generate, understand

    out = generate.run("tiny", images_per_prompt=2, prompts=2, device="cuda", dtype="bf16",
                       steps=8, repeats=1)  # fmt: skip
    assert out["images_per_s"] > 0 and out["peak_gpu_mem_gb"] > 0 and out["cuda_graphs"]
    out = understand.run(size="tiny", questions=4, batch_size=2, device="cuda", dtype="bf16")
    assert out["questions_per_s"] > 0 and out["peak_gpu_memory_gib"] > 0


def test_fid_on_cuda_matches_clean_fid(tmp_path):
    """The feature device's defaults: resize="torch" on the GPU, pinned host memory."""
    from cleanfid import fid as cleanfid
    from test_fid_cleanfid_parity import EXT, SIZES

    from janus_eval.metrics import fid
    from janus_eval.metrics.fid.bench import synthesize_folder

    a = synthesize_folder(tmp_path / "a", 10, seed=2, sizes=SIZES, ext="png")
    b = synthesize_folder(tmp_path / "b", 12, seed=3, sizes=SIZES)
    want = cleanfid.compute_fid(str(a), str(b), mode="clean", custom_feat_extractor=EXT,
                                device=torch.device("cpu"), num_workers=0, verbose=False)  # fmt: skip
    got = fid.compute_fid(a, b, extractor=EXT, device="cuda", num_workers=0)
    assert got == pytest.approx(float(want), rel=1e-4)  # GPU convolutions round differently


def test_nccl_ranks_merge_to_the_single_process_result(tmp_path):
    """distributed.launched_world picks NCCL and one GPU per rank when CUDA is there."""
    if torch.cuda.device_count() < 2:
        pytest.skip("NCCL needs a GPU per rank; this machine has one")
    from janus_eval import api

    single = api.evaluate("toy-qa", "dummy", output_dir=tmp_path / "single")
    env = {k: v for k, v in os.environ.items() if k != "JANUS_EVAL_DIST_BACKEND"}
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "janus_eval", "run", "--task", "toy-qa", "--model", "dummy", "--device", "cuda",
         "--no-progress", "--output-dir", str(tmp_path / "two")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    import json

    (record,) = (tmp_path / "two").glob("*/run.json")
    assert json.loads(record.read_text())["metrics"] == single.metrics
