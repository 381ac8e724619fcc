"""The `mme` task: the official release folder (both subtask layouts), the hub layout (a local
`datasets` copy), bad records, and end-to-end runs (scripted, dummy, janus-tiny, SIGKILL and
resume, shards)."""

from __future__ import annotations

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
from janus_eval.metrics.mme import SUBTASKS
from janus_eval.types import UserError

NESTED = ("artwork", "celebrity", "landmark", "posters", "scene")  # images/ + questions_answers_YN/


def question(subtask: str, image: int, k: int) -> str:
    return f"[{subtask} {image} {k}] Is this right? Please answer yes or no."


def write_mme(root: Path) -> Path:
    """Every subtask with one image ('count' with two); image names repeat across subtasks.
    Question 1 of each image has answer Yes, question 2 No."""
    for name in SUBTASKS:
        folder = root / name
        images = folder / "images" if name in NESTED else folder
        texts = folder / "questions_answers_YN" if name in NESTED else folder
        images.mkdir(parents=True, exist_ok=True)
        texts.mkdir(parents=True, exist_ok=True)
        for i in range(2 if name == "count" else 1):
            suffix = ".png" if name == "OCR" else ".jpg"
            Image.new("RGB", (8, 8), (10 * i, 80, 120)).save(images / f"000{i}{suffix}")
            (texts / f"000{i}.txt").write_text(
                f"{question(name, i, 1)}\tYes\n{question(name, i, 2)}\tNo\n"
            )
    return root


@pytest.fixture
def mme_dir(tmp_path: Path) -> Path:
    return write_mme(tmp_path / "MME_Benchmark_release_version")


def test_release_folder_samples_and_prompt(mme_dir: Path) -> None:
    task = registry.make_task("mme")
    samples = task.samples(mme_dir.parent, None)  # the parent of the release folder works too
    assert len(samples) == 30
    assert [s.id for s in samples[:4]] == [
        "existence/0000.jpg#1", "existence/0000.jpg#2", "count/0000.jpg#1", "count/0000.jpg#2",
    ]  # fmt: skip
    art = next(s for s in samples if s.id == "artwork/0000.jpg#2")
    assert art.data["image_path"] == str(mme_dir / "artwork" / "images" / "0000.jpg")
    assert art.data["answer"] == "No" and art.category == "artwork"
    req = task.request(art)
    assert req.prompt == (
        "<image>\n[artwork 0 2] Is this right? Please answer yes or no.\n"
        "Answer the question using a single word or phrase."
    )
    assert req.system_prompt == "" and req.images == (art.data["image_path"],)
    assert len(task.samples(mme_dir, 3)) == 6  # --limit counts images
    cognition = registry.make_task("mme", {"subtasks": "cognition"}).samples(mme_dir, None)
    assert {s.category for s in cognition} == {
        "commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning",
    }  # fmt: skip
    two = registry.make_task("mme", {"subtasks": "count,existence"}).samples(mme_dir, None)
    assert [s.category for s in two] == ["existence"] * 2 + ["count"] * 4  # the tool's order
    with pytest.raises(UserError, match="unknown subtask"):
        registry.make_task("mme", {"subtasks": "existence,counting"})


@pytest.mark.parametrize(
    ("text", "image", "needle"),
    [
        ("q?\tYes\n", True, "has 1 question line(s)"),
        ("q?\tYes\nr?\tMaybe\n", True, "line 2 is not 'question<TAB>Yes'"),
        ("q?\tYes\nr?\tNo\n", False, "no image 0000.jpg/.png"),
    ],
)
def test_bad_records_name_file_and_can_be_skipped(
    mme_dir: Path, text: str, image: bool, needle: str
) -> None:
    (mme_dir / "color" / "0000.txt").write_text(text)
    if not image:
        (mme_dir / "color" / "0000.jpg").unlink()
    with pytest.raises(UserError) as err:
        registry.make_task("mme").samples(mme_dir, None)
    assert str(mme_dir / "color" / "0000.txt") in str(err.value) and needle in str(err.value)
    skipping = registry.make_task("mme", {"skip_bad_records": "true"})
    assert len(skipping.samples(mme_dir, None)) == 28  # both questions of the image go
    assert [sid for sid, _ in skipping.skipped] == ["color/0000"]


def test_missing_subtask_folder(mme_dir: Path) -> None:
    for path in sorted((mme_dir / "count").iterdir()):
        path.unlink()
    (mme_dir / "count").rmdir()
    with pytest.raises(UserError, match=r"subtask folder .*count not found"):
        registry.make_task("mme").samples(mme_dir, None)


def scripted() -> ScriptedAdapter:
    """Right everywhere but: count image 1 question 1 (No); color both 'maybe' (other); OCR
    question 2 (Yes); code_reasoning both flipped."""
    answers = {
        "[count 1 1]": "No",
        "[color 0 1]": "maybe",
        "[color 0 2]": "maybe",
        "[OCR 0 2]": "Yes",
        "[code_reasoning 0 1]": "No",
        "[code_reasoning 0 2]": "Yes, it is",
        " 1] ": "Yes.",
        " 2] ": "no",
    }
    return ScriptedAdapter(answers)


def test_end_to_end_hand_checked_scores(mme_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    record = evaluate("mme", scripted(), data_dir=mme_dir, output_dir=tmp_path / "runs")
    m = record.metrics
    # count: 3 of 4 right, 1 of 2 images -> 75 + 50; color 0; OCR 50 + 0; the rest 200
    assert m["per_category"]["count"] == 125.0 and m["per_category"]["color"] == 0.0
    assert m["per_category"]["OCR"] == 50.0 and m["per_category"]["existence"] == 200.0
    assert m["perception"] == 1575.0 and m["cognition"] == 600.0
    assert m["per_category_acc"]["count"] == 75.0
    assert m["per_category_acc_plus"]["count"] == 50.0
    assert m["n_questions"] == 30 and m["n_images"] == 15 and m["n_other"] == 2
    assert record.primary_metric == "perception"


def test_hub_layout_from_local_copy(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/MME's columns (question_id '<subtask>/<image>', two rows per image, 'category'
    the subtask), saved locally."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "img.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(image)
    rows = {"question_id": [], "question": [], "answer": [], "category": [], "image": []}
    for category in ("code_reasoning", "count"):
        for k, answer in ((1, "Yes"), (2, "No")):
            rows["question_id"].append(f"{category}/0020.png")
            rows["question"].append(question(category, 20, k))
            rows["answer"].append(answer)
            rows["category"].append(category)
            rows["image"].append(str(image))
    features = datasets.Features(
        {k: datasets.Image() if k == "image" else datasets.Value("string") for k in rows}
    )
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(tmp_path / "hub"))
    task = registry.make_task("mme", {"source": str(tmp_path / "hub")})
    samples = task.samples(None, None)
    assert [s.id for s in samples] == [
        "code_reasoning/0020.png#1", "code_reasoning/0020.png#2",
        "count/0020.png#1", "count/0020.png#2",
    ]  # fmt: skip
    cached = Path(samples[0].data["image_path"])
    assert cached.is_relative_to(tmp_path / "cache") and cached.read_bytes() == image.read_bytes()

    from janus_eval.api import evaluate

    record = evaluate(
        "mme",
        scripted(),
        output_dir=tmp_path / "runs",
        task_options={"source": str(tmp_path / "hub")},
    )
    assert record.metrics["perception"] == 200.0 and record.metrics["cognition"] == 200.0

    lone = datasets.Dataset.from_dict({k: v[:3] for k, v in rows.items()}, features=features)
    lone.save_to_disk(str(tmp_path / "lone"))
    with pytest.raises(UserError, match="question_id count/0020.png has 1 question"):
        registry.make_task("mme", {"source": str(tmp_path / "lone")}).samples(None, None)


def test_end_to_end_dummy_and_shards(mme_dir: Path, tmp_path: Path) -> None:
    record = shards_merge_to_whole("mme", mme_dir, tmp_path)
    assert record.n_samples == 30 and set(record.metrics["per_category"]) == set(SUBTASKS)
    assert 0 <= record.metrics["perception"] <= 2000 and 0 <= record.metrics["cognition"] <= 800


def test_sigkill_then_resume(mme_dir: Path, tmp_path: Path, cli) -> None:
    sigkill_and_resume(cli, dummy_run("mme", mme_dir), tmp_path, total=30, kill_after=6)


def test_end_to_end_janus_tiny(mme_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("mme", mme_dir, tmp_path / "runs", limit=2)
    assert record.n_samples == 4 and record.model["name"] == "janus-tiny"
    assert set(record.metrics["per_category"]) == {"existence", "count"}
    for line in lines:
        assert line["scores"]["pred"] in {"yes", "no", "other"}
    assert stored_samples(tmp_path / "runs", record) == lines
