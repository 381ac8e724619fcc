"""SEED-Bench (image dimensions 1-9) multiple choice, scored as VLMEvalKit scores SEEDBench_IMG.

Why VLMEvalKit and not SEED-Bench's own eval.py: the official script (AILab-CVC/SEED-Bench
eval.py, 77617150) ranks the four options by the model's loss on each, which needs likelihoods
a generated answer does not give; the Janus papers' understanding numbers come from VLMEvalKit
(the Janus README points to VLMEvalKit PR #541 for reproducing them), which asks for a letter
and reads it with exact matching.

VLMEvalKit (vlmeval/dataset/image_mcq.py `evaluate_heuristic` -> utils/multiple_choice.py
`mcq_vanilla_eval` -> `extract_answer_from_item` -> `report_acc`), with no LLM judge
(`exact_matching`):
1. The letter is `can_infer(prediction, choices)` (`janus_eval.metrics.mcq.extract_choice`, at
   the revision `scorer` names); when it cannot tell, "Z" (counted wrong). SEED is scored
   vanilla, never circularly.
2. hit = letter == answer; overall = mean hit; per dimension (the TSV's `category`) the same,
   dimensions sorted by name. Reported here in percent (VLMEvalKit's table holds fractions).
VLMEvalKit's default judge (ChatGPT, used only when can_infer fails and an API key is set) is
not run: with the Janus prompt ("Answer with the option's letter ... directly") answers are
letters, which can_infer reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from janus_eval.metrics.mcq import DEFAULT_SCORER, accuracy_by, extract_choice

#: SEED-Bench.json's "question_type" map as the file writes it (name -> question_type_id), so it
#: can be checked line by line against the file and eval.py's `task_names`; ids 10-12 are the
#: video dimensions, which the image benchmark leaves out.
QUESTION_TYPES: dict[str, int] = {
    "Scene Understanding": 1,
    "Instance Identity": 2,
    "Instance Attributes": 3,
    "Instance Location": 4,
    "Instances Counting": 5,
    "Spatial Relation": 6,
    "Instance Interaction": 7,
    "Visual Reasoning": 8,
    "Text Understanding": 9,
    "Action Recognition": 10,
    "Action Prediction": 11,
    "Procedure Understanding": 12,
}
#: The image dimensions by id (question_type_id 1-9), as eval.py inverts its map (`task_ids`).
DIMENSIONS: dict[int, str] = {i: name for name, i in QUESTION_TYPES.items() if i <= 9}


def seedbench_letter(
    prediction: str, choices: Mapping[str, str], *, scorer: str = DEFAULT_SCORER
) -> str:
    """The option letter VLMEvalKit reads at the `scorer` revision (`mcq.REVISIONS`: can_infer
    changed upstream), or "Z" when it cannot tell."""
    return extract_choice(prediction, choices, scorer=scorer) or "Z"


def seedbench_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """{"accuracy", "per_dimension"} in percent, from rows with `dimension`, `answer` (a
    letter), `prediction` (raw text) and `choices` ({"A": text, ...})."""
    rows = list(rows)
    hits = [int(seedbench_letter(r["prediction"], r["choices"]) == r["answer"]) for r in rows]
    return seedbench_accuracy(hits, [r["dimension"] for r in rows])


def seedbench_accuracy(hits: Sequence[int], dimensions: Sequence[str]) -> dict[str, Any]:
    """report_acc: the mean hit overall and per dimension (sorted by name), in percent."""
    if not hits:
        raise ValueError("no SEED-Bench rows to score")
    return {
        "accuracy": 100.0 * sum(hits) / len(hits),
        "per_dimension": accuracy_by(hits, dimensions),
    }
