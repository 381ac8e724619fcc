"""GenEval's rules where test_geneval_rules.py let mutants through (docs/TESTING.md): the
official IoU by hand, NMS at its threshold, an empty class before others, the position
relations exactly at +-0.5 and with a shrunk offset of zero, a position target that is not an
earlier include, and one reason per failed position as the official loops give."""

from __future__ import annotations

import pytest

from janus_eval.metrics import geneval as g
from janus_eval.metrics.geneval import Detection


def det(x1, y1, x2, y2, score=0.99):
    return Detection(box=(x1, y1, x2, y2), score=score)


def test_iou_by_hand():
    """Inclusive pixel areas: (0,0,9,9) is 10 x 10 = 100."""
    assert g.compute_iou((0, 0, 9, 9), (5, 5, 14, 14)) == 25 / 175
    assert g.compute_iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    assert g.compute_iou((0, 0, 4, 4), (10, 10, 14, 14)) == 0.0  # no overlap: area 0, not < 0
    assert g.compute_iou((2, 0, 4, 9), (0, 3, 9, 5)) == 9 / (30 + 30 - 9)
    assert g.compute_iou((0, 0, -1, -1), (0, 0, -1, -1)) == 0  # empty union


def test_nms_suppresses_at_iou_not_below_the_threshold():
    a, b = det(0, 0, 9, 9, 0.9), det(5, 5, 14, 14, 0.8)  # IoU 25/175 = 1/7
    assert g.select_detections({"cat": [a, b]}, "colors", nms_threshold=25 / 175)["cat"] == [a]
    assert g.select_detections({"cat": [a, b]}, "colors", nms_threshold=0.15)["cat"] == [a, b]


def test_an_empty_class_does_not_end_the_selection():
    dog = det(0, 0, 1, 1)
    assert g.select_detections({"cat": [], "dog": [dog]}, "colors") == {"dog": [dog]}


# Boxes 5 wide and tall, centres 2 apart: the shrink is 0.1 x (5 + 5) = 1, so the revised
# offset is 1 of a distance 2, exactly 0.5: no relation (the official test is strict).
TARGET = det(10, 10, 15, 15)


@pytest.mark.parametrize(
    ("shift", "relation"), [((-2, 0), "left of"), ((2, 0), "right of"), ((0, -2), "above"),
                            ((0, 2), "below")],
)  # fmt: skip
def test_relations_are_strict_at_one_half(shift, relation):
    dx, dy = shift
    at_half = det(10 + dx, 10 + dy, 15 + dx, 15 + dy)
    assert g.relative_position(at_half, TARGET) == ()
    beyond = det(10 + 2 * dx, 10 + 2 * dy, 15 + 2 * dx, 15 + 2 * dy)  # 3 of 4: 0.75
    assert g.relative_position(beyond, TARGET) == (relation,)


def test_an_offset_shrunk_to_zero_has_no_relation_and_a_small_one_counts():
    assert g.relative_position(det(10, 11, 15, 16), TARGET) == ()  # 1 < shrink 1
    # threshold 0: nothing is shrunk; a 0.9-pixel offset is a relation (it is above 1e-3)
    assert g.relative_position(det(10, 9.1, 15, 14.1), TARGET, threshold=0.0) == ("above",)


def test_a_position_target_must_be_an_earlier_include():
    bad = {"tag": "position", "prompt": "p",
           "include": [{"class": "car", "count": 1, "position": ["left of", 0]}]}  # fmt: skip
    with pytest.raises(ValueError, match="earlier include"):
        g.judge(bad, {"car": [det(0, 0, 5, 5)]}, lambda *a: "red")


def test_one_reason_per_failed_position_requirement():
    """Two cars, each right of both dogs: the official loops stop at the first failing pair
    (inner break) and then at the first failing object (outer break): one reason."""
    metadata = {"tag": "position", "prompt": "p", "include": [
        {"class": "dog", "count": 2},
        {"class": "car", "count": 2, "position": ["left of", 0]},
    ]}  # fmt: skip
    objects = {
        "dog": [det(0, 0, 10, 10), det(0, 20, 10, 30)],
        "car": [det(100, 0, 110, 10), det(100, 20, 110, 30)],
    }
    correct, reason = g.judge(metadata, objects, lambda *a: "red")
    assert not correct
    assert reason == "expected car left of target, found right of target"
