"""The `gqa` task: the official balanced question file with its image folder (the questions GQA's
eval.py was run on in tests/fixtures/official/gqa.json), the hub layout (two configs joined by
image id), bad records, and end-to-end runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from official_cases import load
from PIL import Image
from resume_helpers import dummy_run, sigkill_and_resume
from understanding_helpers import ScriptedAdapter, run_janus_tiny, shards_merge_to_whole

from janus_eval import registry
from janus_eval.report.records import task_label
from janus_eval.types import UserError

OFFICIAL = load("gqa")


def write_gqa(root: Path, questions: dict) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "testdev_balanced_questions.json").write_text(json.dumps(questions))
    for q in questions.values():
        Image.new("RGB", (8, 8), (int(q["imageId"][1:]) % 255, 0, 0)).save(
            root / "images" / f"{q['imageId']}.jpg"
        )
    return root


@pytest.fixture
def gqa_dir(tmp_path: Path) -> Path:
    return write_gqa(tmp_path / "gqa", OFFICIAL["questions"])


def adapter() -> ScriptedAdapter:
    """Answers every fixture question with the response eval.py was given for it."""
    return ScriptedAdapter(
        {
            OFFICIAL["questions"][r["question_id"]]["question"]: r["prediction"]
            for r in OFFICIAL["rows"]
        }
    )


def test_files_samples_and_prompt(gqa_dir: Path) -> None:
    task = registry.make_task("gqa")
    samples = task.samples(gqa_dir, None)
    assert len(samples) == len(OFFICIAL["rows"])  # the unbalanced question is left out
    assert "2099999" not in {s.id for s in samples}
    first = samples[0]
    assert first.id == "2000000" and first.data["structural"] == "verify"
    assert first.data["image"] == str(gqa_dir / "images" / "n100.jpg")
    assert task.request(first).prompt == (
        "<image>Question number 0 about the picture?\n"
        "Answer the question using a single word or phrase."
    )
    with pytest.raises(UserError, match="scorer"):
        registry.make_task("gqa", {"scorer": "lmms-eval"})


@pytest.mark.parametrize("scorer", ["vlmevalkit", "llava"])
def test_end_to_end_equals_the_official_tools(gqa_dir: Path, tmp_path: Path, scorer: str) -> None:
    from janus_eval.api import evaluate

    record = evaluate(
        "gqa", adapter(), data_dir=gqa_dir, output_dir=tmp_path / "runs",
        task_options={"scorer": scorer},
    )  # fmt: skip
    m = record.metrics
    if scorer == "vlmevalkit":
        assert m["accuracy"] == OFFICIAL["vlmevalkit"]["overall"]
    else:
        want = OFFICIAL["llava"]
        assert {k: round(m[k], 2) for k in ("accuracy", "binary", "open")} == want["summary"]
        assert {k: round(v, 2) for k, v in m["per_structural"].items()} == {
            k: v["accuracy"] for k, v in want["per_structural"].items()
        }
    assert m["n_questions"] == len(OFFICIAL["rows"])
    assert task_label(record) == f"gqa[scorer={scorer}]"  # scorers never share a column
    # eval.py's predictions file, normalised by the scorer
    written = json.loads(
        (tmp_path / "runs" / record.run_id / "gqa_testdev_balanced_predictions.json").read_text()
    )
    key = "llava_prediction" if scorer == "llava" else None
    for entry, row in zip(written, OFFICIAL["rows"]):
        assert entry["questionId"] == row["question_id"]
        expected = row[key] if key else row["prediction"].strip().lower()
        assert entry["prediction"] == expected


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"types": {"structural": "verify"}}, "has no types.structural / types.semantic"),
        ({"imageId": "nowhere"}, "image nowhere.jpg not found"),
        ({"answer": None}, "question and answer must be text"),
    ],
)
def test_bad_records(tmp_path: Path, change: dict, needle: str) -> None:
    questions = dict(list(OFFICIAL["questions"].items())[:3])
    root = write_gqa(tmp_path / "gqa", questions)
    questions["2000001"] = {**questions["2000001"], **change}
    (root / "testdev_balanced_questions.json").write_text(json.dumps(questions))
    with pytest.raises(UserError) as err:
        registry.make_task("gqa").samples(root, None)
    msg = str(err.value)
    assert "testdev_balanced_questions.json question 2000001" in msg and needle in msg
    skipping = registry.make_task("gqa", {"skip_bad_records": "true"})
    assert [s.id for s in skipping.samples(root, None)] == ["2000000", "2000002"]


def test_hub_layout_from_local_copy(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/GQA: questions in config testdev_balanced_instructions, images in
    testdev_balanced_images (id, image), split 'testdev'; one save_to_disk folder each."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    picked = dict(list(OFFICIAL["questions"].items())[:4])
    rows = [{"id": qid, **{k: q[k] for k in ("imageId", "question", "answer", "isBalanced")},
             "types": q["types"]} for qid, q in picked.items()]  # fmt: skip
    rows[3]["isBalanced"] = False
    datasets.DatasetDict({"testdev": datasets.Dataset.from_list(rows)}).save_to_disk(
        str(tmp_path / "hub" / "testdev_balanced_instructions")
    )
    image = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8), (5, 5, 5)).save(image)
    ids = sorted({r["imageId"] for r in rows})
    images = datasets.Dataset.from_dict(
        {"id": ids, "image": [str(image)] * len(ids)},
        features=datasets.Features({"id": datasets.Value("string"), "image": datasets.Image()}),
    )
    datasets.DatasetDict({"testdev": images}).save_to_disk(
        str(tmp_path / "hub" / "testdev_balanced_images")
    )
    task = registry.make_task("gqa", {"source": str(tmp_path / "hub")})
    samples = task.samples(None, None)
    assert [s.id for s in samples] == list(picked)[:3]
    cached = Path(samples[0].data["image"])
    assert cached.is_relative_to(tmp_path / "cache") and cached.read_bytes() == image.read_bytes()


def test_end_to_end_dummy_and_shards(gqa_dir: Path, tmp_path: Path) -> None:
    record = shards_merge_to_whole("gqa", gqa_dir, tmp_path)
    assert record.n_samples == len(OFFICIAL["rows"])


def test_sigkill_then_resume(gqa_dir: Path, tmp_path: Path, cli) -> None:
    sigkill_and_resume(
        cli, dummy_run("gqa", gqa_dir), tmp_path, total=len(OFFICIAL["rows"]), kill_after=6
    )


def test_end_to_end_janus_tiny(gqa_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("gqa", gqa_dir, tmp_path / "runs", limit=2)
    assert record.n_samples == 2 and record.model["name"] == "janus-tiny"
    for line in lines:
        assert line["scores"]["prediction"] == line["response"].strip().lower()
