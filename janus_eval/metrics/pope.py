"""POPE scoring exactly as the official evaluate.py does it.

Reference: RUCAIBox/POPE evaluate.py (the same code is vendored verbatim in LLaVA's
llava/eval/eval_pope.py and CircleRadon/Osprey osprey/eval/pope/evaluate.py, which is where it was
read). Per answer: keep the text before the first ".", delete ",", split on " "; if a token is
exactly "No", "not" or "no" the answer is "no", otherwise "yes". Labels: "no" is negative, anything
else positive. Metrics over the (prediction, label) pairs: accuracy, precision, recall, F1 and the
yes-ratio (share of PREDICTIONS that are yes).

Quirks kept (each is what the official code does):

- "yes." and "No." parse fine (the period ends the first sentence); "Yes, there is." -> yes.
- Only the first sentence counts: "Yes. But there is no dog." -> yes.
- The split is on a single space, not on whitespace: "No\\n" or "no\\tdog" contain no bare
  "No"/"no" token and parse as yes. Adapters should return stripped text (Janus does).
- Case matters: "NO", "Nope", "None", "Not" (capital N) and "isn't" all parse as yes; "not" anywhere
  in the first sentence parses as no ("not sure", "I'm not certain").
- Anything without a negative token is yes, including "" and refusals.

Deviations (cannot change a result on valid input):
- Labels must be "yes" or "no"; the official code silently treats any other label as yes, here it
  is a ValueError.
- Precision/recall/F1 whose denominator is zero are 0.0 (the official script divides by zero and
  crashes; lmms-eval and scikit-learn also use 0).

Variant `lmms-eval` (EvolvingLMMs-Lab/lmms-eval lmms_eval/tasks/pope/utils.py), reported only when
asked for: the prediction is `answer.lower().strip()` compared exactly to the label, so "yes."
matches neither yes nor no (lmms-eval#673); precision counts only exact "yes" predictions, recall
only exact "yes"/"no"; and its yes_ratio is the share of LABELS that are yes (a bug upstream,
reproduced so numbers line up with theirs).
"""

from __future__ import annotations

from collections.abc import Sequence

NEGATIVE_TOKENS = ("No", "not", "no")
VARIANTS = ("official", "lmms-eval")


def parse_yes_no(answer: str, variant: str = "official") -> str:
    """ "yes" or "no" as the official POPE parser reads `answer` (the lmms-eval variant returns
    the lower-cased, stripped answer, which may be neither)."""
    if variant == "lmms-eval":
        return answer.lower().strip()
    if variant != "official":
        raise ValueError(f"unknown POPE parser variant {variant!r}; known: {', '.join(VARIANTS)}")
    text = answer
    if text.find(".") != -1:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    return "no" if any(tok in words for tok in NEGATIVE_TOKENS) else "yes"


def _check_labels(labels: Sequence[str]) -> None:
    for i, label in enumerate(labels):
        if label not in ("yes", "no"):
            raise ValueError(f"POPE label {i} is {label!r}; labels must be 'yes' or 'no'")


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def pope_metrics(
    predictions: Sequence[str], labels: Sequence[str], variant: str = "official"
) -> dict[str, float]:
    """accuracy, precision, recall, f1, yes_ratio as fractions in [0, 1] (the official script
    prints fractions). `predictions` are raw answers (already parsed "yes"/"no" work too)."""
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} predictions but {len(labels)} labels")
    if not labels:
        raise ValueError("no POPE predictions to score")
    _check_labels(labels)
    parsed = [parse_yes_no(p, variant) for p in predictions]
    if variant == "lmms-eval":
        return _lmms_eval_metrics(parsed, labels)
    pred = [0 if p == "no" else 1 for p in parsed]
    gold = [0 if g == "no" else 1 for g in labels]
    tp = sum(1 for p, g in zip(pred, gold) if p == 1 and g == 1)
    fp = sum(1 for p, g in zip(pred, gold) if p == 1 and g == 0)
    tn = sum(1 for p, g in zip(pred, gold) if p == 0 and g == 0)
    fn = sum(1 for p, g in zip(pred, gold) if p == 0 and g == 1)
    precision = _ratio(float(tp), float(tp + fp))
    recall = _ratio(float(tp), float(tp + fn))
    return {
        "accuracy": (tp + tn) / (tp + tn + fp + fn),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "yes_ratio": pred.count(1) / len(pred),
    }


def _lmms_eval_metrics(pred: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    tp = sum(1 for p, g in zip(pred, gold) if g == "yes" and p == "yes")
    fp = sum(1 for p, g in zip(pred, gold) if g == "no" and p == "yes")
    fn = sum(1 for p, g in zip(pred, gold) if g == "yes" and p == "no")
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "accuracy": sum(1.0 if p == g else 0.0 for p, g in zip(pred, gold)) / len(gold),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * (precision * recall), precision + recall),
        "yes_ratio": _ratio(gold.count("yes"), gold.count("yes") + gold.count("no")),
    }
