"""Multiple-choice answer extraction and MMBench CircularEval, as VLMEvalKit scores them with no
LLM judge (its `exact_matching` mode), at two revisions.

References (open-compass/VLMEvalKit):
- vlmeval/utils/matching_util.py, `can_infer_option` / `can_infer_text` / `can_infer`;
- vlmeval/dataset/utils/multiple_choice.py, `prefetch_circular_group`, `mcq_circular_eval`,
  `report_acc`;
- vlmeval/dataset/image_mcq.py: MMBench / CCBench are always scored circularly.

Revisions (`scorer=`):
- `vlmevalkit-2cf2a36` (the default): commit 2cf2a36c6e79b51faf676a7011b3a0f5b579814d
  (2026-06-25), the newest commit of matching_util.py (its last rule change is a67ace5,
  2026-06-17); multiple_choice.py is at its newest commit 1445ec4 (2026-06-17) there.
- `vlmevalkit-18fc37a`: commit 18fc37a5337e31eec9c104887728ad14e82a6a85 (2025-04-08), the
  matching_util.py every VLMEvalKit release before August 2025 used.
CircularEval (`prefetch_circular_group`, `mcq_circular_eval`) and `report_acc` are the same at
both (only logging and a temporary file's format changed), so `circular_eval` and `accuracy_by`
take no revision: the revision enters through the letters `extract_choice` reads.

`extract_choice` = `can_infer` = `can_infer_option`, else `can_infer_text`:
1. "Failed to obtain answer via API" in the answer: no letter (text matching still runs).
2. Refusals: the answer containing one of four fixed phrases (`REFUSALS`) -> "Z".
3. Option letter: replace each of `.()[],:;!*#{}` by a space, split on whitespace, count the
   choice letters that occur as whole tokens.
   - exactly one: that letter; at 2cf2a36 only if its FIRST occurrence is among the last four
     tokens (`splits.index(ch) > len(splits) - 5`), otherwise go on;
   - none, but a bare "Z" token: "Z".
4. 2cf2a36 only: the regex `(?i)(?:correct\\s+)?answer\\s+is\\s+\\**([ABCD])\\**` on the raw answer;
   its letter, upper-cased, if it is a choice.
5. Option text: lower-case answer and option texts; if exactly one option text is a substring of
   the answer, its letter. At 2cf2a36 skipped when the answer is longer than twice the summed
   length of the option texts.
6. Otherwise None ("cannot infer"). Both None and "Z" count as wrong.

Quirks kept:
- Two letters as tokens ("A or B") -> no letter; at 2cf2a36 the regex of step 4 may still pick
  one ("The answer is A, not B" -> A). A lone article "A" is a letter token: "A dog" answers A
  when A is a choice.
- Letters are case-sensitive in step 3: "b" is not B (but may still match B's text); step 4 is
  case-insensitive and needs no word boundary: "the answer is apple" reads as A, "answer is
  bird" as B, whenever that letter is a choice. Step 4 knows only A-D.
- Step 3 at 2cf2a36: "B is right because it is the largest animal here" has B as its first token
  of ten, so no letter; it then fails the length gate of step 5 too and is unresolved.
- Text matching is plain substring: option "cat" matches "concatenate"; an empty option text
  matches everything (and so makes text matching ambiguous).
- The count of letters only looks at letters that are choices: with choices A-C, "D" is ignored.
- VLMEvalKit's "A might be a quantifier" check runs only with the VERBOSE environment variable
  set (to anything, "0" included), so it is not part of the scoring and is not reproduced.
- CircularEval with no judge (`prefetch_circular_group` under `exact_matching`): a question is
  right only if EVERY rotated copy's extracted letter equals its own answer; any wrong or
  unresolved rotation makes it wrong. Rotated copies share `index % 1e6` (`g_index`), and only
  groups whose original row (index == g_index) is present are scored; per category and per
  l2-category accuracies use the original row's labels, with VLMEvalKit's MMB_abbrs short names
  for the l2-categories. VLMEvalKit reports fractions; here they are percentages,
  100 * (hits / n), so each equals 100 times VLMEvalKit's number to the last bit.
- In CircularEval the whole answer is matched; 18fc37a-era multiple_choice.py's "answer shorter
  than 10 characters" gate applied only to non-circular datasets (and is gone at 1445ec4).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence

from janus_eval.metrics.revisions import ScorerRevision, pick, revisions

_REPO = "open-compass/VLMEvalKit"
_FILES = ("vlmeval/utils/matching_util.py", "vlmeval/dataset/utils/multiple_choice.py")
#: The revisions reproduced; the first is the default.
REVISIONS = revisions(
    ScorerRevision("vlmevalkit-2cf2a36", _REPO, "2cf2a36c6e79b51faf676a7011b3a0f5b579814d",
                   "2026-06-25", _FILES),
    ScorerRevision("vlmevalkit-18fc37a", _REPO, "18fc37a5337e31eec9c104887728ad14e82a6a85",
                   "2025-04-08", _FILES),
)  # fmt: skip
DEFAULT_SCORER = "vlmevalkit-2cf2a36"

REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_API_FAILURE = "Failed to obtain answer via API"
_SEPARATORS = ".()[],:;!*#{}"
#: matching_util.py `_VERBOSE_ANSWER_RE` (a67ace5 on): "The correct answer is **B**".
VERBOSE_ANSWER = re.compile(r"(?i)(?:correct\s+)?answer\s+is\s+\**([ABCD])\**")
#: At 2cf2a36 a single letter counts only among the last this-many tokens.
_LAST_TOKENS = 4

#: VLMEvalKit multiple_choice.py `MMB_abbrs`: short names of MMBench's l2-categories.
MMB_ABBRS = {
    "coarse_perception": "CP",
    "finegrained_perception (instance-level)": "FP-S",
    "finegrained_perception (cross-instance)": "FP-C",
    "logic_reasoning": "LR",
    "relation_reasoning": "RR",
    "attribute_reasoning": "AR",
}


def _infer_option(answer: str, choices: Mapping[str, str], current: bool) -> str | None:
    """can_infer_option; `current` selects 2cf2a36's rules over 18fc37a's."""
    if _API_FAILURE in answer:
        return None
    if any(phrase in answer for phrase in REFUSALS):
        return "Z"
    spaced = answer
    for sep in _SEPARATORS:
        spaced = spaced.replace(sep, " ")
    tokens = spaced.split()
    found = [letter for letter in choices if letter in tokens]
    if len(found) == 1:
        if not current or tokens.index(found[0]) >= len(tokens) - _LAST_TOKENS:
            return found[0]
    elif not found and "Z" in tokens:
        return "Z"
    if current:
        match = VERBOSE_ANSWER.search(answer)
        if match and match.group(1).upper() in choices:
            return match.group(1).upper()
    return None


def _infer_text(answer: str, choices: Mapping[str, str], current: bool) -> str | None:
    """can_infer_text; at 2cf2a36 an answer longer than twice the option texts is not matched."""
    answer = answer.lower()
    if current and len(answer) > 2 * sum(len(str(text)) for text in choices.values()):
        return None
    found = [letter for letter, text in choices.items() if str(text).lower() in answer]
    return found[0] if len(found) == 1 else None


def extract_choice(
    answer: str, choices: Mapping[str, str], *, scorer: str = DEFAULT_SCORER
) -> str | None:
    """The option letter VLMEvalKit's `can_infer` reads from `answer`; "Z" for a refusal, None
    when it cannot tell. `choices` maps uppercase letters to option texts, e.g.
    {"A": "cat", "B": "dog"}; `scorer` names the VLMEvalKit revision (see `REVISIONS`)."""
    current = pick(REVISIONS, scorer).name == DEFAULT_SCORER
    for letter in choices:
        if not (len(letter) == 1 and letter in string.ascii_uppercase):
            raise ValueError(f"choice keys must be single uppercase letters, got {letter!r}")
    answer = str(answer)
    return _infer_option(answer, choices, current) or _infer_text(answer, choices, current)


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
    """100 * (mean hit) per label, labels sorted as VLMEvalKit's `report_acc` sorts them (which
    reports the mean itself)."""
    groups: dict[str, list[int]] = {}
    for hit, label in zip(hits, labels):
        groups.setdefault(label, []).append(hit)
    names = abbrs or {}
    return {names.get(k, k): percent(v) for k, v in sorted(groups.items())}


def percent(hits: Sequence[int]) -> float:
    """100 * (hits / n): 100 times `np.mean(hits)` (what VLMEvalKit reports) to the last bit."""
    return 100.0 * (sum(hits) / len(hits))
