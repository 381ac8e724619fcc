"""Multiple-choice answer extraction and MMBench CircularEval, as VLMEvalKit scores them with no
LLM judge (its `exact_matching` mode).

References (open-compass/VLMEvalKit):
- vlmeval/utils/matching_util.py, `can_infer_option` / `can_infer_text` / `can_infer`
  (commit 18fc37a5337e31eec9c104887728ad14e82a6a85);
- vlmeval/dataset/utils/multiple_choice.py, `prefetch_circular_group`, `mcq_circular_eval`,
  `report_acc` (commit 028a6e7702437394df9dfc5aa36be847ce6431f2);
- vlmeval/dataset/image_mcq.py: MMBench / CCBench are always scored circularly.

`extract_choice` = `can_infer`:
1. Refusals: the answer containing one of four fixed phrases (`REFUSALS`) -> "Z".
2. Option letter: replace each of `.()[],:;!*#{}` by a space, split on whitespace; if exactly one
   choice letter occurs as a whole token, that letter ("(B)", "B.", "Answer: B" all work).
   No letter but a bare "Z" token -> "Z".
3. Otherwise option text: lower-case answer and option texts; if exactly one option text is a
   substring of the answer, its letter.
4. Otherwise None ("cannot infer"). Both None and "Z" count as wrong.

Quirks kept:
- Two letters as tokens ("A or B", "I think A is better than B") -> no letter; falls to text
  matching. A lone article "A" is a letter token: "A dog" answers A when A is a choice.
- Letters are case-sensitive: "b" is not B (but may still match B's text).
- Text matching is plain substring: option "cat" matches "concatenate"; an empty option text
  matches everything (and so makes text matching ambiguous).
- The count of letters only looks at letters that are choices: with choices A-C, "D" is ignored.
- VLMEvalKit's "A might be a quantifier" check runs only with the VERBOSE environment variable
  set, so it is not part of the scoring and is not reproduced.
- CircularEval with no judge (`prefetch_circular_group` under `exact_matching`): a question is
  right only if EVERY rotated copy's extracted letter equals its own answer; any wrong or
  unresolved rotation makes it wrong. Rotated copies share `index % 1e6` (`g_index`), and only
  groups whose original row (index == g_index) is present are scored; per category and per
  l2-category accuracies use the original row's labels, with VLMEvalKit's MMB_abbrs short names
  for the l2-categories.
- In CircularEval the whole answer is matched; the "answer shorter than 10 characters" gate of
  VLMEvalKit's `extract_answer_from_item` applies only to non-circular datasets.

Later VLMEvalKit revisions (not the default here) additionally require the option letter to be
among the last tokens and skip text matching for answers longer than twice the options; answers
under the Janus prompt are single letters, for which all revisions agree.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence

REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_API_FAILURE = "Failed to obtain answer via API"
_SEPARATORS = ".()[],:;!*#{}"

#: VLMEvalKit multiple_choice.py `MMB_abbrs`: short names of MMBench's l2-categories.
MMB_ABBRS = {
    "coarse_perception": "CP",
    "finegrained_perception (instance-level)": "FP-S",
    "finegrained_perception (cross-instance)": "FP-C",
    "logic_reasoning": "LR",
    "relation_reasoning": "RR",
    "attribute_reasoning": "AR",
}


def _infer_option(answer: str, choices: Mapping[str, str]) -> str | None:
    if _API_FAILURE in answer:
        return None
    if any(phrase in answer for phrase in REFUSALS):
        return "Z"
    for sep in _SEPARATORS:
        answer = answer.replace(sep, " ")
    tokens = answer.split()
    found = [letter for letter in choices if letter in tokens]
    if len(found) == 1:
        return found[0]
    if not found and "Z" in tokens:
        return "Z"
    return None


def _infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    answer = answer.lower()
    found = [letter for letter, text in choices.items() if str(text).lower() in answer]
    return found[0] if len(found) == 1 else None


def extract_choice(answer: str, choices: Mapping[str, str]) -> str | None:
    """The option letter VLMEvalKit's `can_infer` reads from `answer`; "Z" for a refusal, None
    when it cannot tell. `choices` maps uppercase letters to option texts, e.g.
    {"A": "cat", "B": "dog"}."""
    for letter in choices:
        if not (len(letter) == 1 and letter in string.ascii_uppercase):
            raise ValueError(f"choice keys must be single uppercase letters, got {letter!r}")
    answer = str(answer)
    return _infer_option(answer, choices) or _infer_text(answer, choices)


def circular_group(index: int) -> int:
    """The question a (possibly rotated) MMBench row belongs to: VLMEvalKit's
    `int(index % 1e6)`."""
    return int(index % 1e6)


def circular_eval(rows: Iterable[tuple[int, str | None, str]]) -> dict[int, int]:
    """CircularEval hits by question: `rows` are (index, extracted letter, answer letter) for
    every row, original and rotated. Returns {g_index: 1 or 0} for each question whose original
    row is present."""
    groups: dict[int, list[bool]] = {}
    mains: list[int] = []
    for index, pred, answer in rows:
        g = circular_group(index)
        groups.setdefault(g, []).append(pred == answer)
        if index == g:
            mains.append(g)
    return {g: int(all(groups[g])) for g in mains}


def accuracy_by(
    hits: Sequence[int], labels: Sequence[str], abbrs: Mapping[str, str] | None = None
) -> dict[str, float]:
    """100 * mean hit per label, labels sorted as VLMEvalKit's `report_acc` sorts them."""
    groups: dict[str, list[int]] = {}
    for hit, label in zip(hits, labels):
        groups.setdefault(label, []).append(hit)
    names = abbrs or {}
    return {names.get(k, k): 100.0 * sum(v) / len(v) for k, v in sorted(groups.items())}
