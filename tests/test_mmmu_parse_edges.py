"""MMMU parsing rules the official-output cases leave open, worked out by hand from
MMMU-Benchmark/MMMU eval_utils.parse_multi_choice_response (written for the surviving mutants
of metrics/mmmu.py, docs/TESTING.md): every trailing mark it strips, the answer-text rule for
several candidates, and the run seed the fallback draws default to."""

from __future__ import annotations

from janus_eval.metrics.mmmu import mmmu_scores, parse_multi_choice

CHOICES = ["A", "B", "C", "D"]
ANSWERS = {"A": "red apple", "B": "green pear", "C": "blue plum", "D": "white fig"}


def test_each_trailing_mark_is_stripped_before_looking_for_the_letter() -> None:
    """parse_multi_choice_response strips , . ! ? ; : ' one after another, so "B;" is " B "
    (the fallback of a fixed Random(0) would say "D")."""
    for mark in [",", ".", "!", "?", ";", ":", "'"]:
        assert parse_multi_choice(f"B{mark}", CHOICES, ANSWERS) == "B", mark


def test_several_answer_texts_pick_the_one_said_last() -> None:
    """No letter, more than five words, two answer texts: the official code takes
    rfind(answer text) for each candidate and keeps the largest, here "green pear" (B), not the
    first candidate."""
    response = "The red apple is wrong here, it must be the green pear"
    assert parse_multi_choice(response, CHOICES, ANSWERS) == "B"
    assert (
        parse_multi_choice("It is the white fig, not the blue plum at all", CHOICES, ANSWERS) == "C"
    )


def test_the_fallback_seed_defaults_to_zero() -> None:
    rows = [
        {"id": f"q{i}", "subject": "Art", "question_type": "multiple-choice", "gold": "A",
         "response": "no idea", "all_choices": CHOICES, "index2ans": ANSWERS}
        for i in range(40)
    ]  # fmt: skip
    assert mmmu_scores(rows) == mmmu_scores(rows, seed=0)
    assert mmmu_scores(rows) != mmmu_scores(rows, seed=1)  # the seed does move the draws
