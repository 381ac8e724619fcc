"""janus_eval.metrics.pope against hand cases worked out from POPE's evaluate.py, and the real
question files where present."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from janus_eval.metrics.pope import parse_yes_no, pope_metrics


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("yes", "yes"),
        ("no", "no"),
        ("yes.", "yes"),  # lmms-eval#673: the official parser reads this fine
        ("No.", "no"),
        ("Yes, there is a dog.", "yes"),
        ("No, there is not.", "no"),
        ("Yes. But there is no dog.", "yes"),  # only the first sentence counts
        ("There is no dog in the image", "no"),
        ("I am not sure", "no"),
        ("NO", "yes"),  # case-sensitive tokens
        ("Nope", "yes"),
        ("isn't", "yes"),
        ("No\n", "yes"),  # split on " " only: "No\n" is not the token "No"
        ("no\tdog", "yes"),
        ("", "yes"),  # anything without a negative token is yes
        ("I. no", "yes"),  # a "." at index 1 still ends the first sentence
    ],
)
def test_parse_yes_no(answer: str, expected: str) -> None:
    assert parse_yes_no(answer) == expected


def test_metrics_hand_case() -> None:
    preds = ["yes", "no", "yes", "Yes.", "No."]
    labels = ["yes", "no", "no", "yes", "yes"]
    # parsed 1,0,1,1,0 vs 1,0,0,1,1: TP=2 FP=1 TN=1 FN=1
    out = pope_metrics(preds, labels)
    assert out == pytest.approx(
        {"accuracy": 0.6, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "yes_ratio": 0.6}
    )
    assert set(out) == {"accuracy", "precision", "recall", "f1", "yes_ratio"}


def test_metrics_without_yes_predictions_are_zero_not_a_crash() -> None:
    out = pope_metrics(["no", "no"], ["yes", "no"])
    assert out["precision"] == 0.0 and out["recall"] == 0.0 and out["f1"] == 0.0
    assert out["accuracy"] == 0.5 and out["yes_ratio"] == 0.0


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="label"):
        pope_metrics(["yes"], ["Yes"])
    with pytest.raises(ValueError):
        pope_metrics(["yes", "no"], ["yes"])
    with pytest.raises(ValueError):
        parse_yes_no("yes", variant="strict")


def test_lmms_eval_variant_is_separate_and_exact_match() -> None:
    preds, labels = ["yes.", "no", "Yes"], ["yes", "no", "yes"]
    assert pope_metrics(preds, labels)["accuracy"] == 1.0
    variant = pope_metrics(preds, labels, variant="lmms-eval")
    assert variant["accuracy"] == pytest.approx(2 / 3)  # "yes." matches nothing
    assert variant["precision"] == 1.0 and variant["recall"] == 1.0  # "yes." is neither TP nor FN
    assert variant["yes_ratio"] == pytest.approx(2 / 3)  # share of LABELS that are yes (upstream)


def test_lmms_eval_variant_counts_by_hand() -> None:
    # lower-cased and stripped: yes, yes, no, "yes." (neither yes nor no), no, yes
    preds = ["Yes", "yes", "no", "yes.", "No ", "yes"]
    labels = ["yes", "no", "yes", "yes", "no", "no"]
    # TP 1 (#0); FP 2 (#1, #5); FN 1 (#2); exact matches #0, #4
    out = pope_metrics(preds, labels, variant="lmms-eval")
    assert out == pytest.approx(
        {"accuracy": 2 / 6, "precision": 1 / 3, "recall": 1 / 2, "f1": 0.4, "yes_ratio": 0.5}
    )


def test_real_question_files_parse(shared_data) -> None:
    files = sorted((shared_data / "pope").glob("coco_pope_*.json"))
    if len(files) != 3:
        pytest.skip("the three official POPE files are not in shared/data/pope")
    total = 0
    for path in files:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert len(records) == 3000
        assert len({r["question_id"] for r in records}) == 3000
        assert Counter(r["label"] for r in records) == {"yes": 1500, "no": 1500}
        labels = [r["label"] for r in records]
        # The labels, read as answers, score perfectly; all "yes" gives precision 50 %.
        assert pope_metrics(labels, labels)["f1"] == 1.0
        all_yes = pope_metrics(["Yes."] * len(labels), labels)
        assert all_yes["precision"] == 0.5 and all_yes["yes_ratio"] == 1.0
        total += len(records)
    assert total == 9000
