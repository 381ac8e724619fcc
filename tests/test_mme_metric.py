"""janus_eval.metrics.mme against the MME authors' calculation.py (outputs stored in
tests/fixtures/official/mme.json with their provenance) and hand cases."""

from __future__ import annotations

import random

import pytest
from official_cases import load

from janus_eval.metrics.mme import COGNITION, PERCEPTION, mme_scores, parse_yes_no

OFFICIAL = load("mme")


@pytest.mark.parametrize("case", OFFICIAL["parse_cases"], ids=lambda c: repr(c["prediction"]))
def test_parse_matches_the_tool(case: dict) -> None:
    assert parse_yes_no(case["prediction"]) == case["official"]


def test_scores_match_the_tool_to_the_last_bit() -> None:
    got = mme_scores(OFFICIAL["rows"])
    want = OFFICIAL["expected"]
    assert got["per_category"] == want["per_category"]  # every subtask present, exact floats
    assert got["perception"] == want["perception"] and got["cognition"] == want["cognition"]
    assert list(got["per_category"]) == [*PERCEPTION, *COGNITION]


def test_pairs_are_found_by_image_within_a_subtask_in_any_order() -> None:
    """The fixture reuses image names across subtasks; shuffling the rows changes nothing."""
    rows = list(OFFICIAL["rows"])
    random.Random(7).shuffle(rows)
    got = mme_scores(rows)
    assert got["per_category"] == OFFICIAL["expected"]["per_category"]
    # summation order is the tool's subtask order, not row order, so even the floats agree
    assert got["perception"] == OFFICIAL["expected"]["perception"]


def row(category: str, image: str, answer: str, prediction: str) -> dict:
    return {"category": category, "image": image, "question": "q", "answer": answer,
            "prediction": prediction}  # fmt: skip


def test_hand_case_acc_plus_and_partial_groups() -> None:
    rows = [
        row("count", "a.jpg", "Yes", "Yes"), row("count", "a.jpg", "No", "no"),  # both right
        row("count", "b.jpg", "Yes", "yes"), row("count", "b.jpg", "No", "Yes"),  # one right
        row("color", "a.jpg", "Yes", "maybe"), row("color", "a.jpg", "No", "maybe"),
    ]  # fmt: skip
    got = mme_scores(rows)
    assert got["per_category"]["count"] == {"acc": 0.75, "acc_plus": 0.5, "score": 125.0}
    # every answer "other": the tool crashes inside scikit-learn here; scored 0 instead
    assert got["per_category"]["color"] == {"acc": 0.0, "acc_plus": 0.0, "score": 0.0}
    assert got["perception"] == 125.0 and got["cognition"] is None


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([row("count", "a.jpg", "Yes", "yes")], "has 1 question"),
        ([row("counting", "a.jpg", "Yes", "yes")] * 2, "unknown subtask 'counting'"),
        ([row("count", "a.jpg", "Maybe", "yes")] * 2, "not yes or no"),
    ],
)
def test_bad_rows_are_errors(rows: list[dict], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        mme_scores(rows)
