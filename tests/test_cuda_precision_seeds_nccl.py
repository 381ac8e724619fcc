"""The CUDA paths issue 13 names that tests/test_cuda_paths.py does not reach: bf16 and fp16
forward passes on the GPU against fp32 on the CPU, seeded images that do not change with the
batch size on the GPU, and NCCL initialisation for one process. Skipped without a GPU (the
reason puts them in `pytest -m cuda`, which scripts/gpu_acceptance.sh runs). Written without a
GPU to run them on: their first run is the first acceptance run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (bf16/fp16 kernels, seeds, NCCL)"
)

PROMPTS = ["a photo of a cat", "two red cubes and a green sphere on a wooden table", "a dog"]
# The CPU bounds of test_janus_precision.py (about twice what the CPU measured): GPU kernels
# round differently, not worse.
BOUNDS = {"bf16": (0.05, 0.93), "fp16": (0.005, 0.98)}


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_reduced_precision_forward_on_cuda_agrees_with_fp32(dtype):
    from janus_eval.model_adapters.janus.load import load_model
    from janus_eval.model_adapters.janus.understand import prefill_logits
    from janus_helpers import parity_batch, rel_err, tiny_dir, tiny_model

    model, _ = load_model(tiny_dir(), "cuda", dtype)
    assert model.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    batch = parity_batch()
    with torch.no_grad():
        got = prefill_logits(model, batch).float().cpu()[batch.valid]
        ref = prefill_logits(tiny_model(), batch).float()[batch.valid]
    err, top1 = rel_err(got, ref), float((got.argmax(-1) == ref.argmax(-1)).float().mean())
    print(f"{dtype} on CUDA: logits rel {err:.2g}, top-1 {top1:.1%}")
    assert 1e-5 < err <= BOUNDS[dtype][0] and top1 >= BOUNDS[dtype][1]


def test_seeded_images_on_cuda_do_not_change_with_the_batch_size():
    """As test_janus_sampler.py's CPU test, on the CUDA path as run by default (CUDA graphs per
    KV bucket, chunks padded to a multiple of 8), fp32, compile off (inductor may reorder
    sums): 16 rows at once, 3 at a time, one at a time, shuffled."""
    from janus_eval.model_adapters.janus import sampler as S
    from janus_eval.model_adapters.janus.load import load_model
    from janus_helpers import tiny_dir, tiny_processor

    proc = tiny_processor()
    ids = [proc.generation_ids(p) for p in PROMPTS]
    model, _ = load_model(tiny_dir(), "cuda", "fp32")
    sampler = S.CFGSampler(model, proc.ids.pad, compile=False)
    assert sampler.cuda_graphs
    streams = [S.Stream(i % 3, S.stream_key(7, f"req{i % 3}", i)) for i in range(16)]
    full = sampler.generate(ids, streams, rows=16).cpu()
    assert torch.equal(sampler.generate(ids, streams, rows=3).cpu(), full)
    one = torch.cat([sampler.generate(ids, [s], rows=1).cpu() for s in streams])
    assert torch.equal(one, full)
    order = torch.randperm(16, generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = sampler.generate(ids, [streams[i] for i in order], rows=16).cpu()
    assert torch.equal(shuffled, full[order])
    assert not torch.equal(full[0], full[3])  # same prompt, another image index


NCCL_ONE_RANK = textwrap.dedent(
    """
    import torch, torch.distributed as dist
    from janus_eval.distributed import barrier, gather_to_rank0
    torch.cuda.set_device(0)
    dist.init_process_group("nccl")
    assert dist.get_backend() == "nccl", dist.get_backend()
    t = torch.arange(4.0, device="cuda")
    dist.all_reduce(t)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0], t
    assert gather_to_rank0({"ids": ["a", "b"]}) == [{"ids": ["a", "b"]}]
    barrier()
    dist.destroy_process_group()
    print("nccl ok")
    """
)


def test_nccl_initialises_for_one_process():
    """One rank, one GPU: the NCCL process group comes up, a collective runs, and the object
    gather rank 0 uses to merge results works over NCCL."""
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29517", "RANK": "0",
           "LOCAL_RANK": "0", "WORLD_SIZE": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", NCCL_ONE_RANK], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip
    assert done.returncode == 0 and "nccl ok" in done.stdout, done.stderr[-3000:]
