"""MMMU scoring exactly as the official MMMU-Benchmark evaluation code does it.

Reference: MMMU-Benchmark/MMMU, `mmmu/utils/eval_utils.py` (`parse_multi_choice_response`,
`parse_open_response`, `eval_multi_choice`, `eval_open`, `evaluate`,
`calculate_ins_level_acc`), `mmmu/utils/data_utils.py` (`DOMAIN_CAT2SUB_CAT`,
`CAT_SHORT2LONG`, `get_multi_choice_info`) and `mmmu/main_eval_only.py`. The newest commit
touching them is aa9b70da92c2825b3d544d1a11b36856bd92f6c3 (2024-09-06, which moved `eval/` to
`mmmu/` without changing a line; the code is that of 78e9c75f90f672d15af25cfc5799f13294711383).

Multiple choice (`parse_multi_choice`):
1. Strip `, . ! ? ; : '` from both ends, one character kind after the other (so "B.," -> "B"
   but "B,." -> "B,", which then matches no letter), then pad with a space on each side.
2. Candidates: every letter written as "(X)"; if none, every letter standing alone between
   spaces; if none and the padded response has more than 5 words, every option whose text
   (lower-cased) occurs in the lower-cased response.
3. One candidate: it. Several: the one found LAST in the response (`rfind`; ties go to the
   first candidate, as `np.argmax` does). None: a random letter (see below).

Open answers (`parse_open`): lower-case, split into sentences on ". " before a capital letter
(the text is already lower-cased, so this never splits) and on newlines; in each sentence take
the shortest tail after an indicator ("could be ", "so ", "is ", "thus ", "therefore ",
"final ", "answer ", "result ", and "=" in the last sentence); add every number found in those
tails (with commas, scientific, plain); normalise each (numbers -> float rounded to 2 places,
other text lower-cased, a single character padded as " x" and "x "); de-duplicate.
`is_correct` for open questions: a numeric prediction must equal a numeric gold answer; a text
prediction is right when a gold answer's text occurs IN it (so "paris, france" matches "paris",
and a longer gold answer never matches a shorter prediction).

Scores: per-subject accuracy = right / questions; overall and per discipline = the official
`calculate_ins_level_acc`, sum(acc_subject * n_subject) / sum(n_subject), summed in
`CAT_SHORT2LONG` order for the overall (as main_eval_only.py) and in `DOMAIN_CAT2SUB_CAT` order
per discipline. Fractions in [0, 1], unrounded (the scripts print them rounded to 3 places).

Quirks kept: see above, and: numbers are compared after `round(x, 2)` ("3.429" == "3.43");
Python's `float` accepts "1_000", "nan" and "inf", so the official number test does too; gold
answers may be lists (any element right is enough).

The one deliberate difference, the random fallback: the official parser calls
`random.choice(all_choices)` on a module-level generator seeded once with 42, so a fallback's
letter depends on how many fallbacks came before it (order, batching and sharding change it).
Here the letter is drawn from `rng`; the mmmu task passes `fallback_rng(run seed, sample id)`,
so it depends on the run seed and the sample alone. Both draw uniformly from `all_choices`.
Deviation: an unknown subject is a ValueError (main_eval_only.py skips it silently), and a
discipline with no questions is left out (the official table prints it as 0).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: data_utils.py `DOMAIN_CAT2SUB_CAT`: disciplines and their subjects, in the official order.
DISCIPLINES: dict[str, tuple[str, ...]] = {
    "Art and Design": ("Art", "Art_Theory", "Design", "Music"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Health and Medicine": (
        "Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy", "Public_Health",
    ),
    "Humanities and Social Science": ("History", "Literature", "Sociology", "Psychology"),
    "Tech and Engineering": (
        "Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics",
        "Energy_and_Power", "Materials", "Mechanical_Engineering",
    ),
}  # fmt: skip
#: data_utils.py `CAT_SHORT2LONG` values, in its order (the order the overall is summed in).
SUBJECTS: tuple[str, ...] = (
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory",
    "Basic_Medical_Science", "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science",
    "Design", "Diagnostics_and_Laboratory_Medicine", "Economics", "Electronics",
    "Energy_and_Power", "Finance", "Geography", "History", "Literature", "Manage", "Marketing",
    "Materials", "Math", "Mechanical_Engineering", "Music", "Pharmacy", "Physics", "Psychology",
    "Public_Health", "Sociology",
)  # fmt: skip

_STRIP = (",", ".", "!", "?", ";", ":", "'")
_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = (":", ",", ".", "!", "?", ";", ":", "'")
_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def choice_info(options: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """data_utils.get_multi_choice_info: ({"A": option, ...}, ["A", "B", ...])."""
    letters = [chr(ord("A") + i) for i in range(len(options))]
    return dict(zip(letters, options)), letters


def fallback_rng(seed: int, sample_id: str) -> random.Random:
    """The generator a sample's random fallback draws from: a function of (seed, id) alone."""
    digest = hashlib.sha256(f"mmmu-fallback\x1f{seed}\x1f{sample_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def parse_multi_choice(
    response: str,
    all_choices: Sequence[str],
    index2ans: Mapping[str, str],
    *,
    rng: random.Random | None = None,
) -> str:
    """The letter eval_utils.parse_multi_choice_response reads from `response`; when it finds
    none, a letter drawn from `rng` (default: a fixed `random.Random(0)`)."""
    for char in _STRIP:
        response = response.strip(char)
    response = " " + response + " "
    candidates = [c for c in all_choices if f"({c})" in response]
    bracketed, by_letter = bool(candidates), True
    if not candidates:
        candidates = [c for c in all_choices if f" {c} " in response]
    if not candidates and len(response.split()) > 5:
        candidates = [i for i, ans in index2ans.items() if ans.lower() in response.lower()]
        by_letter = False
    if not candidates:
        return (rng or random.Random(0)).choice(list(all_choices))
    if len(candidates) == 1:
        return candidates[0]
    if not by_letter:
        starts = [response.lower().rfind(index2ans[c].lower()) for c in candidates]
    elif bracketed:
        starts = [response.rfind(f"({c})") for c in candidates]
    else:
        starts = [response.rfind(f" {c} ") for c in candidates]
    return candidates[starts.index(max(starts))]


def is_number(text: str) -> bool:
    """eval_utils.check_is_number: Python's float() accepts it once commas are removed."""
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def normalize(text: str) -> list[str | float]:
    """eval_utils.normalize_str."""
    text = text.strip()
    if is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def extract_numbers(text: str) -> list[str]:
    """eval_utils.extract_numbers: with commas, then scientific, then plain."""
    return _COMMAS.findall(text) + _SCIENTIFIC.findall(text) + _SIMPLE.findall(text)


def _key_responses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    sentences = re.split(r"\.\s(?=[A-Z])|\n", response)
    keys = []
    for index, sentence in enumerate(sentences):
        indicators = _INDICATORS + (("=",) if index == len(sentences) - 1 else ())
        shortest = None
        for indicator in indicators:
            if indicator in sentence:
                tail = sentence.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [response]


def parse_open(response: str) -> list[str | float]:
    """The candidate answers eval_utils.parse_open_response reads from `response` (numbers as
    floats rounded to 2 places, text lower-cased), de-duplicated in first-seen order (the
    official code returns them in set order; the verdict does not depend on order)."""
    keys = _key_responses(response)
    found = keys + [number for key in keys for number in extract_numbers(key)]
    return list(dict.fromkeys(value for item in found for value in normalize(item)))


def is_correct(gold: str | Sequence[str], parsed: Any, question_type: str) -> bool:
    """eval_multi_choice for "multiple-choice", eval_open for any other question type (as the
    official `evaluate` does). `gold` may be a list of acceptable answers."""
    golds = list(gold) if isinstance(gold, (list, tuple)) else [gold]
    if question_type == "multiple-choice":
        return any(g == parsed for g in golds)
    norm_answers = [value for g in golds for value in normalize(g)]
    for pred in parsed:
        if isinstance(pred, str):
            if any(isinstance(a, str) and a in pred for a in norm_answers):
                return True
        elif pred in norm_answers:
            return True
    return False


def judge(row: Mapping[str, Any], rng: random.Random | None = None) -> tuple[Any, bool]:
    """(parsed prediction, correct) for one row of `mmmu_scores`."""
    if row["question_type"] == "multiple-choice":
        parsed: Any = parse_multi_choice(
            row["response"], row["all_choices"], row["index2ans"], rng=rng
        )
    else:
        parsed = parse_open(row["response"])
    return parsed, is_correct(row["gold"], parsed, row["question_type"])


def mmmu_scores(rows: Iterable[Mapping[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    """{"overall", "per_subject", "per_discipline"}: accuracies as fractions in [0, 1].

    `rows` are dicts with `id`, `subject` (e.g. "Art_Theory"), `question_type`
    ("multiple-choice" or "open"), `gold` and `response`, and for multiple choice
    `all_choices` and `index2ans`. Random fallbacks draw from fallback_rng(seed, id)."""
    return mmmu_accuracy(
        (row["subject"], judge(row, fallback_rng(seed, str(row["id"])))[1]) for row in rows
    )


def mmmu_accuracy(results: Iterable[tuple[str, bool]]) -> dict[str, Any]:
    """Aggregate (subject, correct) pairs as main_eval_only.py does."""
    counts: dict[str, list[int]] = {}
    for subject, correct in results:
        if subject not in SUBJECTS:
            raise ValueError(f"unknown MMMU subject {subject!r}; MMMU has {', '.join(SUBJECTS)}")
        tally = counts.setdefault(subject, [0, 0])
        tally[0] += 1
        tally[1] += bool(correct)
    per_subject = {s: counts[s][1] / counts[s][0] for s in SUBJECTS if s in counts}
    per_discipline = {}
    for discipline, subjects in DISCIPLINES.items():
        present = [s for s in subjects if s in counts]
        if present:
            per_discipline[discipline] = _instance_level(present, per_subject, counts)
    overall = _instance_level(list(per_subject), per_subject, counts) if counts else 0.0
    return {"overall": overall, "per_subject": per_subject, "per_discipline": per_discipline}


def _instance_level(
    subjects: Sequence[str], acc: Mapping[str, float], counts: Mapping[str, list[int]]
) -> float:
    """eval_utils.calculate_ins_level_acc, summing in the order given."""
    total, n = 0.0, 0
    for s in subjects:
        total += acc[s] * counts[s][0]
        n += counts[s][0]
    return total / n
