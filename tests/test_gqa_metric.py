"""janus_eval.metrics.gqa against VLMEvalKit's GQA scoring and LLaVA's convert script + GQA's
eval.py (outputs stored in tests/fixtures/official/gqa.json with their provenance)."""

from __future__ import annotations

import pytest
from official_cases import load

from janus_eval.metrics.gqa import gqa_scores, is_correct, normalize_prediction

OFFICIAL = load("gqa")
ROWS = OFFICIAL["rows"]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: repr(r["prediction"]))
def test_per_question_verdicts_match_both_tools(row: dict) -> None:
    assert normalize_prediction(row["prediction"], "llava") == row["llava_prediction"]
    assert is_correct(row["prediction"], row["answer"], "llava") == row["llava_correct"]
    assert is_correct(row["prediction"], row["answer"]) == row["vlmevalkit_correct"]


def test_the_two_scorers_disagree_somewhere() -> None:
    assert any(r["llava_correct"] != r["vlmevalkit_correct"] for r in ROWS)


def test_eval_py_aggregation() -> None:
    got = gqa_scores([{**r, "correct": r["llava_correct"]} for r in ROWS])
    want = OFFICIAL["llava"]
    for key in ("accuracy", "binary", "open"):
        assert round(got[key], 2) == want["summary"][key]
    for key in ("per_structural", "per_semantic"):
        assert {k: round(v, 2) for k, v in got[key].items()} == {
            k: v["accuracy"] for k, v in want[key].items()
        }
    # unrounded, eval.py's own arithmetic: 16 of 31 right
    assert got["accuracy"] == float(16) / 31 * 100


def test_vlmevalkit_overall() -> None:
    got = gqa_scores([{**r, "correct": r["vlmevalkit_correct"]} for r in ROWS])
    assert got["accuracy"] == OFFICIAL["vlmevalkit"]["overall"]


def test_empty_groups_are_zero_as_in_eval_py() -> None:
    got = gqa_scores([{"correct": True, "structural": "verify", "semantic": "attr"}])
    assert got == {
        "accuracy": 100.0,
        "binary": 100.0,
        "open": 0,
        "per_structural": {"verify": 100.0},
        "per_semantic": {"attr": 100.0},
    }


def test_unknown_scorer() -> None:
    with pytest.raises(ValueError, match="unknown GQA scorer 'lmms'"):
        normalize_prediction("yes", "lmms")
