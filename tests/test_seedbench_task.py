"""The `seedbench` task: SEED-Bench.json with its image folder, the hub layout (a local `datasets`
copy with a list-of-images column), bad records, and end-to-end runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from resume_helpers import dummy_run, sigkill_and_resume
from understanding_helpers import (
    ScriptedAdapter,
    run_janus_tiny,
    shards_merge_to_whole,
    stored_samples,
)

from janus_eval import registry
from janus_eval.types import UserError

OPTIONS = [("beach", "forest", "city", "desert"), ("one", "two", "three", "four")]


def question(qid: int, dim: int, answer: str, data_type: str = "image") -> dict:
    a, b, c, d = OPTIONS[qid % 2]
    return {
        "answer": answer, "choice_a": a, "choice_b": b, "choice_c": c, "choice_d": d,
        "data_id": f"{1000 + qid}_x.jpg" if data_type == "image" else f"v{qid}.mp4",
        "data_type": data_type, "question": f"Question {qid}: what is it?",
        "question_id": str(101 + qid), "question_type_id": dim,
    }  # fmt: skip


def write_seed(root: Path, questions: list[dict]) -> Path:
    (root / "SEED-Bench-image").mkdir(parents=True, exist_ok=True)
    doc = {
        "question_type": {"Scene Understanding": 1, "Instance Identity": 2},
        "questions": questions,
    }
    (root / "SEED-Bench.json").write_text(json.dumps(doc))
    for q in questions:
        if q["data_type"] == "image":
            Image.new("RGB", (8, 8), (len(q["question_id"]) * 20, 0, 0)).save(
                root / "SEED-Bench-image" / q["data_id"]
            )
    return root


QUESTIONS = [
    question(0, 1, "A"), question(1, 1, "B"), question(2, 2, "C"), question(3, 5, "D"),
    question(4, 9, "A"), question(5, 9, "B"), question(6, 10, "A", "video"),
]  # fmt: skip


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    return write_seed(tmp_path / "seed", QUESTIONS)


def test_files_samples_and_prompt(seed_dir: Path) -> None:
    task = registry.make_task("seedbench")
    samples = task.samples(seed_dir, None)
    assert [s.id for s in samples] == ["101", "102", "103", "104", "105", "106"]  # no video
    assert samples[3].category == "Instances Counting" and samples[3].data["answer"] == "D"
    assert samples[0].data["image"] == str(seed_dir / "SEED-Bench-image" / "1000_x.jpg")
    assert task.request(samples[1]).prompt == (
        "<image>\nQuestion 1: what is it?\nA. one\nB. two\nC. three\nD. four\n\n"
        "Answer with the option's letter from the given choices directly."
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"answer": "E"}, "answer 'E' is not one of the options"),
        ({"question_type_id": "scene"}, "question_type_id 'scene' is not a SEED-Bench dimension"),
        ({"data_id": "missing.jpg"}, "image missing.jpg not found"),
        ({"question_id": "101"}, "question_id appears twice"),
    ],
)
def test_bad_records(tmp_path: Path, change: dict, needle: str) -> None:
    questions = [*QUESTIONS[:2], {**question(7, 3, "A"), **change}]
    root = write_seed(tmp_path / "seed", questions)
    (root / "SEED-Bench-image" / "missing.jpg").unlink(missing_ok=True)
    with pytest.raises(UserError) as err:
        registry.make_task("seedbench").samples(root, None)
    assert str(root / "SEED-Bench.json") in str(err.value) and needle in str(err.value)
    skipping = registry.make_task("seedbench", {"skip_bad_records": "true"})
    assert len(skipping.samples(root, None)) == 2 and len(skipping.skipped) == 1


def test_end_to_end_hand_checked(seed_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    adapter = ScriptedAdapter({
        "Question 0:": "A",  # right
        "Question 1:": "(B) two",  # right
        "Question 2:": "city",  # option text, right
        "Question 3:": "I cannot tell",  # unresolved: wrong
        "Question 4:": "B",  # wrong
        "Question 5:": "B. two",  # right
    })  # fmt: skip
    record = evaluate("seedbench", adapter, data_dir=seed_dir, output_dir=tmp_path / "runs")
    m = record.metrics
    assert m["accuracy"] == pytest.approx(400 / 6)
    assert m["per_dimension"] == {
        "Instance Identity": 100.0,
        "Instances Counting": 0.0,
        "Scene Understanding": 100.0,
        "Text Understanding": 50.0,
    }
    assert m["n_questions"] == 6 and m["n_skipped_records"] == 0


def test_scorer_revision_is_in_the_run_id_and_reads_the_letters(
    seed_dir: Path, tmp_path: Path
) -> None:
    """Two letters in "The answer is A, not B": VLMEvalKit's 2cf2a36 (the default) reads A with
    its "answer is X" rule, 18fc37a cannot tell ("Z"). Each revision is its own run."""
    from janus_eval.api import evaluate

    adapter = ScriptedAdapter({"Question 0:": "The answer is A, not B", "": "I cannot tell"})
    out = tmp_path / "runs"
    current = evaluate("seedbench", adapter, data_dir=seed_dir, output_dir=out)
    old = evaluate("seedbench", adapter, data_dir=seed_dir, output_dir=out,
                   task_options={"scorer": "vlmevalkit-18fc37a"})  # fmt: skip
    assert current.run_id != old.run_id
    assert current.config["task"]["scorer"]["name"] == "vlmevalkit-2cf2a36"
    assert old.config["task"]["scorer"]["name"] == "vlmevalkit-18fc37a"
    assert current.metrics["accuracy"] == pytest.approx(100 / 6)
    assert old.metrics["accuracy"] == 0.0
    for record, letter in ((current, "A"), (old, "Z")):
        preds = {x["id"]: x["scores"]["pred"] for x in stored_samples(out, record)}
        assert preds["101"] == letter  # question 0
    with pytest.raises(UserError, match="unknown scorer"):
        registry.make_task("seedbench", {"scorer": "vlmevalkit"})


def test_hub_layout_from_local_copy(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/SEED-Bench: split 'test', the image column a LIST of images, video rows too."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "img.jpg"
    Image.new("RGB", (8, 8), (9, 9, 9)).save(image)
    rows = [question(0, 1, "A"), question(1, 2, "B"), question(6, 10, "C", "video")]
    table = {k: [r[k] for r in rows] for k in rows[0]}
    table["question_type_id"] = [int(x) for x in table["question_type_id"]]
    table["image"] = [[str(image)], [str(image)], [str(image), str(image)]]
    features = datasets.Features(
        {
            **{k: datasets.Value("string") for k in rows[0]},
            "question_type_id": datasets.Value("int64"),
            "image": datasets.List(datasets.Image()),
        }
    )
    datasets.Dataset.from_dict(table, features=features).save_to_disk(str(tmp_path / "hub"))
    task = registry.make_task("seedbench", {"source": str(tmp_path / "hub")})
    samples = task.samples(None, None)
    assert [s.id for s in samples] == ["101", "102"]
    cached = Path(samples[0].data["image"])
    assert cached.is_relative_to(tmp_path / "cache") and cached.read_bytes() == image.read_bytes()
    assert samples[1].data["choices"]["B"] == "two"


def test_end_to_end_dummy_and_shards(seed_dir: Path, tmp_path: Path) -> None:
    record = shards_merge_to_whole("seedbench", seed_dir, tmp_path)
    assert record.n_samples == 6 and record.metrics["n_questions"] == 6


def test_sigkill_then_resume(tmp_path: Path, cli) -> None:
    questions = [question(i, 1 + i % 9, "ABCD"[i % 4]) for i in range(16)]
    root = write_seed(tmp_path / "seed", questions)
    sigkill_and_resume(cli, dummy_run("seedbench", root), tmp_path, total=16, kill_after=4)


def test_end_to_end_janus_tiny(seed_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("seedbench", seed_dir, tmp_path / "runs", limit=2)
    assert record.n_samples == 2 and record.model["name"] == "janus-tiny"
    for line in lines:
        assert line["scores"]["pred"] in {"A", "B", "C", "D", "Z"}
        assert line["request"]["images"][0].endswith("_x.jpg")
