"""Inputs for the scorer cross-check, and how their expected values were recorded.

`build_cases()` makes answers built to exercise every rule of the official VQA and MMBench
scorers (agreeing and disagreeing annotators, number words, articles, punctuation, contractions,
stripping, digit-comma-digit, the 32-period cap, ASCII-only digits under Python 2; letter
position, case, long answers, several letters, the "answer is" regex, refusals, text matching,
CircularEval groups). tests/test_scorer_crosscheck.py checks that the stored file holds exactly
these inputs and that janus_eval's scorers reproduce the stored official outputs; it never runs
upstream code.

Recording (done once per pinned revision, outside the test suite, needs the upstream git
repositories and interpreters, never janus_eval):

    python tests/make_scorer_crosscheck.py --vqa-git DIR --vlmevalkit-git DIR \\
        --python2 /path/to/python2.7 --vlmevalkit-python /path/to/venv/bin/python \\
        --out tests/fixtures/scorer_crosscheck.json

Each revision's official files are taken with `git archive` at the pinned commit into a
temporary folder and run unmodified in a subprocess: vqaEval.py + vqa.py (VQA(...).loadRes(...),
VQAEval(...).evaluate(), the per-question accuracy read where evaluate() hands it to
setEvalQA) under Python 2.7 for a013f00 (its master is Python 2 code) and Python 3 for c4e6a0e;
VLMEvalKit's vlmeval/smp, vlmeval/utils and dataset/utils/multiple_choice.py (empty package
__init__ files instead of the ones importing every model) with `can_infer`, `mcq_circular_eval`
(no judge: exact matching) and `report_acc`, after the three preprocessing lines of
ImageMCQDataset.evaluate_heuristic (sort by index, str() predictions, lower-case column names).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VQA_REVISIONS = {"vqa-a013f00": "a013f0043c1e2cdc995922dfe257f7149aa9af06",
                 "vqa-2017": "c4e6a0e4e84b9702d99800d3393652d92b5df224"}  # fmt: skip
MCQ_REVISIONS = {"vlmevalkit-2cf2a36": "2cf2a36c6e79b51faf676a7011b3a0f5b579814d",
                 "vlmevalkit-18fc37a": "18fc37a5337e31eec9c104887728ad14e82a6a85"}  # fmt: skip

# -- VQA ------------------------------------------------------------------------------------------
#: (answers, answer_type, question_type): each a rule or an interplay of rules.
ANSWER_SETS = [
    (["yes"] * 10, "yes/no", "is the"),  # unanimous
    (["yes"] * 9 + ["no"], "yes/no", "is the"),  # one dissent switches processing on
    (["yes."] * 10, "yes/no", "is the"),  # punctuation in unanimous answers
    ([" yes"] * 5 + ["yes"] * 5, "yes/no", "is the"),  # agreement decided after stripping
    (["Yes"] * 6 + ["yes"] * 4, "yes/no", "is the"),  # case
    (["2"] * 10, "number", "how many"),
    (["2"] * 4 + ["two"] * 3 + ["3"] * 3, "number", "how many"),  # number words
    (["Two"] * 10, "number", "how many"),
    (["ten"] * 3 + ["10"] * 7, "number", "how many"),
    (["none"] * 5 + ["0"] * 5, "number", "how many"),
    (["2,000"] * 3 + ["2000"] * 3 + ["2 000"] * 4, "number", "how many"),  # digit,digit
    (["1.5"] * 5 + ["1.50"] * 5, "number", "how many"),
    (["\u0661,\u0662"] * 5 + ["12"] * 5, "number", "how many"),  # Arabic-Indic digits
    (["\u0661.\u0665"] * 5 + ["\u0662"] * 5, "number", "how many"),  # period before a digit
    (["dog"] * 10, "other", "what is the"),
    (["a dog"] * 3 + ["dog"] * 3 + ["dogs"] * 4, "other", "what is the"),  # articles
    (["red"] * 3 + ["blue"] * 7, "other", "what color is the"),  # 3 of 10
    (["red"] * 1 + ["blue"] * 2 + ["green"] * 7, "other", "what color is the"),  # 1 and 2
    (["don't know"] * 2 + ["dont know"] * 2 + ["no"] * 6, "other", "what is the"),
    (["black and white"] * 3 + ["black/white"] * 3 + ["black & white"] * 4, "other", "what"),
    (["x-ray"] * 4 + ["x ray"] * 3 + ["x - ray"] * 3, "other", "what"),  # mark next to a space
    (["12:30"] * 4 + ["12.30"] * 3 + ["12:30 pm"] * 3, "other", "what time"),
    (["e.g. a tree"] * 2 + ["tree"] * 8, "other", "what"),
    (["red\nball"] * 5 + ["red ball"] * 5, "other", "what"),  # newline
    (["red\tball"] * 10, "other", "what"),  # tab, unanimous
    (["red\nball"] * 10, "other", "what"),  # newline, unanimous
    (["a -b c-d"] * 4 + ["no"] * 6, "other", "what"),  # one touching space: every "-" goes
    (["." * 40 + "x"] * 5 + ["x"] * 5, "other", "what"),  # at most 32 periods go
    (["Im"] * 5 + ["I'm"] * 5, "other", "what"),  # capitalised contraction keys
    (["(yes)"] * 4 + ["yes"] * 6, "yes/no", "is the"),
    (["cat", "cat", "dog"], "other", "what"),  # three answers: leave-one-out of three
]
PREDICTIONS = [
    "yes", "Yes", "yes.", "Yes, it is.", " yes\n", "(yes)", "no", "2", "two", "Two.", "3", "10",
    "ten", "0", "none", "2,000", "2000", "1.5", "12", "\u0661\u0662", "\u0661\u0665", "dog",
    "the dog", "A Dog!", "dogs", "red", "blue", "green", "dont know", "don't know",
    "black and white", "black/white", "x-ray", "x ray", "12:30", "12.30", "tree", "red ball",
    "red\tball", "x", "im", "I'm", "cat", "a b cd", "",
]  # fmt: skip


# -- MMBench --------------------------------------------------------------------------------------
CHOICE_SETS = [
    {"A": "cat", "B": "dog", "C": "bird"},
    {"A": "red", "B": "blue", "C": "green", "D": "yellow"},
    {"A": "The man is holding an umbrella", "B": "The woman is reading a book",
     "C": "Two dogs are playing", "D": "A cat sleeps on the sofa"},
    {"A": "1", "B": "2"},
    {"A": "apple", "B": "", "C": "Apple pie"},  # an empty option text matches everything
]  # fmt: skip
MCQ_ANSWERS = [
    "A", "B", "C", "D", "E", "Z", "a", "b", "(A)", "B.", "[C]", "{D}", "A)", "**B**", "Answer: C",
    "The answer is B", "The answer is b.", "the correct answer is **C**", "The answer is A, not B",
    "A or B", "A and C are wrong; B", "I choose B", "Option B is correct", "B. dog", "C. green",
    "B is the answer because it is the biggest one in the picture",
    "Looking at the image carefully, the animal in the middle is clearly a B",
    "A dog", "The answer is apple", "answer is bird", "The answer is E", "The answer is D",
    "cat", "Dog", "a red car", "yellow and blue", "two dogs are playing",
    "I think it is Two dogs are playing in the park", "1", "2", "12", "apple pie",
    "Sorry, I can't help with images of people yet.", "I can't process this file.",
    "I'm sorry, but without the image provided, I cannot say", "Failed to obtain answer via API",
    "Failed to obtain answer via API: B", "Cannot determine the answer B", "Z is my answer",
    "  B  ", "B\n", "A B C D", "answer is\nC", "None of the above", "B is the answer",
    "B is my final answer", "answer:C", "A,B", "B.dog", "",
]  # fmt: skip
CATEGORIES = [("image_scene", "coarse_perception"),
              ("object_localization", "finegrained_perception (instance-level)"),
              ("spatial_relationship", "finegrained_perception (cross-instance)"),
              ("physical_property_reasoning", "attribute_reasoning"),
              ("future_prediction", "logic_reasoning")]  # fmt: skip
OPTION_POOL = ["cat", "dog", "bird", "horse", "a red bus", "two", "three", "The man is sitting",
               "The man is standing up", "left", "right", "yes"]  # fmt: skip
#: How a circular row's prediction is written, from its correct letter L and text T.
REPLY_STYLES = ["{L}", "({L})", "{L}. {T}", "The answer is {L}", "{T}", "{W}", "{l}",
                "{L} is correct because the picture clearly shows it", "answer is {T}",
                "I would say {W} or {L}", "{T} is shown in the image, so the answer is {L}"]  # fmt: skip


def circular_rows(n_questions: int = 40, seed: int = 19) -> list[dict]:
    """MMBench-like rows: each question in all its rotations (index + k * 1e6), options rotated
    as VLMEvalKit's circular TSVs rotate them; a few originals left out (those groups are not
    scored). Predictions come from `REPLY_STYLES`, so some rotations are right, some wrong."""
    rng = random.Random(seed)
    rows = []
    for g in range(1, n_questions + 1):
        n_opt = rng.choice([2, 3, 4, 4])
        texts = rng.sample(OPTION_POOL, n_opt)
        right = rng.randrange(n_opt)
        category, l2 = CATEGORIES[rng.randrange(len(CATEGORIES))]
        for k in range(n_opt):
            if k == 0 and g % 13 == 0:
                continue  # original row missing
            order = texts[k:] + texts[:k]
            letters = "ABCD"[:n_opt]
            answer = letters[order.index(texts[right])]
            wrong = letters[(letters.index(answer) + 1) % n_opt]
            style = rng.choice(REPLY_STYLES)
            reply = style.format(L=answer, l=answer.lower(), T=texts[right], W=wrong)
            row = {"index": g + k * 1_000_000, "question": f"Question {g}?", "answer": answer,
                   "category": category, "l2-category": l2, "prediction": reply}  # fmt: skip
            row.update(dict(zip(letters, order)))
            rows.append(row)
    return rows


def build_cases() -> dict:
    """Everything the official code is run on (JSON-able, deterministic)."""
    return {
        "vqa": {
            "answer_sets": [
                {"answers": a, "answer_type": at, "question_type": qt} for a, at, qt in ANSWER_SETS
            ],
            "predictions": PREDICTIONS,
        },
        "mcq": {"choice_sets": CHOICE_SETS, "answers": MCQ_ANSWERS},
        "circular": {"rows": circular_rows()},
    }


# -- recording with the official code -------------------------------------------------------------
VQA_RUNNER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from vqa import VQA
from vqaEval import VQAEval
raw = {}
class Capture(VQAEval):
    def setEvalQA(self, quesId, acc):  # evaluate() hands each question's accuracy here
        raw[quesId] = acc
        VQAEval.setEvalQA(self, quesId, acc)
vqa = VQA(sys.argv[2], sys.argv[3])
res = vqa.loadRes(sys.argv[4], sys.argv[3])
ev = Capture(vqa, res, n=2)
tables = {"contractions": ev.contractions, "manualMap": dict(ev.manualMap),  # before evaluate()
          "articles": ev.articles, "punct": ev.punct}  # grows manualMap (setdefault)
ev.evaluate()
json.dump({"per_question": dict((str(k), v) for k, v in raw.items()), "accuracy": ev.accuracy,
           "tables": tables}, open(sys.argv[5], "w"))
"""

MCQ_RUNNER = r"""
import json, os, sys, string, tempfile
os.environ.pop("VERBOSE", None)
sys.path.insert(0, sys.argv[1])
import pandas as pd
from vlmeval.utils.matching_util import can_infer
from vlmeval.dataset.utils.multiple_choice import MMB_abbrs, mcq_circular_eval, report_acc
cases = json.load(open(sys.argv[2]))
letters = [[can_infer(a, dict(c)) or None for a in cases["mcq"]["answers"]]
           for c in cases["mcq"]["choice_sets"]]
data = pd.DataFrame(cases["circular"]["rows"])
meta = data.drop(columns=["prediction"])
# ImageMCQDataset.evaluate_heuristic, before mcq_circular_eval:
data = data.sort_values(by="index")
data["prediction"] = [str(x) for x in data["prediction"]]
for k in data.keys():
    data[k.lower() if k not in list(string.ascii_uppercase) else k] = data.pop(k)
with tempfile.TemporaryDirectory() as tmp:
    main = mcq_circular_eval(None, data, meta, 1, os.path.join(tmp, "r.pkl"), "MMBench_DEV_EN")
acc = report_acc(main)
out = {"letters": letters, "MMB_abbrs": MMB_abbrs,
       "hits": {str(int(i)): int(h) for i, h in zip(main["index"], main["hit"])},
       "report": {c: [float(v) if not isinstance(v, str) else v for v in acc[c]] for c in acc}}
json.dump(out, open(sys.argv[3], "w"))
"""


def _run(cmd: list[str]) -> None:
    """Run one official-code subprocess; its stderr on failure."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{cmd[0]} failed:\n{done.stderr}")


def _export(git_dir: Path, commit: str, paths: list[str], into: Path) -> None:
    """The files at `commit`, unmodified, via git archive."""
    tar = subprocess.run(["git", "--git-dir", str(git_dir), "archive", commit, *paths],
                         check=True, capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")


def _vqa_inputs(cases: dict, tmp: Path) -> tuple[Path, Path, Path, list[list[str]]]:
    """Official-format annotation, question and result files; qid = 1000 * set + prediction."""
    anns, questions, results, qids = [], [], [], []
    for s, item in enumerate(cases["vqa"]["answer_sets"]):
        qids.append([])
        for p, pred in enumerate(cases["vqa"]["predictions"]):
            qid = 1000 * (s + 1) + p
            qids[-1].append(str(qid))
            answers = [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                       for i, a in enumerate(item["answers"])]  # fmt: skip
            anns.append({"question_id": qid, "image_id": s + 1, "answers": answers,
                         "answer_type": item["answer_type"], "question_type":
                         item["question_type"], "multiple_choice_answer": item["answers"][0]})  # fmt: skip
            questions.append({"question_id": qid, "image_id": s + 1, "question": "?"})
            results.append({"question_id": qid, "answer": pred})
    header = {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
              "data_subtype": "val2014"}  # fmt: skip
    paths = tmp / "ann.json", tmp / "ques.json", tmp / "res.json"
    paths[0].write_text(json.dumps({**header, "annotations": anns}))
    paths[1].write_text(json.dumps({**header, "questions": questions}))
    paths[2].write_text(json.dumps(results))
    return (*paths, qids)


def record(args: argparse.Namespace) -> dict:
    cases = build_cases()
    out: dict = {"inputs": cases, "official": {}, "provenance": {}}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        ann, ques, res, qids = _vqa_inputs(cases, tmp)
        for rev, commit in VQA_REVISIONS.items():
            code = tmp / rev
            _export(args.vqa_git, commit, ["PythonEvaluationTools/vqaEvaluation/vqaEval.py",
                                           "PythonHelperTools/vqaTools/vqa.py"], code)  # fmt: skip
            flat = code / "flat"
            flat.mkdir()
            for f in code.rglob("*.py"):
                (flat / f.name).write_bytes(f.read_bytes())
            python = args.python2 if rev == "vqa-a013f00" else sys.executable
            result = tmp / f"{rev}.json"
            _run([python, "-c", VQA_RUNNER, str(flat), str(ann), str(ques), str(res), str(result)])
            got = json.loads(result.read_text())
            out["official"][rev] = {
                "accuracy": [[got["per_question"][q] for q in row] for row in qids],
                "summary": got["accuracy"],
                "tables": got["tables"],
            }
            version = subprocess.run([python, "--version"], capture_output=True, text=True)
            out["provenance"][rev] = {
                "repo": "GT-Vision-Lab/VQA", "commit": commit,
                "files": ["PythonEvaluationTools/vqaEvaluation/vqaEval.py",
                          "PythonHelperTools/vqaTools/vqa.py"],
                "interpreter": (version.stdout + version.stderr).strip(),
            }  # fmt: skip
        (tmp / "cases.json").write_text(json.dumps(cases))
        for rev, commit in MCQ_REVISIONS.items():
            code = tmp / rev
            _export(args.vlmevalkit_git, commit, ["vlmeval/smp", "vlmeval/utils",
                    "vlmeval/dataset/utils/multiple_choice.py"], code)  # fmt: skip
            for pkg in ("vlmeval", "vlmeval/dataset", "vlmeval/dataset/utils"):
                (code / pkg / "__init__.py").write_text("")
            result = tmp / f"{rev}.json"
            _run([str(args.vlmevalkit_python), "-c", MCQ_RUNNER, str(code),
                  str(tmp / "cases.json"), str(result)])  # fmt: skip
            out["official"][rev] = json.loads(result.read_text())
            version = subprocess.run([str(args.vlmevalkit_python), "--version"],
                                     capture_output=True, text=True)  # fmt: skip
            out["provenance"][rev] = {
                "repo": "open-compass/VLMEvalKit", "commit": commit,
                "files": ["vlmeval/utils/matching_util.py",
                          "vlmeval/dataset/utils/multiple_choice.py", "vlmeval/smp/*"],
                "interpreter": version.stdout.strip(),
            }  # fmt: skip
    out["provenance"]["how"] = (
        "tests/make_scorer_crosscheck.py: official files exported with git archive at the "
        "commits above and run unmodified in subprocesses (see the script's docstring)"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vqa-git", type=Path, required=True, help="GT-Vision-Lab/VQA git dir")
    parser.add_argument("--vlmevalkit-git", type=Path, required=True)
    parser.add_argument("--python2", required=True, help="Python 2.7 for vqaEval.py a013f00")
    parser.add_argument("--vlmevalkit-python", type=Path, required=True,
                        help="a Python with pandas, numpy, sty, validators, tabulate, "
                        "matplotlib, portalocker, openpyxl, xlsxwriter (VLMEvalKit's smp imports)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(record(args), indent=1, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
