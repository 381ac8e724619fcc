"""The torch-fidelity Inception's input scaling: torch_fidelity/feature_extractor_inceptionv3.py
maps uint8 values with `(x - 128) / 128` before Conv2d_1a_3x3, so 0 -> -1, 128 -> 0,
255 -> 0.9921875 (written for a surviving mutant of metrics/inception.py, docs/TESTING.md; the
state-dict test only checks the output shape)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from janus_eval.metrics.inception import FIDELITY_FILE, load_extractor


class _Seen(Exception):
    pass


class _Capture(nn.Module):
    def forward(self, x):
        raise _Seen(x)


def test_the_first_layer_sees_torch_fidelitys_scaling(tmp_path):
    from cleanfid import inception_pytorch as ip

    net = ip._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    torch.save(net.state_dict(), tmp_path / FIDELITY_FILE)
    model = load_extractor("inception", inception_path=tmp_path / FIDELITY_FILE)
    model.net.Conv2d_1a_3x3 = _Capture()
    pixels = torch.tensor([0.0, 64.0, 128.0, 255.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    with pytest.raises(_Seen) as seen:
        model(pixels)
    assert seen.value.args[0][0, 0, 0].tolist() == [-1.0, -0.5, 0.0, 0.9921875]
