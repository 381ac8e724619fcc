"""janus_eval.metrics.mcq against hand cases worked out from VLMEvalKit's `can_infer` and its
exact-matching CircularEval (vlmeval/utils/matching_util.py, vlmeval/dataset/utils/
multiple_choice.py)."""

from __future__ import annotations

import pytest

from janus_eval.metrics.mcq import accuracy_by, circular_eval, circular_group, extract_choice

CHOICES = {"A": "cat", "B": "dog", "C": "bird"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("The answer is C.", "C"),
        ("Answer: A", "A"),
        ("{C}", "C"),
        ("A or B", None),  # two letters: no letter; no option text either
        ("A dog", "A"),  # the article reads as the letter A (upstream quirk)
        ("b", None),  # letters are case-sensitive
        ("I think it is the dog", "B"),  # option text, unique substring
        ("a dog", "B"),
        ("cat or dog", None),  # two option texts
        ("concatenate", "A"),  # plain substring match
        ("D", None),  # not a choice, ignored
        ("Z", "Z"),
        ("Cannot determine the answer", "Z"),  # refusal phrase
        ("", None),
    ],
)
def test_extract_choice(answer: str, expected: str | None) -> None:
    assert extract_choice(answer, CHOICES) == expected


def test_extract_choice_does_not_mutate_and_checks_keys() -> None:
    choices = {"A": "Cat", "B": "Dog"}
    assert extract_choice("a CAT", choices) == "A"
    assert choices == {"A": "Cat", "B": "Dog"}
    with pytest.raises(ValueError):
        extract_choice("A", {"a": "cat"})


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
