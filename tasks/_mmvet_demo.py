"""MM-Vet's demo judge: offline, free and deterministic, for `janus-eval run --task mmvet --demo`.

MM-Vet is graded by GPT-4 (few-shot, 0.0-1.0 per answer); a demo without network or API key
cannot ask it. This stand-in reads the ground truth the way MM-Vet writes it, `a<AND>b` (every
part needed) and `a<OR>b` (any part is enough), and scores 1.0 when the answer contains the
needed parts (case-insensitive, whole words), else 0.0. Its reply still goes through the official
score parser (`janus_eval.metrics.mmvet.grade`), so the demo exercises the real grading path.
It is NOT MM-Vet's grader: runs record judge_model DEMO_JUDGE_MODEL, which keeps them in a
leaderboard column of their own, and demo runs are marked DEMO.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: The judge_url value that selects this judge (what `--demo` sets when no judge is named).
DEMO_JUDGE_URL = "demo"
DEMO_JUDGE_MODEL = "demo-keyword-judge (DEMO, not an LLM)"


def _mentions(text: str, part: str) -> bool:
    part = part.strip().lower()
    return bool(part) and re.search(rf"(?<!\w){re.escape(part)}(?!\w)", text.lower()) is not None


def keyword_score(answer: str, prediction: str) -> float:
    """1.0 when `prediction` holds every <AND> part of `answer` (or one of its <OR> parts; a
    plain answer is one part), else 0.0."""
    if "<AND>" in answer:
        return float(all(_mentions(prediction, p) for p in answer.split("<AND>")))
    return float(any(_mentions(prediction, p) for p in answer.split("<OR>")))


def demo_complete(answer: str, prediction: str) -> Callable[[str, float], tuple[str, str]]:
    """A `complete(prompt, temperature)` for `grade` that replies the keyword score."""
    score = keyword_score(answer, prediction)
    return lambda prompt, temperature: (f"{score:.1f}", DEMO_JUDGE_MODEL)
