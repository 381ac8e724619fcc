"""GQA accuracy as the published numbers were computed: an answer normalisation, then GQA's own
eval.py accuracy (exact string match against the one gold answer, balanced questions only).

Two named normalisations (`scorer`), because the tools people use differ:

- "vlmevalkit" (default): open-compass/VLMEvalKit, `vlmeval/dataset/utils/vqa_eval.py`
  `process_line(method='accuracy')`, which `vlmeval/dataset/image_vqa.py` uses for
  GQA_TestDev_Balanced (newest commit touching vqa_eval.py:
  401916c00a4769884aeca865a77674abe0c62a26). Right when
  `gold.strip().lower() == prediction.strip().lower()`. This is the default because the Janus
  authors point to VLMEvalKit for reproducing their understanding results (Janus README,
  2024-10-23: "Evaluation code for reproducing the multimodal understanding results from the
  paper has been added to VLMEvalKit", PR #541, which VLMEvalKit's GQA split predates).
- "llava": haotian-liu/LLaVA `scripts/convert_gqa_for_eval.py` (commit ce1aa08) applies
  `prediction.rstrip('.').lower()`, then GQA's eval.py compares it with the gold answer
  unchanged; the paper tables of LLaVA-1.5 and many others were made this way.

Aggregation, as GQA's eval.py (GQA v1.2 release, with LLaVA's documented test-dev patch; copy
at SHI-Labs/VCoder@2f95684 playground/data/eval/gqa/data/eval/eval.py): only questions with
`isBalanced` count; accuracy = 100 * right / questions; `binary` and `open` are the same over
questions whose structural type is / is not "query" ("open" = query); per structural type
(verify, query, choose, logic, compare) and per semantic type (rel, attr, obj, cat, global).
VLMEvalKit reports the same overall accuracy (np.mean(hits) * 100). Unrounded here; eval.py
prints 2 places.

Quirks kept:
- vlmevalkit: no punctuation handling: "yes." and "the cat" are wrong; " yes " is right.
- llava: only trailing periods go ("Yes." -> "yes", "blue.." -> "blue", "Bottom ." ->
  "bottom " which is wrong); whitespace is kept (" left" is wrong, "white\\n" is wrong), and
  neither side is otherwise normalised ("grey" vs "gray" is wrong in both).
- eval.py's `avg` of an empty list is 0: binary or open with no questions is 0.0.
Not computed: eval.py's validity, plausibility, consistency, grounding and distribution (the
papers report accuracy only; validity/plausibility need the choices file test-dev lacks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SCORERS = ("vlmevalkit", "llava")


def normalize_prediction(prediction: str, scorer: str = "vlmevalkit") -> str:
    """The prediction as the chosen tool hands it to the comparison."""
    if scorer == "vlmevalkit":
        return str(prediction).strip().lower()
    if scorer == "llava":
        return str(prediction).rstrip(".").lower()
    raise ValueError(f"unknown GQA scorer {scorer!r}; choose one of {', '.join(SCORERS)}")


def is_correct(prediction: str, answer: str, scorer: str = "vlmevalkit") -> bool:
    """eval.py's `predicted == gold` after the scorer's normalisation (VLMEvalKit also strips
    and lower-cases the gold answer; LLaVA's pipeline leaves it as it is)."""
    gold = str(answer).strip().lower() if scorer == "vlmevalkit" else str(answer)
    return normalize_prediction(prediction, scorer) == gold


def gqa_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """accuracy, binary, open (percent) and per_structural / per_semantic breakdowns, from rows
    with `correct` (bool), `structural` and `semantic` (the question's `types`)."""
    all_hits: list[float] = []
    groups: dict[str, list[float]] = {"binary": [], "open": []}
    structural: dict[str, list[float]] = {}
    semantic: dict[str, list[float]] = {}
    for row in rows:
        hit = float(1 if row["correct"] else 0)
        all_hits.append(hit)
        groups["open" if row["structural"] == "query" else "binary"].append(hit)
        structural.setdefault(row["structural"], []).append(hit)
        semantic.setdefault(row["semantic"], []).append(hit)
    return {
        "accuracy": _percent(all_hits),
        "binary": _percent(groups["binary"]),
        "open": _percent(groups["open"]),
        "per_structural": {k: _percent(v) for k, v in sorted(structural.items())},
        "per_semantic": {k: _percent(v) for k, v in sorted(semantic.items())},
    }


def _percent(hits: list[float]) -> float:
    """eval.py: avg(l) * 100, with avg([]) == 0."""
    return (float(sum(hits)) / len(hits) if hits else 0) * 100
