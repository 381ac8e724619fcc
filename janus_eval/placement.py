"""Where a run executes, settled once before any adapter exists: the device (with a GPU of its
own per rank under torchrun), the dtype and the slice of samples.

Checked up front, a typo or a missing GPU is one message, not a failure after minutes of
weight loading that a re-run would repeat; resolved once, the adapter is built on the device the
run records (never rewritten after it exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from janus_eval import distributed
from janus_eval.types import UserError

DTYPES = ("bf16", "fp32", "fp16")
DEVICE_KINDS = ("cpu", "cuda", "mps", "xpu")


@dataclass(frozen=True)
class Placement:
    """The resolved `device`, `dtype` and `shard` of a run. `ranks` is True when the shard is
    this process's rank of a torch.distributed launch (rank 0 then merges and finishes)."""

    device: str = "cpu"
    dtype: str = "fp32"
    shard: tuple[int, int] | None = None
    ranks: bool = False


def place(
    device: str = "cpu", dtype: str = "fp32", shard: tuple[int, int] | str | None = None
) -> Placement:
    """Validate and resolve a run's placement. Under a launcher with several ranks (and no
    explicit `shard`) the ranks are the slices and `cuda` becomes `cuda:<LOCAL_RANK>`."""
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    world = distributed.launched_world() if shard is None else None
    if world is not None:
        shard, device = world, distributed.local_device(device)
    check_device(device)
    return Placement(device=device, dtype=dtype, shard=shard, ranks=world is not None)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n), with 0 <= i < n."""
    if text is None:
        return None
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise UserError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def check_device(device: str) -> None:
    """Raise a UserError unless `device` names a device this machine has (cpu, cuda, cuda:N,
    mps, xpu, xpu:N). torch is imported only for a device other than cpu."""
    if device == "cpu":
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in DEVICE_KINDS:
        raise UserError(f"--device {device!r}: not a device; use cpu, cuda or cuda:N")
    if parsed.type == "cpu":
        return
    backend = getattr(torch, parsed.type, None) if parsed.type != "mps" else torch.backends.mps
    if backend is None or not backend.is_available():
        raise UserError(
            f"--device {device!r}: no {parsed.type} device is available here (torch "
            f"{torch.__version__}); use --device cpu, or run where one is"
        )
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if parsed.index is not None and parsed.index >= count:
        raise UserError(
            f"--device {device!r}: this machine has {count} {parsed.type} device(s), numbered "
            f"0..{count - 1}"
        )
