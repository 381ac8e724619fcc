"""MM-Vet details the value checks of test_mmvet_metric.py leave open (found by the mutation
run of metrics/mmvet.py, docs/TESTING.md): the order of the capability columns, which is the
evaluator's, and what a grade records when the judge never gives a usable score."""

from __future__ import annotations

from official_cases import load

from janus_eval.metrics.mmvet import TEMPERATURES, grade, mmvet_scores

OFFICIAL = load("mmvet")


def test_columns_come_in_the_evaluators_order() -> None:
    """Most rows first, ties in data order: the stored tables have ocr, know_rec, rec_spat,
    gen_know_rec (two rows each) in that order, which no sort by name gives."""
    rows = [
        {"capability": OFFICIAL["data"][sid]["capability"], "score": g["score"][0]}
        for sid, g in OFFICIAL["grades"].items()
    ]
    got = mmvet_scores(rows)
    assert list(got["per_capability"]) == list(OFFICIAL["cap_score"])
    assert list(got["per_capability_set"]) == list(OFFICIAL["cap_int_score"])


def test_a_judge_that_never_scores_gives_zero_and_its_last_reply() -> None:
    replies = iter(f"no score {i}" for i in range(len(TEMPERATURES)))
    got = grade("q", "a", "p", lambda prompt, temperature: (next(replies), "judge"))
    assert got == {
        "score": 0.0,
        "reply": f"no score {len(TEMPERATURES) - 1}",
        "model": "judge",
        "attempts": len(TEMPERATURES),
    }


def test_a_grade_records_the_reply_that_scored() -> None:
    replies = iter(["no idea", "0.5"])
    got = grade("q", "a", "p", lambda prompt, temperature: (next(replies), "judge"))
    assert got == {"score": 0.5, "reply": "0.5", "model": "judge", "attempts": 2}
