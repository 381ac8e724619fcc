"""Running one evaluation across processes with torch.distributed (torchrun or any launcher).

Each rank takes the samples whose id hashes to it, stores its own results in its own file, and
sends them to rank 0, which aggregates exactly as a single process would. Nothing here is needed
for a single-process run, and torch is imported only when a launch is detected.
"""

from __future__ import annotations

import os
from typing import Any


def launched_world() -> tuple[int, int] | None:
    """(rank, world size) when started by a torch.distributed launcher with more than one rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    import torch.distributed as dist

    if not dist.is_initialized():
        import torch

        backend = (
            "nccl"
            if torch.cuda.is_available() and os.environ.get("JANUS_EVAL_DIST_BACKEND", "") != "gloo"
            else "gloo"
        )
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def local_device(device: str) -> str:
    """Give each rank its own GPU: `cuda` becomes `cuda:<LOCAL_RANK>` under a launcher."""
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{os.environ['LOCAL_RANK']}"
    return device


def gather_to_rank0(obj: Any) -> list[Any] | None:
    """Every rank's `obj` on rank 0 (in rank order), None elsewhere. Uses the gloo-compatible
    object collective, so features travel as arrays and images never do."""
    import torch.distributed as dist

    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def barrier() -> None:
    import torch.distributed as dist

    dist.barrier()
