"""MME scoring exactly as the MME authors' eval tool computes it.

Reference: `eval_tool/calculation.py` in `tools/eval_tool.zip` on the `Evaluation` branch of
BradyFU/Awesome-Multimodal-Large-Language-Models (the MME authors' repository; the zip was last
changed in commit 1c1d69e138b57cf8b0400427927bfb8ed4285458, and the branch's newest commit,
dd2950902889cd614d4edf606827240166d29381, still ships it unchanged). LLaVA's `scripts/v1_5/eval/
mme.sh` runs this same tool.

The rules, per subtask (one results file per subtask in the tool, one line per question):

1. Answer parsing (`parse_pred_ans`), on the lower-cased prediction: exactly "yes" or "no" is
   itself; otherwise look at the first FOUR characters: "yes" among them -> yes, else "no"
   among them -> no, else "other" (counted wrong).
2. `acc`: share of questions whose parsed answer equals the lower-cased ground truth.
3. `acc_plus`: share of images whose two questions are both right (the tool pairs the lines of
   a subtask file two by two; here the two questions of an image are paired by image name
   within the subtask, which is the same thing on the official files, where the two questions
   of an image are adjacent; image names repeat across subtasks, never within one).
4. Subtask score: acc * 100 + acc_plus * 100 (added in this order, as the tool does).
5. Perception: the sum of the 10 perception subtask scores (max 2000); cognition: the sum of the
   4 cognition ones (max 800), summed in the tool's subtask order. Nothing is rounded.

Quirks kept:
- Only the first four characters count: "Yesterday" -> yes, "know" -> no ("no" in "know"),
  "Not sure" -> no, "none" -> no, "I think yes" -> other, " yes" (one leading space) -> yes,
  "  yes" (two) -> other.
- "yes" is looked for first: "yesno" -> yes, but "no yes" -> no ("yes" is not within "no y").
- The ground truth is lower-cased ("Yes" -> "yes"); anything but yes/no is an error there too.

Deviation (cannot change a result on valid input):
- The tool reads one response per line and its README says to delete newlines from responses
  before writing them; a response here is a string, so line breaks ("\\n", and "\\r", which
  Python's text mode also reads as a line break) are deleted first, as that README asks:
  "\\nYes" -> "yes" (the tool would read a broken file).
- The tool asserts that every subtask file has an even number of lines and crashes on a
  missing subtask file; here an image without exactly two questions is a ValueError, and a
  subtask with no rows is simply absent (a --limit run): its group total is then the sum over
  the subtasks present, and a group with none present is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: calculation.py `eval_type_dict`, in the tool's order (totals are summed in this order).
PERCEPTION: tuple[str, ...] = (
    "existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
    "artwork", "OCR",
)  # fmt: skip
COGNITION: tuple[str, ...] = (
    "commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning",
)  # fmt: skip
SUBTASKS: tuple[str, ...] = PERCEPTION + COGNITION


def parse_yes_no(prediction: str) -> str:
    """ "yes", "no" or "other", as calculation.py's `parse_pred_ans` reads the lower-cased
    prediction (after deleting line breaks, as the tool's README asks)."""
    text = str(prediction).replace("\r", "").replace("\n", "").lower()
    if text in ("yes", "no"):
        return text
    prefix = text[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"


def mme_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Perception and cognition totals and per-subtask {acc, acc_plus, score}.

    `rows` are dicts with `category` (the subtask, e.g. "existence"), `image`, `question`,
    `answer` ("Yes"/"No") and `prediction` (the raw model answer). acc and acc_plus are
    fractions in [0, 1]; a subtask's score is in points (max 200)."""
    by_subtask: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for number, row in enumerate(rows):
        category = row["category"]
        if category not in SUBTASKS:
            raise ValueError(
                f"MME row {number}: unknown subtask {category!r}; MME has {', '.join(SUBTASKS)}"
            )
        truth = str(row["answer"]).lower()
        if truth not in ("yes", "no"):
            raise ValueError(f"MME row {number}: answer {row['answer']!r} is not yes or no")
        images = by_subtask.setdefault(category, {})
        images.setdefault(str(row["image"]), []).append((truth, parse_yes_no(row["prediction"])))

    per_category: dict[str, dict[str, float]] = {}
    totals: dict[str, float | None] = {}
    for group, names in (("perception", PERCEPTION), ("cognition", COGNITION)):
        total: float | None = None
        for name in names:
            if name not in by_subtask:
                continue
            per_category[name] = _subtask(name, by_subtask[name])
            total = (0 if total is None else total) + per_category[name]["score"]
        totals[group] = total
    return {**totals, "per_category": per_category}


def _subtask(name: str, images: Mapping[str, list[tuple[str, str]]]) -> dict[str, float]:
    questions = right_images = 0
    right = 0
    for image, pairs in images.items():
        if len(pairs) != 2:
            raise ValueError(
                f"MME subtask {name!r}: image {image!r} has {len(pairs)} question(s); the MME "
                "tool scores each image's two questions together (acc+)"
            )
        hits = sum(truth == pred for truth, pred in pairs)
        questions += len(pairs)
        right += hits
        right_images += hits == 2
    acc = right / questions
    acc_plus = right_images / len(images)
    score = 0 + acc * 100
    score += acc_plus * 100
    return {"acc": acc, "acc_plus": acc_plus, "score": score}
