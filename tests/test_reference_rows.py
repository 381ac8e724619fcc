"""The papers' numbers in results/reference/: every number carries its source, names a metric a
task really reports, and the transcription matches the papers' tables.

The literals below were read off the tables themselves (provenance in each file's `read_from`):
Janus-Pro (arXiv 2501.17811) Table 3 and Table 4, JanusFlow (arXiv 2411.07975) Tables 2, 4, 5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from janus_eval import registry
from janus_eval.report.reference import (
    DEFAULT_REFERENCE_DIR,
    checkpoint_name,
    definition_mismatches,
    load_reference,
    matches_checkpoint,
)
from janus_eval.types import UserError

PRO, FLOW = "arXiv:2501.17811", "arXiv:2411.07975"


def _value(refs, paper: str, checkpoint: str, task: str) -> float:
    (ref,) = [r for r in refs if (r.paper, r.checkpoint, r.task) == (paper, checkpoint, task)]
    return ref.value


def test_every_number_has_its_source_and_a_real_metric() -> None:
    refs = load_reference()
    assert len(refs) == 44
    assert {r.checkpoint for r in refs} == {
        "deepseek-ai/Janus-1.3B",
        "deepseek-ai/Janus-Pro-1B",
        "deepseek-ai/Janus-Pro-7B",
        "deepseek-ai/JanusFlow-1.3B",
    }
    for ref in refs:
        assert ref.table and ref.row and ref.column and ref.definition and ref.read_from
        assert ref.url.startswith("https://arxiv.org/abs/")
        task = registry.task_class(ref.task)
        assert ref.metric in (task.metric_names or (task.primary_metric,)), ref
    keys = [(r.paper, r.checkpoint, r.task, r.metric) for r in refs]
    assert len(keys) == len(set(keys))  # one number per paper, checkpoint and metric


def test_transcribed_values() -> None:
    refs = load_reference()
    pro7 = {t: _value(refs, PRO, "deepseek-ai/Janus-Pro-7B", t) for t in
            ("pope", "mme", "mmbench", "seedbench", "gqa", "mmmu", "mmvet", "geneval")}  # fmt: skip
    assert pro7 == {"pope": 87.4, "mme": 1567.1, "mmbench": 79.2, "seedbench": 72.1,
                    "gqa": 62.0, "mmmu": 41.0, "mmvet": 50.0, "geneval": 0.80}  # fmt: skip
    assert _value(refs, PRO, "deepseek-ai/Janus-Pro-1B", "mme") == 1444.0
    assert _value(refs, FLOW, "deepseek-ai/JanusFlow-1.3B", "mjhq30k") == 9.51
    assert _value(refs, FLOW, "deepseek-ai/JanusFlow-1.3B", "vqav2") == 79.8
    assert _value(refs, FLOW, "deepseek-ai/Janus-1.3B", "mjhq30k") == 10.10


def test_the_two_papers_agree_on_janus_1_3b() -> None:
    refs = [r for r in load_reference() if r.checkpoint == "deepseek-ai/Janus-1.3B"]
    pro = {r.task: r.value for r in refs if r.paper == PRO}
    flow = {r.task: r.value for r in refs if r.paper == FLOW}
    assert set(pro) < set(flow)  # JanusFlow adds VQAv2 and MJHQ FID
    assert {t: flow[t] for t in pro} == pro


def test_not_found_numbers_are_listed_not_guessed() -> None:
    for file in sorted(DEFAULT_REFERENCE_DIR.glob("*.json")):
        doc = json.loads(file.read_text())
        given = {(r["checkpoint"], r["task"]) for r in doc["rows"]}
        for missing in doc["not_found"]:
            assert (missing["checkpoint"], missing["task"]) not in given
            assert missing["why"]


@pytest.mark.parametrize(
    "checkpoint",
    [
        "deepseek-ai/Janus-Pro-7B",
        "/ckpt/janus-pro-7b/",
        "/hf/hub/models--deepseek-ai--Janus-Pro-7B/snapshots/0123abcd",
        "Janus-Pro-7B",
    ],
)
def test_checkpoint_names_match_the_release(checkpoint: str) -> None:
    (ref,) = [r for r in load_reference() if r.checkpoint.endswith("Pro-7B") and r.task == "pope"]
    assert checkpoint_name(checkpoint) == "janus-pro-7b"
    assert matches_checkpoint(ref, checkpoint)


def test_other_checkpoints_do_not_match() -> None:
    (ref,) = [r for r in load_reference() if r.checkpoint.endswith("Pro-7B") and r.task == "pope"]
    for other in ("deepseek-ai/Janus-Pro-1B", "/ckpt/Janus-Pro-7B-finetuned", "", "none"):
        assert not matches_checkpoint(ref, other)


def test_definition_mismatch_is_said() -> None:
    refs = load_reference()
    (vqa,) = [r for r in refs if r.task == "vqav2" and r.checkpoint.endswith("JanusFlow-1.3B")]
    assert definition_mismatches(vqa, {"split": "val"}) == ["split: paper testdev or test, run val"]
    assert definition_mismatches(vqa, {"split": "testdev"}) == []
    (pope,) = [r for r in refs if r.task == "pope" and r.checkpoint.endswith("Pro-7B")]
    assert definition_mismatches(pope, {"split": "random"}) == ["split: paper all, run random"]


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_bad_reference_files_name_file_and_row(tmp_path: Path) -> None:
    good = json.loads(next(DEFAULT_REFERENCE_DIR.glob("*.json")).read_text())
    row = dict(good["rows"][0])
    del row["definition"]
    bad = _write(tmp_path / "bad.json", {**good, "rows": [good["rows"][0], row]})
    with pytest.raises(UserError, match=r"bad\.json: row 2: missing definition"):
        load_reference([bad])
    text = _write(tmp_path / "text.json", {**good, "rows": [{**good["rows"][0], "value": "87"}]})
    with pytest.raises(UserError, match=r"row 1: value '87' is not a number"):
        load_reference([text])
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match=r"broken\.json: malformed JSON"):
        load_reference([tmp_path / "broken.json"])
    with pytest.raises(UserError, match="no such reference"):
        load_reference([tmp_path / "absent"])


def test_reference_dir_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JANUS_EVAL_REFERENCE_DIR", str(tmp_path / "nowhere"))
    assert load_reference() == []  # no default folder: no reported rows, no error
