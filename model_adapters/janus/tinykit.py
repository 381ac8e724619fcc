"""What every tiny random-weight checkpoint writer shares (janus-tiny, janusflow-tiny): weights
that are a pure function of a seed, and a checkpoint directory that appears whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from janus_eval.cache import write_once

__all__ = ["random_weights", "write_once"]


def _is_table(name: str) -> bool:
    return "embed" in name and "patch" not in name


def random_weights(
    model: Any, seed: int, is_table: Callable[[str], bool] = _is_table
) -> dict[str, Any]:
    """Deterministic weights for every parameter of `model` (a meta-device module is enough),
    scaled so activations stay O(1) and logits have real gaps (no argmax near-ties): norm
    weights near 1, biases near 0, embedding tables (`is_table(name)`) of unit variance,
    everything else fan-in scaled."""
    import torch

    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, p in sorted(model.named_parameters()):
        shape = tuple(p.shape)
        if p.dim() == 1 and ("norm" in name and name.endswith("weight")):
            t = 1 + 0.1 * torch.randn(shape, generator=g)
        elif p.dim() == 1:
            t = 0.02 * torch.randn(shape, generator=g)
        elif is_table(name):
            t = torch.randn(shape, generator=g) * (0.02 if name.endswith("pos_embed") else 1.0)
        else:
            fan_in = 1
            for d in shape[1:]:
                fan_in *= d
            t = torch.randn(shape, generator=g) / fan_in**0.5
        state[name] = t.contiguous()
    return state
