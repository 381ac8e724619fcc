"""janus_eval.metrics.mcq against hand cases worked out from VLMEvalKit's `can_infer` and its
exact-matching CircularEval (vlmeval/utils/matching_util.py, vlmeval/dataset/utils/
multiple_choice.py)."""

from __future__ import annotations

import pytest

from janus_eval.metrics.mcq import (
    REVISIONS,
    accuracy_by,
    circular_eval,
    circular_group,
    extract_choice,
)

CHOICES = {"A": "cat", "B": "dog", "C": "bird"}


@pytest.mark.parametrize(
    ("answer", "current", "old"),  # letters at vlmevalkit-2cf2a36 (default) and -18fc37a
    [
        ("B", "B", "B"),
        ("(B)", "B", "B"),
        ("B.", "B", "B"),
        ("The answer is C.", "C", "C"),
        ("Answer: A", "A", "A"),
        ("{C}", "C", "C"),
        ("A or B", None, None),  # two letters: no letter; no option text either
        ("A dog", "A", "A"),  # the article reads as the letter A (upstream quirk)
        ("b", None, None),  # letters are case-sensitive
        ("I think it is the dog", None, "B"),  # 21 chars > 2 * 10: no text matching now
        ("a dog", "B", "B"),
        ("cat or dog", None, None),  # two option texts
        ("concatenate", "A", "A"),  # plain substring match
        ("D", None, None),  # not a choice, ignored
        ("Z", "Z", "Z"),
        ("Cannot determine the answer", "Z", "Z"),  # refusal phrase
        ("", None, None),
        # the letter must now be among the last four tokens
        ("B is the answer because it is bigger", None, "B"),
        ("The answer is b", "B", None),  # "answer is" regex, case-insensitive
        ("The answer is A, not B", "A", None),  # two letters, then the regex
        ("the answer is bird", "B", "C"),  # the regex needs no word boundary: "b"ird
        ("The correct answer is **C**", "C", "C"),
        ("Answer is E", None, None),  # E is no choice (and the regex knows only A-D)
        ("B is the answer", "B", "B"),  # first of four tokens: still among the last four
        ("B is my final answer", None, "B"),  # first of five: not
        ("answer:C", "C", "C"),  # separators become spaces, not nothing
        ("A,B", None, None),
    ],
)
def test_extract_choice(answer: str, current: str | None, old: str | None) -> None:
    assert extract_choice(answer, CHOICES) == current
    assert extract_choice(answer, CHOICES, scorer="vlmevalkit-2cf2a36") == current
    assert extract_choice(answer, CHOICES, scorer="vlmevalkit-18fc37a") == old


def test_revisions_name_repository_commit_and_files() -> None:
    files = "vlmeval/utils/matching_util.py, vlmeval/dataset/utils/multiple_choice.py"
    assert [r.reference for r in REVISIONS.values()] == [
        f"open-compass/VLMEvalKit@2cf2a36 (2026-06-25: {files})",
        f"open-compass/VLMEvalKit@18fc37a (2025-04-08: {files})",
    ]


def test_unknown_scorer_names_the_choices() -> None:
    with pytest.raises(ValueError, match="vlmevalkit-2cf2a36.*vlmevalkit-18fc37a"):
        extract_choice("A", CHOICES, scorer="vlmevalkit-latest")


def test_extract_choice_does_not_mutate_and_checks_keys() -> None:
    choices = {"A": "Cat", "B": "Dog"}
    assert extract_choice("a CAT", choices) == "A"
    assert choices == {"A": "Cat", "B": "Dog"}
    with pytest.raises(ValueError, match="choice keys must be single uppercase letters, got 'a'"):
        extract_choice("A", {"a": "cat"})
    assert extract_choice(2, {"A": "1", "B": "2"}) == "B"  # str() first, as can_infer


def test_circular_group_and_eval() -> None:
    assert circular_group(3_000_007) == 7
    assert circular_group(7) == 7
    rows = [
        (1, "A", "A"), (1_000_001, "B", "B"), (2_000_001, "C", "C"),  # all right -> 1
        (2, "A", "A"), (1_000_002, None, "B"),  # one rotation unresolved -> 0
        (3, "B", "A"),  # wrong -> 0
        (1_000_004, "A", "A"),  # original row absent: not scored
    ]  # fmt: skip
    assert circular_eval(rows) == {1: 1, 2: 0, 3: 0}


def test_accuracy_by_uses_short_names() -> None:
    out = accuracy_by(
        [1, 0, 1], ["logic_reasoning", "logic_reasoning", "x"], {"logic_reasoning": "LR"}
    )
    assert out == {"LR": 50.0, "x": 100.0}
    # 100 * (1 / 3), as 100 * np.mean([1, 0, 0]); (100 * 1) / 3 is 33.333333333333336
    assert accuracy_by([1, 0, 0], ["x"] * 3) == {"x": 33.33333333333333}
