"""GenEval's rules on synthetic detections: every constant, edge and quirk of the official
evaluate_images.py / summary_scores.py, with no model involved."""

from __future__ import annotations

import random

import numpy as np
import pytest

from janus_eval.metrics import geneval as g
from janus_eval.metrics.geneval import Detection, evaluate_image


def det(x1, y1, x2, y2, score=0.99, mask=None):
    return Detection(box=(x1, y1, x2, y2), score=score, mask=mask)


def meta(tag, *include, exclude=None):
    m = {"tag": tag, "include": list(include), "prompt": "p"}
    if exclude is not None:
        m["exclude"] = exclude
    return m


def never(*_):
    raise AssertionError("the colour classifier should not be called")


# -- selection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "kept"),
    [
        (0.3, False),  # not strictly above
        (0.30000001, False),  # rounds to float32(0.3): compared in float32, like mmdet's arrays
        (float(np.nextafter(np.float32(0.3), np.float32(1))), True),
        (0.31, True),
        (0.29, False),
    ],
)
def test_threshold_is_strict_and_float32(score, kept):
    out = g.select_detections({"cat": [det(0, 0, 5, 5, score)]}, "single_object")
    assert ("cat" in out) is kept


@pytest.mark.parametrize(("score", "kept"), [(0.9, False), (0.9000001, True), (0.5, False)])
def test_counting_tag_uses_0_9_for_every_class(score, kept):
    out = g.select_detections(
        {"cat": [det(0, 0, 5, 5, score)], "dog": [det(0, 0, 5, 5, score)]}, "counting"
    )
    assert ("cat" in out) is kept and ("dog" in out) is kept


def test_other_tags_keep_0_5():
    assert "cat" in g.select_detections({"cat": [det(0, 0, 5, 5, 0.5)]}, "position")


def test_sorted_by_score_then_cut_to_16_before_nms():
    dets = [det(i, i, i + 5, i + 5, score=0.31 + i / 100) for i in range(20)]
    random.Random(0).shuffle(dets)
    kept = g.select_detections({"cat": dets}, "single_object")["cat"]
    assert len(kept) == g.MAX_OBJECTS == 16
    assert [d.score for d in kept] == sorted((d.score for d in dets), reverse=True)[:16]


def test_nms_threshold_1_suppresses_nothing_but_lower_thresholds_use_official_iou():
    same = [det(0, 0, 10, 10, 0.9), det(0, 0, 10, 10, 0.8), det(50, 50, 60, 60, 0.7)]
    assert len(g.select_detections({"cat": same}, "colors")["cat"]) == 3
    kept = g.select_detections({"cat": same}, "colors", nms_threshold=0.5)["cat"]
    assert [d.score for d in kept] == [0.9, 0.7]
    # official IoU counts pixels inclusively (+1): boxes (0,0,9,9) and (5,0,14,9)
    assert g.compute_iou((0, 0, 9, 9), (5, 0, 14, 9)) == pytest.approx(50 / 150)


def test_empty_classes_are_dropped():
    assert g.select_detections({"cat": [], "dog": [det(0, 0, 1, 1, 0.1)]}, "colors") == {}


# -- include / exclude / counting ---------------------------------------------------------------


def test_single_and_two_object():
    m = meta("two_object", {"class": "cat", "count": 1}, {"class": "dog", "count": 1})
    assert evaluate_image(
        m, {"cat": [det(0, 0, 5, 5)], "dog": [det(9, 9, 15, 15)]}, never, None
    ) == (True, "")
    ok, reason = evaluate_image(
        m, {"cat": [det(0, 0, 5, 5)], "dog": [det(0, 0, 5, 5, 0.2)]}, never, None
    )
    assert not ok and reason == "expected dog>=1, found 0"


def counting(n_found, score=0.95):
    m = meta("counting", {"class": "clock", "count": 2}, exclude=[{"class": "clock", "count": 3}])
    dets = {"clock": [det(10 * i, 0, 10 * i + 5, 5, score) for i in range(n_found)]}
    return evaluate_image(m, dets, never, None)


def test_counting_exact_number():
    assert counting(2) == (True, "")
    assert counting(1) == (False, "expected clock>=2, found 1")
    assert counting(3) == (False, "expected clock<3, found 3")
    assert counting(3, score=0.85) == (False, "expected clock>=2, found 0")  # 0.9 threshold


def test_exclude_counts_after_the_16_cut():
    m = meta("counting", {"class": "cup", "count": 2}, exclude=[{"class": "cup", "count": 17}])
    dets = {"cup": [det(i, 0, i + 1, 1, 0.95) for i in range(20)]}
    assert evaluate_image(m, dets, never, None) == (True, "")  # only 16 survive: 16 < 17
    m["exclude"][0]["count"] = 16
    assert evaluate_image(m, dets, never, None) == (False, "expected cup<16, found 16")


def test_both_include_and_exclude_reasons_are_joined_by_newlines():
    m = meta(
        "two_object",
        {"class": "cat", "count": 1},
        {"class": "dog", "count": 1},
        exclude=[{"class": "cow", "count": 1}],
    )
    ok, reason = evaluate_image(m, {"cow": [det(0, 0, 1, 1)]}, never, None)
    assert not ok
    assert reason.split("\n") == [
        "expected cat>=1, found 0",
        "expected dog>=1, found 0",
        "expected cow<1, found 1",
    ]


# -- colour -------------------------------------------------------------------------------------


def by_box(colors):
    """A classifier that answers from a table keyed by the detection's box."""
    seen = []

    def classify(image, detection, name):
        seen.append((image, detection.box, name))
        return colors[detection.box]

    classify.seen = seen
    return classify


def test_colour_uses_only_the_first_count_objects_and_sees_the_image():
    a, b = det(0, 0, 5, 5, 0.9), det(10, 10, 20, 20, 0.8)
    clf = by_box({a.box: "red", b.box: "blue"})
    m = meta("colors", {"class": "car", "count": 1, "color": "red"})
    image = object()
    assert evaluate_image(m, {"car": [b, a]}, clf, None, image=image) == (True, "")
    assert clf.seen == [(image, a.box, "car")]  # only the most confident car was asked about


def test_colour_mismatch_message():
    a, b = det(0, 0, 5, 5, 0.9), det(10, 10, 20, 20, 0.8)
    clf = by_box({a.box: "blue", b.box: "red"})
    m = meta("colors", {"class": "car", "count": 1, "color": "red"})
    assert evaluate_image(m, {"car": [a, b]}, clf, None) == (
        False,
        "expected red car>=1, found 0 red; and 1 blue",
    )


def test_colour_needs_all_of_count_and_lists_colours_in_official_order():
    boxes = [det(i, 0, i + 1, 1, 0.9 - i / 10) for i in range(3)]
    clf = by_box({boxes[0].box: "white", boxes[1].box: "red", boxes[2].box: "red"})
    m = meta("colors", {"class": "car", "count": 3, "color": "red"})
    assert evaluate_image(m, {"car": boxes}, clf, None) == (
        False,
        "expected red car>=3, found 2 red; and 2 red, 1 white",
    )


def test_colour_not_checked_when_objects_are_missing():
    m = meta(
        "color_attr",
        {"class": "car", "count": 1, "color": "red"},
        {"class": "bus", "count": 1, "color": "blue"},
    )
    clf = by_box({(0, 0, 5, 5): "blue"})
    ok, reason = evaluate_image(m, {"bus": [det(0, 0, 5, 5)]}, clf, None)
    assert not ok and reason == "expected car>=1, found 0"
    assert [s[2] for s in clf.seen] == ["bus"]


def test_color_attr_both_right():
    car, bus = det(0, 0, 5, 5), det(10, 10, 20, 20)
    m = meta(
        "color_attr",
        {"class": "car", "count": 1, "color": "red"},
        {"class": "bus", "count": 1, "color": "blue"},
    )
    assert evaluate_image(
        m, {"car": [car], "bus": [bus]}, by_box({car.box: "red", bus.box: "blue"}), None
    ) == (True, "")


def test_mask_must_match_image_size():
    m = meta("single_object", {"class": "cat", "count": 1})
    d = det(0, 0, 5, 5, mask=np.ones((10, 20), bool))
    assert evaluate_image(m, {"cat": [d]}, never, (20, 10)) == (True, "")
    with pytest.raises(ValueError, match="mask"):
        evaluate_image(m, {"cat": [d]}, never, (10, 20))


# -- position -----------------------------------------------------------------------------------

TARGET = det(0, 0, 10, 10)  # centre (5, 5), 10 x 10


@pytest.mark.parametrize(
    ("box", "relations"),
    [
        ((4.5, 0, 14.5, 10), ("right of",)),  # dx 4.5: (4.5 - 2) / 4.5 > 0.5
        ((4, 0, 14, 10), ()),  # dx 4: (4 - 2) / 4 == 0.5, not beyond: the threshold edge
        ((-4.5, 0, 5.5, 10), ("left of",)),
        ((0, 20, 10, 30), ("below",)),  # y grows downwards
        ((0, -20, 10, -10), ("above",)),
        ((2, 0, 12, 10), ()),  # inside the margin: shrunk to 0
        ((10, 10, 20, 20), ("right of", "below")),  # diagonal, far enough
        ((6, 6, 16, 16), ()),  # diagonal: 4 / 8.49 per axis, neither beyond 0.5
    ],
)
def test_relative_position(box, relations):
    assert g.relative_position(det(*box), TARGET) == relations


def position_meta(relation):
    return meta(
        "position",
        {"class": "teddy bear", "count": 1},
        {"class": "dog", "count": 1, "position": [relation, 0]},
    )


def test_position_each_relation():
    placed = {
        "left of": (-30, 0, -20, 10),
        "right of": (30, 0, 40, 10),
        "above": (0, -30, 10, -20),
        "below": (0, 30, 10, 40),
    }
    for relation, box in placed.items():
        dets = {"teddy bear": [TARGET], "dog": [det(*box)]}
        assert evaluate_image(position_meta(relation), dets, never, None) == (True, ""), relation
        wrong = "left of" if relation != "left of" else "right of"
        ok, reason = evaluate_image(position_meta(wrong), dets, never, None)
        assert not ok and reason == f"expected dog {wrong} target, found {relation} target"


def test_position_with_no_relation_says_so_like_the_official_message():
    dets = {"teddy bear": [TARGET], "dog": [det(6, 6, 16, 16)]}
    assert evaluate_image(position_meta("right of"), dets, never, None) == (
        False,
        "expected dog right of target, found  target",
    )


def test_position_without_target():
    ok, reason = evaluate_image(position_meta("left of"), {"dog": [det(0, 0, 1, 1)]}, never, None)
    assert not ok
    assert reason == "expected teddy bear>=1, found 0\nno target for dog to be left of"


def test_position_checks_every_pair():
    m = meta(
        "position",
        {"class": "cat", "count": 2},
        {"class": "dog", "count": 1, "position": ["left of", 0]},
    )
    cats = [det(50, 0, 60, 10, 0.9), det(-50, 0, -40, 10, 0.8)]  # the dog is left of one only
    ok, reason = evaluate_image(m, {"cat": cats, "dog": [det(0, 0, 10, 10)]}, never, None)
    assert not ok and reason == "expected dog left of target, found right of target"


def test_position_skipped_when_colour_fails():
    m = meta(
        "position",
        {"class": "cat", "count": 1},
        {"class": "dog", "count": 1, "color": "red", "position": ["left of", 0]},
    )
    dog = det(50, 0, 60, 10)
    ok, reason = evaluate_image(m, {"cat": [TARGET], "dog": [dog]}, by_box({dog.box: "blue"}), None)
    assert not ok and reason == "expected red dog>=1, found 0 red; and 1 blue"


# -- batching the colour classifier -------------------------------------------------------------


class Img:
    size = (100, 100)


def test_judge_images_asks_the_colour_classifier_once_and_agrees_with_one_by_one():
    rng = random.Random(1)
    metas, dets, images = [], [], []
    for _ in range(12):
        metas.append(
            meta(
                "color_attr",
                {"class": "car", "count": 1, "color": "red"},
                {"class": "bus", "count": rng.choice([1, 2]), "color": "blue"},
            )
        )
        dets.append(
            {
                name: [
                    det(rng.uniform(0, 50), 0, 60, 60, rng.uniform(0.2, 1))
                    for _ in range(rng.randint(0, 3))
                ]
                for name in ("car", "bus")
            }
        )
        images.append(Img())
    palette = {}

    def one(image, detection, name):
        return palette.setdefault(detection.box, rng.choice(["red", "blue"]))

    calls = []

    def many(questions):
        calls.append(len(questions))
        return [one(*q) for q in questions]

    batched = g.judge_images(metas, dets, images, many)
    assert len(calls) == 1 and calls[0] > 0
    singles = [
        evaluate_image(m, d, one, im.size, image=im) for m, d, im in zip(metas, dets, images)
    ]
    assert [(v.correct, v.reason) for v in batched] == singles
    assert any(ok for ok, _ in singles) and not all(ok for ok, _ in singles)
