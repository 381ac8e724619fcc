"""The `pope` task: official JSON-lines files with a COCO image folder, the hub layout (a local
`datasets` copy), bad records, and end-to-end runs through janus_eval.api.evaluate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from understanding_helpers import ScriptedAdapter, run_janus_tiny, stored_samples

from janus_eval import registry
from janus_eval.types import UserError

SPLITS = ("random", "popular", "adversarial")


def write_pope(root: Path, records: dict[str, list[dict]], images: bool = True) -> Path:
    """Official layout: coco_pope_<split>.json (JSON lines) and val2014/COCO_val2014_*.jpg."""
    (root / "val2014").mkdir(parents=True, exist_ok=True)
    for split, recs in records.items():
        (root / f"coco_pope_{split}.json").write_text("".join(json.dumps(r) + "\n" for r in recs))
        for r in recs:
            if images:
                Image.new("RGB", (8, 8), (40, 80, 120)).save(root / "val2014" / r["image"])
    return root


def rec(qid: int, image: int, obj: str, label: str) -> dict:
    return {
        "question_id": qid,
        "image": f"COCO_val2014_{image:012d}.jpg",
        "text": f"Is there a {obj} in the image?",
        "label": label,
    }


@pytest.fixture
def pope_dir(tmp_path: Path) -> Path:
    return write_pope(
        tmp_path / "pope",
        {
            "random": [rec(1, 1, "dog", "yes"), rec(2, 1, "car", "no")],
            "popular": [rec(1, 2, "cat", "yes"), rec(2, 2, "bus", "no")],
            "adversarial": [rec(1, 3, "cup", "yes"), rec(2, 3, "fork", "no")],
        },
    )


def test_official_files_samples_and_prompt(pope_dir: Path) -> None:
    task = registry.make_task("pope", {"split": "all"})
    samples = task.samples(pope_dir, None)
    assert [s.id for s in samples] == [f"{sp}/{q}" for sp in SPLITS for q in (1, 2)]
    assert {s.category for s in samples} == set(SPLITS)
    req = task.request(samples[0])
    assert req.prompt == (
        "<image>\nIs there a dog in the image?\nAnswer the question using a single word or phrase."
    )
    assert req.images == (str(pope_dir / "val2014" / "COCO_val2014_000000000001.jpg"),)
    assert req.system_prompt == ""

    single = registry.make_task("pope", {"split": "popular"}).samples(pope_dir, 1)
    assert [s.id for s in single] == ["1"]  # the official question id


def test_real_files_all_9000_records(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "pope"
    if not all((src / f"coco_pope_{s}.json").is_file() for s in SPLITS):
        pytest.skip("official POPE files not in shared/data/pope")
    images = {
        json.loads(line)["image"]
        for s in SPLITS
        for line in (src / f"coco_pope_{s}.json").read_text().splitlines()
        if line.strip()
    }
    folder = tmp_path / "coco"
    folder.mkdir()
    for name in images:  # tiny stand-ins for the COCO val2014 images the files name
        Image.new("RGB", (4, 4)).save(folder / name)
    task = registry.make_task("pope", {"split": "all", "image_dir": str(folder)})
    samples = task.samples(src, None)
    assert len(samples) == 9000 and len({s.id for s in samples}) == 9000
    for split in SPLITS:
        labels = [s.data["label"] for s in samples if s.category == split]
        assert labels.count("yes") == labels.count("no") == 1500
    assert samples[0].data["image"] == str(folder / "COCO_val2014_000000310196.jpg")


def test_missing_image_error_and_skip(pope_dir: Path) -> None:
    (pope_dir / "val2014" / "COCO_val2014_000000000002.jpg").unlink()
    task = registry.make_task("pope", {"split": "popular"})
    with pytest.raises(UserError) as err:
        task.samples(pope_dir, None)
    msg = str(err.value)
    assert "coco_pope_popular.json line 1" in msg and "COCO_val2014_000000000002.jpg" in msg
    skipping = registry.make_task("pope", {"split": "popular", "skip_bad_records": "true"})
    assert skipping.samples(pope_dir, None) == []
    assert [sid for sid, _ in skipping.skipped] == ["1", "2"]


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "line 3 is not a JSON object"),
        (json.dumps(rec(1, 1, "dog", "yes")), "question_id 1 already appeared on line 1"),
        (json.dumps(rec(3, 1, "dog", "Yes")), "label 'Yes'"),
    ],
)
def test_bad_lines_name_file_and_line(pope_dir: Path, line: str, needle: str) -> None:
    path = pope_dir / "coco_pope_random.json"
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(UserError, match="coco_pope_random.json") as err:
        registry.make_task("pope", {"split": "random"}).samples(pope_dir, None)
    assert needle in str(err.value)


def test_bad_options() -> None:
    with pytest.raises(UserError, match="split"):
        registry.make_task("pope", {"split": "coco"})
    with pytest.raises(UserError, match="prompt_template"):
        registry.make_task("pope", {"prompt_template": "{image} {question}"})


def test_end_to_end_hand_checked_metrics(pope_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    # Answers vs labels: dog yes/yes, car no/"No, it is not." , cat yes/"Yes.", bus no/"yes",
    # cup yes/"There is no cup", fork no/"No\n" (-> yes: split on spaces only).
    adapter = ScriptedAdapter(
        {
            "dog": "Yes",
            "car": "No, it is not.",
            "cat": "Yes.",
            "bus": "yes",
            "a cup": "There is no cup",
            "fork": "No\n",
        }
    )
    record = evaluate(
        "pope",
        adapter,
        data_dir=pope_dir,
        output_dir=tmp_path / "runs",
        task_options={"lmms_eval_metrics": "true"},
    )
    m = record.metrics
    # pooled: TP=2 (dog, cat) FP=2 (bus, fork) TN=1 (car) FN=1 (cup)
    assert m["accuracy"] == pytest.approx(50.0)
    assert m["precision"] == pytest.approx(50.0)
    assert m["recall"] == pytest.approx(200 / 3)
    assert m["f1"] == pytest.approx(100 * 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["yes_ratio"] == pytest.approx(200 / 3)
    assert m["random"]["accuracy"] == 100.0 and m["popular"]["accuracy"] == 50.0
    assert m["adversarial"]["accuracy"] == 0.0 and m["adversarial"]["f1"] == 0.0
    assert m["mean_accuracy"] == pytest.approx(50.0)
    # lmms-eval exact match: "yes" (dog) and "no" (fork, stripped) equal their labels; "yes."
    # and "no, it is not." match nothing.
    assert m["lmms_eval"]["accuracy"] == pytest.approx(100 / 3)
    assert m["n_skipped_records"] == 0 and record.n_skipped == 0
    assert record.prompt["prompt_template"].endswith("single word or phrase.")


def test_end_to_end_dummy_with_skipped_record(pope_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    (pope_dir / "val2014" / "COCO_val2014_000000000003.jpg").unlink()
    record = evaluate(
        "pope",
        "dummy",
        data_dir=pope_dir,
        output_dir=tmp_path / "runs",
        task_options={"skip_bad_records": "true"},
    )
    assert record.n_samples == 4 and record.n_skipped == 2
    assert record.metrics["n_skipped_records"] == 2
    assert "adversarial" not in record.metrics
    # By hand. The dummy's answers (sha256 of the prompt, see model_adapters/dummy.py) against
    # the labels: random/1 "No" (yes), random/2 "Yes" (no), popular/1 "No" (yes), popular/2
    # "No" (no). Pooled: TP 0, FP 1, TN 1, FN 2: accuracy 1/4, yes-ratio 1/4, precision and
    # recall 0/1 and 0/2, F1 0 (the official script would divide 0 by 0 here; see pope.py).
    lines = stored_samples(tmp_path / "runs", record)
    assert {x["id"]: x["response"] for x in lines} == {
        "random/1": "No", "random/2": "Yes", "popular/1": "No", "popular/2": "No",
    }  # fmt: skip
    m = record.metrics
    assert (m["accuracy"], m["precision"], m["recall"], m["f1"], m["yes_ratio"]) == (
        25.0, 0.0, 0.0, 0.0, 25.0,
    )  # fmt: skip
    assert m["random"]["accuracy"] == 0.0 and m["popular"]["accuracy"] == 50.0
    assert m["mean_accuracy"] == 25.0


def test_hub_layout_from_local_copy(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/POPE's columns (split 'test', one 'category' per POPE split), saved locally."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "img.jpg"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(image)
    features = datasets.Features({
        "id": datasets.Value("string"), "question_id": datasets.Value("string"),
        "question": datasets.Value("string"), "answer": datasets.Value("string"),
        "image_source": datasets.Value("string"), "image": datasets.Image(),
        "category": datasets.Value("string"),
    })  # fmt: skip
    rows = {
        "id": ["0", "1", "2"], "question_id": ["1", "2", "1"],
        "question": ["Is there a dog in the image?", "Is there a car in the image?",
                     "Is there a cup in the image?"],
        "answer": ["yes", "no", "yes"],
        "image_source": ["COCO_val2014_000000000001"] * 3,
        "image": [str(image)] * 3, "category": ["random", "random", "adversarial"],
    }  # fmt: skip
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(tmp_path / "hub"))
    task = registry.make_task("pope", {"source": str(tmp_path / "hub"), "split": "random"})
    samples = task.samples(None, None)
    assert [s.id for s in samples] == ["1", "2"]
    cached = Path(samples[0].data["image"])
    assert cached.is_file() and cached.parent.is_relative_to(tmp_path / "cache")
    assert cached.read_bytes() == image.read_bytes()  # bytes written as-is, never re-encoded
    assert [s.data["label"] for s in samples] == ["yes", "no"]

    from janus_eval.api import evaluate

    everything = evaluate(
        "pope",
        "dummy",
        output_dir=tmp_path / "runs",
        task_options={"source": str(tmp_path / "hub")},
    )
    assert everything.n_samples == 3 and set(everything.metrics) >= {"random", "adversarial"}


def test_missing_hub_source_is_a_user_error(tmp_path: Path) -> None:
    task = registry.make_task("pope", {"source": str(tmp_path / "nowhere")})
    with pytest.raises(UserError, match="does not exist"):
        task.samples(None, None)
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        pytest.skip("HF_HUB_OFFLINE is not 1: the default hub source would go online")
    with pytest.raises(UserError, match="could not load dataset 'lmms-lab/POPE'.*--data-dir"):
        registry.make_task("pope").samples(None, None)


def test_end_to_end_janus_tiny(pope_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("pope", pope_dir, tmp_path / "runs", limit=3)
    assert record.n_samples == 3 and record.model["name"] == "janus-tiny"
    # By hand: the random-weight model answers three pseudo-words (" belama dekoke gogabe"),
    # none of them "No", "not" or "no", so the official parser reads every answer as yes.
    # random/1 (yes), random/2 (no), popular/1 (yes): TP 2, FP 1, so accuracy 2/3, precision
    # 2/3, recall 1, F1 2 * (2/3) / (5/3) = 0.8, yes-ratio 1; random 1/2, popular 1/1.
    assert sorted(line["id"] for line in lines) == ["popular/1", "random/1", "random/2"]
    for line in lines:
        words = line["response"].split(" ")
        assert len(words) >= 3 and not {"No", "not", "no"} & set(words), line["response"]
        assert line["scores"]["pred"] == "yes"
    m = record.metrics
    assert m["accuracy"] == pytest.approx(200 / 3) and m["precision"] == pytest.approx(200 / 3)
    assert (m["recall"], m["yes_ratio"]) == (100.0, 100.0) and m["f1"] == pytest.approx(80.0)
    assert m["random"]["accuracy"] == 50.0 and m["popular"]["accuracy"] == 100.0
