"""janus_eval.metrics.vqa against hand cases worked out from the official vqaEval.py
(GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py) at master a013f00 (the
default) and at c4e6a0e (`vqa-2017`). test_scorer_crosscheck.py compares both with the official
code's own outputs."""

from __future__ import annotations

import pytest

from janus_eval.metrics.vqa import (
    REVISIONS,
    evalai_answer_processor,
    normalize_prediction,
    official_percent,
    process_punctuation,
    vqa_accuracy,
    vqa_summary,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.", "2"),  # period not followed by a digit is deleted
        ("2.5", "2.5"),  # ... one followed by a digit stays
        ("e.g.", "eg"),
        ("yes.", "yes"),
        ("2,000", "2000"),  # digit,digit anywhere: every mark deleted, not spaced
        ("a/b 1,2", "ab 12"),
        ("black/white", "black white"),  # mark touching no space becomes a space
        ("yes, it is", "yes it is"),  # mark touching a space is deleted
        ("x-ray", "x ray"),
        ("(yes)", "yes"),
        ("12:30", "12:30"),  # ':' is not among the 21 marks
        ("don't", "don't"),  # nor is the apostrophe
    ],
)
def test_punctuation_then_digits(text: str, expected: str) -> None:
    assert normalize_prediction(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ten", "10"),
        ("Ten", "10"),
        ("ten.", "10"),
        ("none", "0"),  # the official map sends "none" to "0"
        ("twenty", "twenty"),  # only zero..ten are mapped
        ("a dog", "dog"),
        ("The Dog!", "dog"),
        ("Two dogs", "2 dogs"),
        ("dont", "don't"),  # contraction table
        ("Im", "im"),  # capitalised table keys never match after lower-casing
        ("  two\n\tcats ", "2 cats"),
    ],
)
def test_digit_article_contractions(text: str, expected: str) -> None:
    assert normalize_prediction(text) == expected


def test_one_touching_space_deletes_every_occurrence() -> None:
    # " -" occurs, so every "-" is deleted, "c-d" included; with no touching space: spaces
    assert process_punctuation("a -b c-d") == "a b cd"
    assert process_punctuation("a-b c-d") == "a b c d"


def test_period_strip_stops_after_32_periods() -> None:
    # re.UNICODE (32) lands in Pattern.sub's `count` in the official code.
    assert process_punctuation("." * 40 + "x") == "." * 8 + "x"


def test_leave_one_out_values() -> None:
    others = ["dog"] * 9
    assert vqa_accuracy("cat", ["cat"] + others) == pytest.approx(0.3)  # 9 subsets x 1/3
    assert vqa_accuracy("cat", ["cat"] * 2 + ["dog"] * 8) == pytest.approx(0.6)
    assert vqa_accuracy("cat", ["cat"] * 3 + ["dog"] * 7) == pytest.approx(0.9)
    assert vqa_accuracy("cat", ["cat"] * 4 + ["dog"] * 6) == 1.0
    assert vqa_accuracy("bird", ["cat"] * 4 + ["dog"] * 6) == 0.0


def test_2017_prediction_is_always_processed() -> None:
    old = {"scorer": "vqa-2017"}
    assert vqa_accuracy("2.", ["2"] * 10, **old) == 1.0
    assert vqa_accuracy("Ten", ["10"] * 10, **old) == 1.0
    assert vqa_accuracy("dont", ["don't"] * 10, **old) == 1.0
    assert vqa_accuracy("The cat.", ["cat"] * 10, **old) == 1.0


def test_2017_ground_truth_processed_only_when_annotators_disagree() -> None:
    old = {"scorer": "vqa-2017"}
    # Ten identical answers are taken verbatim: "yes." never equals the processed "yes".
    assert vqa_accuracy("yes", ["yes."] * 10, **old) == 0.0
    # One dissenting answer switches punctuation processing on for all ten.
    assert vqa_accuracy("yes", ["yes."] * 9 + ["no"], **old) == 1.0
    # ... but never lower-casing or the number map.
    assert vqa_accuracy("dog", ["Dog"] * 9 + ["cat"], **old) == 0.0
    assert vqa_accuracy("two", ["two"] * 10, **old) == 0.0  # prediction becomes "2"
    # "10" x3 and "ten" x7: only the three "10"s match the processed "Ten".
    assert vqa_accuracy("Ten", ["10"] * 3 + ["ten"] * 7, **old) == pytest.approx(0.9)
    # answers are never stripped
    assert vqa_accuracy("yes", [" yes"] * 10, **old) == 0.0


def test_master_processes_nothing_when_annotators_agree() -> None:
    # a013f00: unanimous answers and the prediction are only stripped, never normalised
    assert vqa_accuracy("yes", ["yes"] * 10) == 1.0
    assert vqa_accuracy(" yes\n", [" yes\t"] * 10) == 1.0  # both sides stripped
    assert vqa_accuracy("red ball", ["red\nball"] * 10) == 1.0  # newline to space, inside too
    assert vqa_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_accuracy("yes.", ["yes"] * 10) == 0.0
    assert vqa_accuracy("2.", ["2"] * 10) == 0.0
    assert vqa_accuracy("two", ["two"] * 10) == 1.0  # the 2017 rules give 0 here
    assert vqa_accuracy("yes", ["yes."] * 10) == 0.0


def test_master_processes_both_sides_when_annotators_disagree() -> None:
    # one dissent switches on punctuation AND digits/articles for answers and prediction
    assert vqa_accuracy("Yes.", ["yes"] * 9 + ["no"]) == 1.0
    assert vqa_accuracy("dog", ["Dog"] * 9 + ["cat"]) == 1.0  # 2017: 0
    assert vqa_accuracy("Ten", ["10"] * 3 + ["ten"] * 7) == 1.0  # 2017: 0.9
    assert vqa_accuracy("2", ["two"] * 2 + ["Two"] * 8) == 1.0
    assert vqa_accuracy("the dog", ["a dog"] * 2 + ["dogs"] * 8) == pytest.approx(0.6)
    # stripping decides agreement: " yes" and "yes" agree at master
    assert vqa_accuracy("Yes", [" yes"] * 5 + ["yes"] * 5) == 0.0


def test_master_digits_are_ascii_as_under_python2() -> None:
    arabic = "\u0661,\u0662"  # Arabic-Indic 1,2: no digit-comma-digit for Python 2's re
    assert process_punctuation(arabic) == "\u0661 \u0662"
    assert process_punctuation(arabic, scorer="vqa-2017") == "\u0661\u0662"
    assert process_punctuation("\u0661.\u0665") == "\u0661\u0665"  # period not before a digit
    assert process_punctuation("\u0661.\u0665", scorer="vqa-2017") == "\u0661.\u0665"


def test_revisions_name_repository_commit_and_file() -> None:
    assert [r.reference for r in REVISIONS.values()] == [
        "GT-Vision-Lab/VQA@a013f00 (2021-03-11: PythonEvaluationTools/vqaEvaluation/vqaEval.py)",
        "GT-Vision-Lab/VQA@c4e6a0e (2017-09-29: PythonEvaluationTools/vqaEvaluation/vqaEval.py)",
    ]


def test_unknown_scorer_names_the_choices() -> None:
    with pytest.raises(ValueError, match="vqa-a013f00.*vqa-2017"):
        vqa_accuracy("yes", ["yes"], scorer="vqa-master")


def test_rejects_empty_answers() -> None:
    with pytest.raises(ValueError, match="non-empty sequence of ground-truth answers"):
        vqa_accuracy("yes", [])
    with pytest.raises(ValueError, match="non-empty sequence"):
        vqa_accuracy("yes", "yes")
    with pytest.raises(ValueError, match="no values to average"):
        vqa_summary([])


def test_summary_rounds_like_set_accuracy() -> None:
    out = vqa_summary(
        [1.0, 0.0, 1 / 3], ["yes/no", "number", "number"], ["is the", "how many", "how many"]
    )
    assert out["accuracy"] == 44.44  # round(100 * (4/3) / 3, 2)
    assert out["per_answer_type"] == {"number": 16.67, "yes/no": 100.0}
    assert out["per_question_type"] == {"how many": 16.67, "is the": 100.0}
    assert official_percent(iter([1.0, 0.5])) == 75.0  # any iterable, read once


def test_evalai_submission_processor() -> None:
    assert evalai_answer_processor("It's Two?") == "it 's 2"
    assert evalai_answer_processor("Yes.") == "yes"
    assert evalai_answer_processor("2,000") == "2000"
    # "," and "?" are deleted first, so they never become spaces as the other marks do
    assert evalai_answer_processor("red,blue?no-way") == "redblueno way"
