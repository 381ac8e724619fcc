"""janus_eval.metrics.mmvet against yuweihao/MM-Vet's mm-vet_evaluator.py, run against a
scripted judge (the requests it sent, its grades and its score tables are stored in
tests/fixtures/official/mmvet.json with their provenance)."""

from __future__ import annotations

import re

import pytest
from official_cases import load

from janus_eval.metrics.mmvet import (
    JUDGE_PROMPT,
    grade,
    judge_prompt,
    mmvet_scores,
    parse_judge_score,
)

OFFICIAL = load("mmvet")


def scripted_judge(sent: list[tuple[str, float]]):
    """A `complete` that answers like the server the official evaluator talked to."""
    seen: dict[str, int] = {}

    def complete(prompt: str, temperature: float) -> tuple[str, str]:
        key = re.search(r"\| (pred-\w) \| ", prompt).group(1)
        n = seen.get(key, 0)
        seen[key] = n + 1
        sent.append((prompt, temperature))
        replies = OFFICIAL["script"][key]
        return replies[min(n, len(replies) - 1)], "judge-that-answered"

    return complete


def test_prompt_is_the_official_one() -> None:
    assert OFFICIAL["judge_prompt"] == JUDGE_PROMPT
    first = OFFICIAL["requests"][0]
    q = OFFICIAL["data"]["v1_0"]
    assert judge_prompt(q["question"], q["answer"], "pred-a") == (
        OFFICIAL["judge_prompt"] + first["content"]
    )
    assert first["max_tokens"] == 3 and first["model"] == "gpt-4-0613"


@pytest.mark.parametrize("sid", list(OFFICIAL["data"]))
def test_grades_and_requests_match_the_evaluator(sid: str) -> None:
    q, pred = OFFICIAL["data"][sid], OFFICIAL["results"][sid]
    sent: list[tuple[str, float]] = []
    got = grade(q["question"], q["answer"], pred, scripted_judge(sent))
    assert got["score"] == OFFICIAL["grades"][sid]["score"][0]
    official = [r for r in OFFICIAL["requests"] if r["prediction"] == pred]
    if got["attempts"] == 5 and len(official) == 6:
        official = official[:5]  # upstream's sixth request is never read; not sent here
    assert [(p, t) for p, t in sent] == [
        (OFFICIAL["judge_prompt"] + r["content"], r["temperature"]) for r in official
    ]
    assert got["model"] == "judge-that-answered" and got["attempts"] == len(official)


def test_scores_match_the_evaluator_tables() -> None:
    rows = [
        {"capability": OFFICIAL["data"][sid]["capability"], "score": g["score"][0]}
        for sid, g in OFFICIAL["grades"].items()
    ]
    got = mmvet_scores(rows)
    assert got["total"] == OFFICIAL["total"]
    assert got["per_capability"] == OFFICIAL["cap_score"]
    assert got["per_capability_set"] == OFFICIAL["cap_int_score"]


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("0.5", 0.5), ("1", 1.0), ("0.9\n", 0.9), ("1e-1", 0.1), ("0.5 because", 0.5),
        (" 0.3", None), ("0.5.", None), ("1.5", None), ("-0.1", None), ("", None), (None, None),
        ("abc", None),
    ],
)  # fmt: skip
def test_reply_parsing(reply: str | None, score: float | None) -> None:
    assert parse_judge_score(reply) == score


def test_nan_passes_the_range_check_as_upstream() -> None:
    score = parse_judge_score("nan")
    assert score is not None and score != score


def test_rounding_is_numpys() -> None:
    """The official CSVs round with numpy (round(np.float64, 1) is rint(x * 10) / 10), which
    differs from Python's correctly rounded round(): 44.45 -> 44.4 (Python: 44.5)."""
    assert mmvet_scores([{"capability": ["rec"], "score": 0.4445}])["total"] == 44.4
    assert mmvet_scores([{"capability": ["rec"], "score": 0.4315}])["total"] == 43.2
    with pytest.raises(ValueError, match="no MM-Vet rows"):
        mmvet_scores([])
