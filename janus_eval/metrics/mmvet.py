"""MM-Vet scoring with its official GPT grader, exactly as yuweihao/MM-Vet's
`mm-vet_evaluator.py` does it (newest commit touching it:
c7ff270d86fb79c42346214366f4192c0e08b042, 2024-02-26; repository head
acde843e02dae30047bb456ee4a8ab28dee7e0ae).

Grading one answer (`grade`): the judge gets ONE user message, `JUDGE_PROMPT` + "\\n" +
"question | ground truth | prediction | " (the ground truth with " <AND> " / " <OR> " spaced
out), with max_tokens=3 and temperature 0. The reply's first space-separated token, stripped,
must parse as a float in [0, 1]. If it does not, the question is asked again with
"\\nPredict the correctness of the answer (digit): " appended, at temperatures 0, 0.5, 1.0,
1.5 in turn; after five unusable replies the score is 0.0.

Set level (`mmvet_scores`): per capability, 100 * (sum of the scores of the questions that
need it) / (their number); `total` the same over all questions; per capability integration
(the exact set of capabilities a question needs) likewise. Each is rounded to 1 place with
numpy's rounding (`round(np.float64, 1)`), as the official CSVs hold them.

Quirks kept: only the first token counts ("0.5 because" -> 0.5, " 0.5" -> "" -> retry,
"0.5." -> retry); Python's float() decides what a number is ("1e-1" -> 0.1, and "nan" passes
the range check, as upstream); out-of-range numbers ("1.5") are retried, not clipped.

Deviations (none changes a score): upstream asks a sixth time (temperature 2.0) after the
fifth unusable reply and never reads that answer; it is not asked here. Upstream restarts a
sample from its current prompt on a rate limit; here the HTTP client retries the same request
(tasks/_judge.py). Capability-integration columns are named by their capabilities sorted and
joined with "_" (upstream joins a Python set, whose order changes from run to run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: mm-vet_evaluator.py `prompt`, verbatim.
JUDGE_PROMPT = """Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the countries and their actual physical characteristics. | 1.0
"""  # noqa: E501
RETRY_SUFFIX = "\nPredict the correctness of the answer (digit): "
#: Temperatures of the five requests upstream reads (the first without RETRY_SUFFIX).
TEMPERATURES = (0.0, 0.0, 0.5, 1.0, 1.5)
MAX_TOKENS = 3
#: Identifies the grading rule (prompt, suffix, settings) in run ids and judge caches.
GRADER_ID = hashlib.sha256(
    f"{JUDGE_PROMPT}\x1f{RETRY_SUFFIX}\x1f{TEMPERATURES}\x1f{MAX_TOKENS}".encode()
).hexdigest()[:16]

#: complete(prompt, temperature) -> (reply text, model name the endpoint reports)
Complete = Callable[[str, float], tuple[str, str]]


def judge_prompt(question: str, answer: str, prediction: str, *, retry: bool = False) -> str:
    """The user message upstream sends for one answer."""
    truth = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    text = JUDGE_PROMPT + "\n" + " | ".join([question, truth, prediction, ""])
    return text + RETRY_SUFFIX if retry else text


def parse_judge_score(reply: str | None) -> float | None:
    """The score upstream reads from a reply, or None when it would ask again."""
    try:
        score = float((reply or "").split(" ")[0].strip())
    except ValueError:
        return None
    return None if score > 1.0 or score < 0.0 else score


def grade(question: str, answer: str, prediction: str, complete: Complete) -> dict[str, Any]:
    """{"score", "reply", "model", "attempts"} for one answer, asking `complete` as upstream
    asks its client."""
    for attempt, temperature in enumerate(TEMPERATURES):
        prompt = judge_prompt(question, answer, prediction, retry=attempt > 0)
        reply, model = complete(prompt, temperature)
        score = parse_judge_score(reply)
        if score is not None:
            return {"score": score, "reply": reply, "model": model, "attempts": attempt + 1}
    return {"score": 0.0, "reply": reply, "model": model, "attempts": len(TEMPERATURES)}


def mmvet_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """{"total", "per_capability", "per_capability_set"} in points (0-100, 1 place), from rows
    with `capability` (list of names) and `score` (the judge's 0-1 score), in data order."""
    total, n = 0.0, 0
    caps: dict[str, list[float]] = {}
    sets: dict[str, list[float]] = {}
    for row in rows:
        score = float(row["score"])
        names = sorted(set(row["capability"]))
        total += score
        n += 1
        for cap in names:
            caps.setdefault(cap, [0.0, 0])
            caps[cap][0] += score
            caps[cap][1] += 1
        key = "_".join(names)
        sets.setdefault(key, [0.0, 0])
        sets[key][0] += score
        sets[key][1] += 1
    if not n:
        raise ValueError("no MM-Vet rows to score")
    return {
        "total": _points(total, n),
        "per_capability": {k: _points(*v) for k, v in _by_count(caps)},
        "per_capability_set": {k: _points(*v) for k, v in _by_count(sets)},
    }


def _by_count(groups: Mapping[str, Sequence[float]]) -> list[tuple[str, Sequence[float]]]:
    """Most rows first, ties in the order the data first shows them: the evaluator's column
    order (a stable sort; `groups` keeps first-seen order)."""
    return sorted(groups.items(), key=lambda kv: -kv[1][1])


def _points(score_sum: float, count: float) -> float:
    """export_result: np.array([sum]) / count * 100, mean over the single run, round(., 1)."""
    return float(round((np.array([score_sum]) / count * 100).mean(), 1))
