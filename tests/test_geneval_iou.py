"""GenEval's IoU (evaluate_images.py `compute_iou`, inclusive pixel areas) on boxes worked out by
hand whose x and y extents differ, so every coordinate is read from its own place (written for
a surviving mutant of metrics/geneval.py, docs/TESTING.md)."""

from __future__ import annotations

import pytest

from janus_eval.metrics.geneval import compute_iou


@pytest.mark.parametrize(
    ("box_a", "box_b", "iou"),
    [
        # x 0..9 and 5..14 (10 px each, 5 shared), y 0..4 (5 px): 25 / (50 + 50 - 25)
        ((0, 0, 9, 4), (5, 0, 14, 4), 1 / 3),
        # x 0..3, y 0..19 against x 0..3, y 10..29: 4 x 10 shared of 80 + 80 - 40
        ((0, 0, 3, 19), (0, 10, 3, 29), 1 / 3),
        # touching at one pixel column: x 0..4 and 4..8, y 0..0: 1 / (5 + 5 - 1)
        ((0, 0, 4, 0), (4, 0, 8, 0), 1 / 9),
        ((0, 0, 4, 4), (10, 10, 12, 12), 0.0),  # apart
    ],
)
def test_iou_by_hand(box_a, box_b, iou):
    assert compute_iou(box_a, box_b) == pytest.approx(iou, rel=1e-12)
    assert compute_iou(box_b, box_a) == pytest.approx(iou, rel=1e-12)
