"""metrics/inception.py details the FID tests leave open (written for its surviving mutants,
docs/TESTING.md): the torch-fidelity network's FID blocks and input scaling, loading that runs
no pickled code, and where the clean-fid weights are looked for."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import torch
from torch import nn

from janus_eval.cache import cache_dir
from janus_eval.metrics.inception import (
    CLEAN_FID_FILE,
    FIDELITY_FILE,
    load_extractor,
    missing_weights_message,
    search_locations,
)
from janus_eval.types import UserError


class _Seen(Exception):
    pass


class _Capture(nn.Module):
    def forward(self, x):
        raise _Seen(x)


@pytest.fixture
def fidelity(tmp_path):
    """Built per test (not per module), so a mutation run credits its lines to every test."""
    from cleanfid import inception_pytorch as ip

    path = tmp_path / FIDELITY_FILE
    torch.save(
        ip._inception_v3(num_classes=1008, aux_logits=False, weights=None).state_dict(), path
    )
    return load_extractor("inception", inception_path=path)


def test_the_first_layer_sees_torch_fidelitys_scaling(fidelity):
    """torch_fidelity/feature_extractor_inceptionv3.py: `(x - 128) / 128` on uint8 values, so
    0 -> -1, 64 -> -0.5, 128 -> 0, 255 -> 0.9921875."""
    first = fidelity.net.Conv2d_1a_3x3
    fidelity.net.Conv2d_1a_3x3 = _Capture()
    pixels = torch.tensor([0.0, 64.0, 128.0, 255.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    try:
        with pytest.raises(_Seen) as seen:
            fidelity(pixels)
    finally:
        fidelity.net.Conv2d_1a_3x3 = first
    assert seen.value.args[0][0, 0, 0].tolist() == [-1.0, -0.5, 0.0, 0.9921875]


def test_every_block_the_fid_port_replaces_is_replaced(fidelity):
    """pytorch-fid's fid_inception_v3 (which torch-fidelity's weights need): the A, C and E
    blocks swapped for their FID versions (other pooling), with these widths."""
    from cleanfid import inception_pytorch as ip

    want = {"Mixed_5b": (ip.FIDInceptionA, 192), "Mixed_5c": (ip.FIDInceptionA, 256),
            "Mixed_5d": (ip.FIDInceptionA, 288), "Mixed_6b": (ip.FIDInceptionC, 768),
            "Mixed_6c": (ip.FIDInceptionC, 768), "Mixed_6d": (ip.FIDInceptionC, 768),
            "Mixed_6e": (ip.FIDInceptionC, 768), "Mixed_7b": (ip.FIDInceptionE_1, 1280),
            "Mixed_7c": (ip.FIDInceptionE_2, 2048)}  # fmt: skip
    for name, (cls, width) in want.items():
        block = getattr(fidelity.net, name)
        assert type(block) is cls and block.branch1x1.conv.in_channels == width, name
    channels_7x7 = [getattr(fidelity.net, f"Mixed_6{c}").branch7x7_1.conv.out_channels
                    for c in "bcde"]  # fmt: skip
    assert channels_7x7 == [128, 160, 160, 192]


RAN: list[str] = []


def _ran() -> dict:
    RAN.append("pickled code ran")
    return {}


class _Payload:
    def __reduce__(self):
        return (_ran, ())


def test_a_weight_file_cannot_run_code(tmp_path):
    """torch.load(weights_only=True): a pickle that calls a function is refused, not run."""
    path = tmp_path / FIDELITY_FILE
    torch.save({"Conv2d_1a_3x3.conv.weight": _Payload()}, path)
    with pytest.raises(UserError, match="cannot load"):
        load_extractor("inception", inception_path=path)
    assert RAN == []


@pytest.mark.skipif(platform.system() == "Windows", reason="clean-fid uses ./ on Windows")
def test_weights_are_looked_for_in_our_cache_then_where_clean_fid_puts_them():
    assert search_locations() == [cache_dir() / CLEAN_FID_FILE, Path("/tmp") / CLEAN_FID_FILE]
    text = missing_weights_message([Path("/a/x.pt"), Path("/b/y.pt")])
    assert "looked in: /a/x.pt, /b/y.pt." in text
