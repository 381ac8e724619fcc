"""The `vqav2` task: official question/annotation JSON with COCO images, the hub layout (a local
`datasets` copy and a local parquet folder), bad records, submission files, and end-to-end runs
through janus_eval.api.evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from understanding_helpers import ScriptedAdapter, run_janus_tiny, stored_samples

from janus_eval import registry
from janus_eval.types import UserError

QUESTIONS = [  # (question_id, image_id, question, answers, answer_type, question_type)
    (4200, 42, "How many dogs are there?", ["2"] * 10, "number", "how many"),
    (4201, 42, "What color is the ball?", ["red"] * 3 + ["blue"] * 7, "other", "what color is the"),
    (7300, 73, "Is it raining?", ["no"] * 9 + ["yes"], "yes/no", "is it"),
    (7301, 73, "What is the man holding?", ["umbrella"] * 10, "other", "what is the"),
]  # fmt: skip


def write_vqa(root: Path, split: str = "val", questions=QUESTIONS) -> Path:
    """The official layout: questions/ and annotations/ JSON, val2014/ or test2015/ images."""
    folder, prefix, qfile = {
        "val": ("val2014", "COCO_val2014_", "v2_OpenEnded_mscoco_val2014_questions.json"),
        "testdev": (
            "test2015",
            "COCO_test2015_",
            "v2_OpenEnded_mscoco_test-dev2015_questions.json",
        ),
        "test": ("test2015", "COCO_test2015_", "v2_OpenEnded_mscoco_test2015_questions.json"),
    }[split]
    for sub in ("questions", "annotations", folder):
        (root / sub).mkdir(parents=True, exist_ok=True)
    qs = [{"image_id": img, "question": q, "question_id": qid} for qid, img, q, *_ in questions]
    (root / "questions" / qfile).write_text(
        json.dumps(
            {
                "info": {},
                "task_type": "Open-Ended",
                "data_type": "mscoco",
                "license": {},
                "data_subtype": split,
                "questions": qs,
            }
        )
    )
    anns = [
        {
            "question_type": qt,
            "multiple_choice_answer": ans[0],
            "image_id": img,
            "answer_type": at,
            "question_id": qid,
            "answers": [
                {"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                for i, a in enumerate(ans)
            ],
        }
        for qid, img, _, ans, at, qt in questions
    ]
    if split == "val":
        (root / "annotations" / "v2_mscoco_val2014_annotations.json").write_text(
            json.dumps({"info": {}, "license": {}, "data_subtype": "val2014", "annotations": anns})
        )
    for img in {q[1] for q in questions}:
        Image.new("RGB", (8, 8), (img, 0, 0)).save(root / folder / f"{prefix}{img:012d}.jpg")
    return root


@pytest.fixture
def vqa_dir(tmp_path: Path) -> Path:
    return write_vqa(tmp_path / "vqa")


def test_question_types_come_from_the_official_list(shared_data: Path) -> None:
    path = shared_data / "vqav2" / "mscoco_question_types.txt"
    if not path.is_file():
        pytest.skip("mscoco_question_types.txt not in shared/data/vqav2")
    types = set(path.read_text().splitlines())
    assert {q[5] for q in QUESTIONS} <= types  # the fixture uses real question types


def test_official_files_samples(vqa_dir: Path) -> None:
    task = registry.make_task("vqav2")
    samples = task.samples(vqa_dir, None)
    assert [s.id for s in samples] == ["4200", "4201", "7300", "7301"]
    s = samples[0]
    assert s.data["answers"] == ["2"] * 10 and s.category == "number"
    req = task.request(s)
    assert req.images == (str(vqa_dir / "val2014" / "COCO_val2014_000000000042.jpg"),)
    assert (
        req.prompt
        == "<image>\nHow many dogs are there?\nAnswer the question using a single word or phrase."
    )
    assert req.max_new_tokens == 16
    assert len(task.samples(vqa_dir, 2)) == 2


def _edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def test_annotation_without_ten_answers(vqa_dir: Path) -> None:
    ann = vqa_dir / "annotations" / "v2_mscoco_val2014_annotations.json"
    _edit_json(ann, lambda d: d["annotations"][2]["answers"].pop())
    with pytest.raises(UserError) as err:
        registry.make_task("vqav2").samples(vqa_dir, None)
    msg = str(err.value)
    assert str(ann) in msg and "question_id 7300" in msg and "9 answers" in msg


def test_duplicate_question_id(vqa_dir: Path) -> None:
    qfile = vqa_dir / "questions" / "v2_OpenEnded_mscoco_val2014_questions.json"
    _edit_json(qfile, lambda d: d["questions"].append(dict(d["questions"][1])))
    with pytest.raises(UserError, match=r"question_id 4201 appears twice") as err:
        registry.make_task("vqav2").samples(vqa_dir, None)
    assert str(qfile) in str(err.value)


def test_missing_image_error_and_skip(vqa_dir: Path) -> None:
    (vqa_dir / "val2014" / "COCO_val2014_000000000073.jpg").unlink()
    with pytest.raises(UserError, match="COCO_val2014_000000000073.jpg") as err:
        registry.make_task("vqav2").samples(vqa_dir, None)
    assert "question_id 7300" in str(err.value) and "skip_bad_records" in str(err.value)
    task = registry.make_task("vqav2", {"skip_bad_records": "true"})
    assert [s.id for s in task.samples(vqa_dir, None)] == ["4200", "4201"]
    assert [sid for sid, _ in task.skipped] == ["7300", "7301"]


def test_missing_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="v2_OpenEnded_mscoco_val2014_questions.json"):
        registry.make_task("vqav2").samples(tmp_path, None)
    with pytest.raises(UserError, match="split"):
        registry.make_task("vqav2", {"split": "train"})


@pytest.mark.parametrize(
    ("scorer", "accuracy", "per_answer_type", "what_color"),
    [
        # master a013f00: unanimous answers are compared verbatim, so "Two." (ten "2") and
        # "an umbrella" (ten "umbrella") score 0; "Red" is normalised (annotators disagree): 0.9
        (None, 47.5, {"number": 0.0, "other": 45.0, "yes/no": 100.0}, 90.0),
        ("vqa-2017", 97.5, {"number": 100.0, "other": 95.0, "yes/no": 100.0}, 90.0),
    ],
)
def test_end_to_end_val_hand_checked(
    vqa_dir: Path, tmp_path: Path, scorer, accuracy, per_answer_type, what_color
) -> None:
    from janus_eval.api import evaluate

    adapter = ScriptedAdapter({
        "How many": "Two.",  # 2017: -> "2", all ten agree on "2": 1.0
        "ball": "Red",  # -> "red", 3 of 10 say red: (3*(2/3) + 7*1)/10 = 0.9
        "raining": "no",  # 9 of 10: 1.0
        "holding": "an umbrella",  # 2017: article dropped: 1.0
    })  # fmt: skip
    options = {"scorer": scorer} if scorer else {}
    record = evaluate(
        "vqav2", adapter, data_dir=vqa_dir, output_dir=tmp_path / "runs", task_options=options
    )
    m = record.metrics
    assert m["accuracy"] == accuracy
    assert m["per_answer_type"] == per_answer_type
    assert m["per_question_type"]["what color is the"] == what_color
    assert m["n_questions"] == 4 and m["n_skipped_records"] == 0
    name = scorer or "vqa-a013f00"
    assert record.config["task"]["options"]["scorer"] == name
    assert record.config["task"]["scorer"]["name"] == name
    assert record.extra["leaderboard_keys"] == ["scorer"]


def test_unknown_scorer_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown scorer 'vqa-2021'.*vqa-a013f00.*vqa-2017"):
        registry.make_task("vqav2", {"scorer": "vqa-2021"})


def test_end_to_end_dummy(vqa_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    record = evaluate("vqav2", "dummy", data_dir=vqa_dir, output_dir=tmp_path / "runs")
    assert record.n_samples == 4 and record.primary_metric == "accuracy"
    # By hand. The dummy's answers (sha256 of the prompt, see model_adapters/dummy.py): 4200
    # "2" (all ten say "2": 1.0), 4201 "Yes" (red/blue: 0), 7300 "No" (nine "no", one "yes":
    # every leave-one-out set has >= 3 "no", 1.0), 7301 "Yes" (umbrella: 0). The same under the
    # 2017 (c4e6a0e) and 2021 (a013f00) official rules: "2" equals the agreeing answers raw, and
    # 7300's annotators disagree, so both sides are normalised under either revision.
    answers = {line["id"]: line["response"] for line in stored_samples(tmp_path / "runs", record)}
    assert answers == {"4200": "2", "4201": "Yes", "7300": "No", "7301": "Yes"}
    assert record.metrics["accuracy"] == 50.0
    assert record.metrics["per_answer_type"] == {"number": 100.0, "other": 0.0, "yes/no": 100.0}


def test_testdev_submission_covers_every_question(tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    root = write_vqa(tmp_path / "vqa", "testdev")
    (root / "test2015" / "COCO_test2015_000000000073.jpg").unlink()  # one image lost
    # The full test2015 question file, beside the test-dev one, pads the submission.
    full = {
        "questions": [
            {"question_id": q, "image_id": 1, "question": "?"}
            for q in (4200, 4201, 7300, 7301, 9999)
        ]
    }
    (root / "questions" / "v2_OpenEnded_mscoco_test2015_questions.json").write_text(
        json.dumps(full)
    )
    adapter = ScriptedAdapter({"How many": "Two.", "ball": "It's Red!"})
    record = evaluate(
        "vqav2",
        adapter,
        data_dir=root,
        output_dir=tmp_path / "runs",
        task_options={"split": "testdev", "skip_bad_records": "true"},
    )
    assert record.metrics == {"n_questions": 2, "n_skipped_records": 2}
    sub = json.loads(
        (tmp_path / "runs" / record.run_id / "vqav2_testdev_submission.json").read_text()
    )
    answers = {e["question_id"]: e["answer"] for e in sub}
    assert answers == {4200: "2", 4201: "it 's red", 7300: "", 7301: "", 9999: ""}
    assert all(isinstance(e["question_id"], int) for e in sub)


def _hub_rows(image: Path, with_answers: bool = True) -> dict:
    rows = {
        "question_type": [q[5] for q in QUESTIONS],
        "multiple_choice_answer": [q[3][0] for q in QUESTIONS],
        "answers": [[{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                     for i, a in enumerate(q[3])] for q in QUESTIONS],
        "image_id": [q[1] for q in QUESTIONS],
        "answer_type": [q[4] for q in QUESTIONS],
        "question_id": [q[0] for q in QUESTIONS],
        "question": [q[2] for q in QUESTIONS],
        "image": [str(image)] * len(QUESTIONS),
    }  # fmt: skip
    if not with_answers:
        rows["answers"] = [None] * len(QUESTIONS)
    return rows


def test_hub_layout_save_to_disk_and_parquet(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/VQAv2's columns, as a save_to_disk DatasetDict and as a parquet folder."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "img.jpg"
    Image.new("RGB", (8, 8), (0, 90, 0)).save(image)
    answer = datasets.Features(
        {
            "answer": datasets.Value("string"),
            "answer_confidence": datasets.Value("string"),
            "answer_id": datasets.Value("int64"),
        }
    )
    features = datasets.Features({
        "question_type": datasets.Value("string"),
        "multiple_choice_answer": datasets.Value("string"),
        "answers": datasets.List(answer), "image_id": datasets.Value("int64"),
        "answer_type": datasets.Value("string"), "question_id": datasets.Value("int64"),
        "question": datasets.Value("string"), "image": datasets.Image(),
    })  # fmt: skip
    val = datasets.Dataset.from_dict(_hub_rows(image), features=features)
    datasets.DatasetDict({"validation": val}).save_to_disk(str(tmp_path / "hub"))
    task = registry.make_task("vqav2", {"source": str(tmp_path / "hub")})
    samples = task.samples(None, None)
    assert [s.id for s in samples] == ["4200", "4201", "7300", "7301"]
    assert samples[1].data["answers"] == ["red"] * 3 + ["blue"] * 7
    cached = Path(samples[0].data["image"])
    # named after the image (made safe: janus_eval.safe_names) and the bytes it holds
    assert cached.name.startswith("coco_val2014_000000000042+") and cached.suffix == ".jpg"
    assert cached.read_bytes() == image.read_bytes()

    (tmp_path / "pq").mkdir()
    val.to_parquet(str(tmp_path / "pq" / "validation-00000-of-00001.parquet"))
    parquet = registry.make_task("vqav2", {"source": str(tmp_path / "pq")}).samples(None, 2)
    assert [s.id for s in parquet] == ["4200", "4201"]

    with pytest.raises(UserError, match="not 'testdev'"):
        registry.make_task("vqav2", {"source": str(tmp_path / "hub"), "split": "testdev"}).samples(
            None, None
        )


def test_hub_annotation_without_ten_answers(tmp_path: Path, monkeypatch) -> None:
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "img.jpg"
    Image.new("RGB", (8, 8)).save(image)
    rows = _hub_rows(image)
    rows["answers"][3] = rows["answers"][3][:5]
    ds = datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "hub"))
    with pytest.raises(UserError, match=r"question_id 7301\): annotation has 5 answers"):
        registry.make_task("vqav2", {"source": str(tmp_path / "hub")}).samples(None, None)


def test_end_to_end_janus_tiny(vqa_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("vqav2", vqa_dir, tmp_path / "runs", limit=2)
    assert record.n_samples == 2 and record.model["name"] == "janus-tiny"
    # By hand: the random-weight model answers three pseudo-words (" dipule bomoge bobini"),
    # which match none of the annotators' answers ("2", "red", "blue") under either revision of
    # the official rules, so every question scores 0.
    answers = {str(q[0]): set(q[3]) for q in QUESTIONS}
    for line in lines:
        words = set(line["response"].lower().replace(".", " ").split())
        assert len(words) >= 2 and not words & answers[line["id"]], line["response"]
        assert line["scores"]["accuracy"] == 0.0
    assert record.metrics["accuracy"] == 0.0
    assert record.metrics["per_answer_type"] == {"number": 0.0, "other": 0.0}
