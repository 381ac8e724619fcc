"""`--device` checked before anything loads: a typo or a missing GPU is one message up front,
not a failure after minutes of weight loading that a re-run would repeat."""

from __future__ import annotations

from janus_eval.types import UserError

KINDS = ("cpu", "cuda", "mps", "xpu")


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
    if parsed is None or parsed.type not in KINDS:
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
