"""janus_eval's VQA and MMBench scorers against the official code's own outputs, at every revision
reproduced (the current one and the older named variant).

tests/fixtures/scorer_crosscheck.json holds the inputs of tests/make_scorer_crosscheck.py and what
the official code returned for them (GT-Vision-Lab/VQA vqaEval.py at a013f00 under Python 2.7
and at c4e6a0e; VLMEvalKit can_infer / mcq_circular_eval / report_acc at 2cf2a36 and 18fc37a),
with provenance. Nothing upstream runs here; every expected value is the official one, compared
exactly (floats to the last bit).
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from make_scorer_crosscheck import MCQ_REVISIONS, VQA_REVISIONS, build_cases

from janus_eval.metrics import mcq, vqa
from janus_eval.metrics.mcq import MMB_ABBRS, accuracy_by, circular_eval, extract_choice, percent
from janus_eval.metrics.vqa import vqa_accuracy, vqa_summary

STORED = json.loads((Path(__file__).parent / "fixtures" / "scorer_crosscheck.json").read_text())
INPUTS = STORED["inputs"]


def test_stored_inputs_are_the_generators_and_provenance_is_complete() -> None:
    assert build_cases() == INPUTS
    for rev, commit in {**VQA_REVISIONS, **MCQ_REVISIONS}.items():
        prov = STORED["provenance"][rev]
        assert prov["commit"] == commit and prov["repo"] and prov["files"]
    assert STORED["provenance"]["vqa-a013f00"]["interpreter"].startswith("Python 2.7")
    # janus_eval names the very commits the official outputs were recorded at
    assert {r: v.commit for r, v in vqa.REVISIONS.items()} == VQA_REVISIONS
    assert {r: v.commit for r, v in mcq.REVISIONS.items()} == MCQ_REVISIONS


@pytest.mark.parametrize("rev", [*VQA_REVISIONS, *MCQ_REVISIONS])
def test_tables_equal_the_official_ones(rev: str) -> None:
    """Every entry of the verbatim tables, as the official objects hold them."""
    official = STORED["official"][rev]
    if rev in MCQ_REVISIONS:
        assert official["MMB_abbrs"] == MMB_ABBRS
        return
    tables = official["tables"]
    assert tables["contractions"] == vqa.CONTRACTIONS
    assert tables["manualMap"] == vqa.NUMBER_MAP
    assert tables["articles"] == list(vqa.ARTICLES)
    assert tables["punct"] == list(vqa.PUNCTUATION)  # the order matters


def _vqa_cases():
    for s, item in enumerate(INPUTS["vqa"]["answer_sets"]):
        for p, pred in enumerate(INPUTS["vqa"]["predictions"]):
            yield s, p, pred, item


@pytest.mark.parametrize("rev", list(VQA_REVISIONS))
def test_vqa_accuracy_equals_official(rev: str) -> None:
    expected = STORED["official"][rev]["accuracy"]
    wrong = [
        (item["answers"], pred, got, expected[s][p])
        for s, p, pred, item in _vqa_cases()
        if (got := vqa_accuracy(pred, item["answers"], scorer=rev)) != expected[s][p]
    ]
    assert not wrong, f"{len(wrong)} per-question accuracies differ: {wrong[:5]}"


@pytest.mark.parametrize("rev", list(VQA_REVISIONS))
def test_vqa_summary_equals_official_set_accuracy(rev: str) -> None:
    accs, answer_types, question_types = [], [], []
    for _, _, pred, item in _vqa_cases():
        accs.append(vqa_accuracy(pred, item["answers"], scorer=rev))
        answer_types.append(item["answer_type"])
        question_types.append(item["question_type"])
    ours = vqa_summary(accs, answer_types, question_types)
    official = STORED["official"][rev]["summary"]
    assert ours["accuracy"] == official["overall"]
    assert ours["per_answer_type"] == official["perAnswerType"]
    assert ours["per_question_type"] == official["perQuestionType"]


def test_vqa_revisions_really_differ_on_these_answers() -> None:
    """The cross-check can tell the revisions apart. Most of the 45 x 31 pairs match nothing
    under either revision, so the share is small; the differing ones cover every rule change."""
    old, new = (STORED["official"][r]["accuracy"] for r in ("vqa-2017", "vqa-a013f00"))
    pairs = [(a, b) for row_a, row_b in zip(old, new) for a, b in zip(row_a, row_b)]
    differ = sum(a != b for a, b in pairs)
    assert len(pairs) == 1395 and differ == 25


@pytest.mark.parametrize("rev", list(MCQ_REVISIONS))
def test_extract_choice_equals_can_infer(rev: str) -> None:
    expected = STORED["official"][rev]["letters"]
    wrong = [
        (answer, choices, got, expected[c][a])
        for c, choices in enumerate(INPUTS["mcq"]["choice_sets"])
        for a, answer in enumerate(INPUTS["mcq"]["answers"])
        if (got := extract_choice(answer, choices, scorer=rev)) != expected[c][a]
    ]
    assert not wrong, f"{len(wrong)} letters differ: {wrong[:5]}"


def test_mcq_revisions_really_differ_on_these_answers() -> None:
    new, old = (STORED["official"][r]["letters"] for r in MCQ_REVISIONS)
    pairs = [(a, b) for row_a, row_b in zip(new, old) for a, b in zip(row_a, row_b)]
    assert len(pairs) == 300 and sum(a != b for a, b in pairs) == 31  # 10.3%


@pytest.mark.parametrize("rev", list(MCQ_REVISIONS))
def test_circular_eval_and_report_acc_equal_official(rev: str) -> None:
    rows = INPUTS["circular"]["rows"]
    hits = circular_eval(
        (
            r["index"],
            extract_choice(
                r["prediction"], {c: r[c] for c in string.ascii_uppercase if c in r}, scorer=rev
            ),
            r["answer"],
        )
        for r in rows
    )
    official = STORED["official"][rev]
    assert {str(g): h for g, h in hits.items()} == official["hits"]
    mains = {r["index"]: r for r in rows}
    order = sorted(hits)
    flags = [hits[g] for g in order]
    report = {k: v[0] for k, v in official["report"].items() if k != "split"}
    assert percent(flags) == 100 * report.pop("Overall")
    ours = {
        **accuracy_by(flags, [mains[g]["l2-category"] for g in order], MMB_ABBRS),
        **accuracy_by(flags, [mains[g]["category"] for g in order]),
    }
    assert ours == {k: 100 * v for k, v in report.items()}


def test_circular_verdicts_change_between_revisions() -> None:
    new, old = (STORED["official"][r]["hits"] for r in MCQ_REVISIONS)
    assert len(new) == 37 and sum(new[g] != old[g] for g in new) == 8
