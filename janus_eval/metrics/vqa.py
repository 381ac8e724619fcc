"""VQA accuracy exactly as the official VQA evaluation computes it, at two revisions.

Reference: GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py.

- `vqa-a013f00` (the default): master, commit a013f0043c1e2cdc995922dfe257f7149aa9af06
  (2021-03-11, "Fixed processing answers bug"), the newest commit of that file and of the
  repository's master branch. This file is Python 2 (`print "..."`): it only runs under Python 2,
  whose `re` matches `\\d` against ASCII digits only (the pattern is compiled without re.UNICODE),
  so here too.
- `vqa-2017`: commit c4e6a0e4e84b9702d99800d3393652d92b5df224 (2017-09-29, the Python 3 port),
  which published VQAv2 numbers before 2021 used, and which lmms-eval-style "official" copies
  were taken from.

The rules, per question, at a013f00:

1. Prediction and the ground-truth answers: newline and tab to space, strip. Nothing else yet.
2. Only if the (stripped) answers disagree (`len(set(answers)) > 1`): the prediction AND every
   answer go through `process_punctuation` then `process_digit_article`.
3. If all answers agree, neither side is processed further: "Yes", "yes." or "two" against ten
   "yes" / ten "2" score 0. (The vqav2 task's submission files carry `evalai_answer_processor`
   answers, as lmms-eval and LLaVA submit them; local val scoring takes the raw answer.)
4. Accuracy = mean over the leave-one-out subsets of min(1, #matches among the others / 3).

At c4e6a0e (`vqa-2017`):

1. The prediction always goes through newline/tab to space, strip, `process_punctuation`,
   `process_digit_article`.
2. The answers are never stripped; only when they disagree are they put through
   `process_punctuation` (never lower-cased, never number- or article-normalised): "Two" never
   matches.
3. Leave-one-out as above.

Set level (both): round(100 * mean, 2), overall and per answer type / question type.

Quirks kept on purpose (each is what the official code does):

- `process_punctuation` decides per mark, looking at the ORIGINAL text: a mark that touches a space
  on either side is deleted; otherwise it becomes a space. If the text contains a digit-comma-digit
  anywhere (e.g. "2,000"), every mark is deleted instead ("2,000" -> "2000", "a/b 1,2" -> "ab 12").
- The period regex is `(?!<=\\d)(\\.)(?!\\d)`: the author meant a look-behind, but `(?!<=\\d)` is a
  look-ahead for the literal "<=" plus a digit, which can never match before a "."; the effect is
  "delete every period not followed by a digit": "2." -> "2", "2.5" stays, "e.g." -> "eg".
- `re.UNICODE` is passed positionally to `Pattern.sub`, where it lands in `count`: at most 32
  periods (`int(re.UNICODE)`) are removed per answer.
- The apostrophe and colon are not among the 21 marks: "don't" stays "don't", "dont" becomes
  "don't" through the contraction table; "12:30" stays.
- Number words map to digits only for zero..ten, and "none" maps to "0".
- Articles (a, an, the) are dropped after the number map, then the contraction table applies.
  Table keys with capitals ("Im", "Ive", "Id've") can never match because the text is lower-cased
  first.
- Leave-one-out removes the annotator's own answer by identity (`item != gtAnsDatum` compares whole
  answer dicts, whose `answer_id`s are unique in the official files); here answers are plain
  strings, so the i-th answer is left out by position, which is the same thing.
- Sums and divisions are in the official order (`float(sum(accs)) / len(accs)`), so floats agree
  to the last bit.
- a013f00 only (Python 2): "\\d" is ASCII, so "1,5" in Arabic-Indic digits is no digit-comma-digit
  and a period before such a digit is deleted. Lower-casing and splitting use this Python's
  Unicode tables; they differ from Python 2.7's only for characters like "\\u0130" and those added
  to Unicode after 5.2.

A named variant, `evalai_answer_processor`, is the answer processor lmms-eval and LLaVA apply to
answers before writing a test-dev/test submission (facebookresearch/mmf processors.py, copied in
EvolvingLMMs-Lab/lmms-eval lmms_eval/tasks/_task_utils/vqa_eval_metric.py). It is used only to
write submission files, never for local scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from janus_eval.metrics.revisions import ScorerRevision, pick, revisions

#: vqaEval.py `contractions`, verbatim (keys and values).
CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}  # fmt: skip

#: vqaEval.py `manualMap`: number words to digits (note "none" -> "0").
NUMBER_MAP: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip

ARTICLES: tuple[str, ...] = ("a", "an", "the")

#: vqaEval.py `punct`: the 21 marks, in the official order (the order matters, see module doc).
PUNCTUATION: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
    ",", "?", "!",
)  # fmt: skip

_REPO, _FILES = "GT-Vision-Lab/VQA", ("PythonEvaluationTools/vqaEvaluation/vqaEval.py",)
#: The revisions reproduced; the first is the default.
REVISIONS = revisions(
    ScorerRevision("vqa-a013f00", _REPO, "a013f0043c1e2cdc995922dfe257f7149aa9af06", "2021-03-11",
                   _FILES),
    ScorerRevision("vqa-2017", _REPO, "c4e6a0e4e84b9702d99800d3393652d92b5df224", "2017-09-29",
                   _FILES),
)  # fmt: skip
DEFAULT_SCORER = "vqa-a013f00"

#: vqaEval.py `periodStrip`, verbatim including its broken look-behind (see module doc).
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
#: vqaEval.py `commaStrip`.
COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
#: The official code passes `re.UNICODE` where `Pattern.sub` expects `count`.
_PERIOD_COUNT = int(re.UNICODE)
#: (commaStrip, periodStrip) as each revision's interpreter compiles them: a013f00 is Python 2,
#: where a pattern compiled without re.UNICODE matches `\d` against ASCII digits only.
_PATTERNS = {
    "vqa-a013f00": (
        re.compile(COMMA_STRIP.pattern, re.ASCII),
        re.compile(PERIOD_STRIP.pattern, re.ASCII),
    ),
    "vqa-2017": (COMMA_STRIP, PERIOD_STRIP),
}


def process_punctuation(text: str, *, scorer: str = DEFAULT_SCORER) -> str:
    """vqaEval.processPunctuation."""
    comma_strip, period_strip = _PATTERNS[pick(REVISIONS, scorer).name]
    out = text
    delete_all = comma_strip.search(text) is not None
    for mark in PUNCTUATION:
        if (mark + " " in text or " " + mark in text) or delete_all:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return period_strip.sub("", out, count=_PERIOD_COUNT)


def process_digit_article(text: str) -> str:
    """vqaEval.processDigitArticle: lower-case, number words to digits, drop articles,
    contractions."""
    words = []
    for word in text.lower().split():
        word = NUMBER_MAP.get(word, word)
        if word not in ARTICLES:
            words.append(word)
    return " ".join(CONTRACTIONS.get(word, word) for word in words)


def _strip(text: str) -> str:
    """What every answer gets first: newline and tab to space, then strip."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def normalize_prediction(prediction: str, *, scorer: str = DEFAULT_SCORER) -> str:
    """The full processing (strip, punctuation, digits/articles/contractions): what a prediction
    always gets at `vqa-2017`, and what prediction and answers get at `vqa-a013f00` when the
    annotators disagree."""
    return process_digit_article(process_punctuation(_strip(prediction), scorer=scorer))


def vqa_accuracy(prediction: str, answers: Sequence[str], *, scorer: str = DEFAULT_SCORER) -> float:
    """VQA accuracy of one predicted answer against the annotators' answers, in [0, 1].

    `answers` are the raw ground-truth strings (ten in VQAv2; any number >= 1 is accepted and
    averaged the same way). `scorer` names the official revision (see `REVISIONS`).
    """
    if isinstance(answers, str) or len(answers) == 0:
        raise ValueError("vqa_accuracy needs a non-empty sequence of ground-truth answers")
    name = pick(REVISIONS, scorer).name
    if name == "vqa-2017":
        predicted = normalize_prediction(prediction, scorer=name)
        truth = list(answers)
        if len(set(truth)) > 1:
            truth = [process_punctuation(a, scorer=name) for a in truth]
    else:
        predicted = _strip(prediction)
        truth = [_strip(a) for a in answers]
        if len(set(truth)) > 1:
            truth = [normalize_prediction(a, scorer=name) for a in truth]
            predicted = normalize_prediction(predicted, scorer=name)
    accs = []
    for left_out in range(len(truth)):
        matches = sum(1 for j, a in enumerate(truth) if j != left_out and a == predicted)
        accs.append(min(1, float(matches) / 3))
    return float(sum(accs)) / len(accs)


def official_percent(values: Iterable[float], ndigits: int = 2) -> float:
    """vqaEval.setAccuracy: round(100 * mean, n) with the official n = 2."""
    values = list(values)
    if not values:
        raise ValueError("no values to average")
    return round(100 * float(sum(values)) / len(values), ndigits)


def vqa_summary(
    accuracies: Sequence[float],
    answer_types: Sequence[str] | None = None,
    question_types: Sequence[str] | None = None,
) -> dict:
    """Overall accuracy and per answer / question type, as vqaEval.setAccuracy reports them."""
    out: dict = {"accuracy": official_percent(accuracies)}
    for key, labels in (("per_answer_type", answer_types), ("per_question_type", question_types)):
        if labels is None:
            continue
        groups: dict[str, list[float]] = {}
        for acc, label in zip(accuracies, labels):
            groups.setdefault(label, []).append(acc)
        out[key] = {label: official_percent(accs) for label, accs in sorted(groups.items())}
    return out


def evalai_answer_processor(answer: str) -> str:
    """Variant used only for submission files: the EvalAI answer processor as in lmms-eval's
    vqa_eval_metric.py and LLaVA's convert_vqav2_for_submission.py (from mmf).

    It lower-cases, deletes "," and "?", splits "'s" into " 's", then applies the same punctuation
    and digit/article steps as above. (Its own comma regex, `(?<=\\d)(\\,)+(?=\\d)`, can never fire
    because commas are already gone, so reusing `process_punctuation` is exact.)
    """
    text = answer.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()
    return normalize_prediction(text, scorer="vqa-2017")
