"""VQAv2 test-dev / test submission files answer every test2015 question id the EvalAI server
expects, whichever data source the run read: official files, a local parquet copy of the hub
dataset, a save_to_disk copy, or an explicit test_questions file; and a run that cannot know
the id list stops before any answer is computed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from test_vqa_task import QUESTIONS, write_vqa
from understanding_helpers import ScriptedAdapter

from janus_eval.api import evaluate
from janus_eval.types import UserError

TESTDEV_IDS = [q[0] for q in QUESTIONS]  # 4200, 4201, 7300, 7301
EXTRA_TEST_IDS = [9998, 9999]  # test2015 ids outside test-dev
ADAPTER = ScriptedAdapter({"How many": "Two.", "ball": "It's Red!", "": "no"})


def _full_questions(path: Path) -> Path:
    ids = TESTDEV_IDS + EXTRA_TEST_IDS
    path.write_text(
        json.dumps({"questions": [{"question_id": q, "image_id": 1, "question": "?"} for q in ids]})
    )
    return path


def _submission(tmp_path: Path, record) -> dict[int, str]:
    sub = (
        tmp_path
        / "runs"
        / record.run_id
        / f"vqav2_{record.config['task']['options']['split']}_submission.json"
    )
    return {e["question_id"]: e["answer"] for e in json.loads(sub.read_text())}


def _hub_split(ids: list[int], image: Path):
    import datasets

    features = datasets.Features({
        "question_id": datasets.Value("int64"), "image_id": datasets.Value("int64"),
        "question": datasets.Value("string"), "image": datasets.Image(),
    })  # fmt: skip
    questions = {q[0]: q[2] for q in QUESTIONS}
    return datasets.Dataset.from_dict(
        {"question_id": ids, "image_id": [42] * len(ids),
         "question": [questions.get(i, "Is it?") for i in ids], "image": [str(image)] * len(ids)},
        features=features,
    )  # fmt: skip


def _parquet_repo(root: Path, splits: dict) -> None:
    """A snapshot of a hub dataset repo like lmms-lab/VQAv2: README configs naming the splits."""
    (root / "data").mkdir(parents=True)
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for name, table in splits.items():
        table.to_parquet(str(root / "data" / f"{name}-00000-of-00001.parquet"))
        lines += [f"  - split: {name}", f"    path: data/{name}-*"]
    (root / "README.md").write_text("\n".join([*lines, "---", ""]))


@pytest.fixture
def image(tmp_path: Path, monkeypatch) -> Path:
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    # datasets caches a local folder's build under the folder's name, not its path: a fresh
    # cache, or a "hub" folder of an earlier test run (images since deleted) would be reused
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    path = tmp_path / "img.jpg"
    Image.new("RGB", (8, 8), (0, 90, 0)).save(path)
    return path


EXPECTED = {4200: "2", 4201: "it 's red", 7300: "no", 7301: "no", 9998: "", 9999: ""}


@pytest.mark.parametrize("layout", ["parquet", "save_to_disk"])
def test_hub_testdev_is_padded_from_the_hub_test_split(tmp_path: Path, image: Path, layout):
    import datasets

    testdev, test = _hub_split(TESTDEV_IDS, image), _hub_split(TESTDEV_IDS + EXTRA_TEST_IDS, image)
    source = tmp_path / "hub"
    if layout == "parquet":  # lmms-lab/VQAv2's layout: data/<split>-*.parquet, splits in README
        _parquet_repo(source, {"testdev": testdev, "test": test})
    else:
        datasets.DatasetDict({"testdev": testdev, "test": test}).save_to_disk(str(source))
    record = evaluate("vqav2", ADAPTER, output_dir=tmp_path / "runs",
                      task_options={"split": "testdev", "source": str(source)})  # fmt: skip
    assert record.n_samples == 4
    assert _submission(tmp_path, record) == EXPECTED


def test_hub_without_a_test_split_stops_before_answering(tmp_path: Path, image: Path) -> None:
    source = tmp_path / "hub"
    _parquet_repo(source, {"testdev": _hub_split(TESTDEV_IDS, image)})
    with pytest.raises(UserError, match="test_questions=PATH") as err:
        evaluate("vqav2", ScriptedAdapter({}), output_dir=tmp_path / "runs",
                 task_options={"split": "testdev", "source": str(source)})  # fmt: skip
    assert "'test'" in str(err.value)
    assert not (tmp_path / "runs").exists()  # nothing was run
    # the official question file given as an option is enough
    full = _full_questions(tmp_path / "v2_OpenEnded_mscoco_test2015_questions.json")
    record = evaluate("vqav2", ADAPTER, output_dir=tmp_path / "runs",
                      task_options={"split": "testdev", "source": str(source),
                                    "test_questions": str(full)})  # fmt: skip
    assert _submission(tmp_path, record) == EXPECTED


def test_files_without_the_test2015_question_file_stop_before_answering(tmp_path: Path) -> None:
    root = write_vqa(tmp_path / "vqa", "testdev")
    with pytest.raises(UserError, match="v2_OpenEnded_mscoco_test2015_questions.json is not in"):
        evaluate("vqav2", ScriptedAdapter({}), data_dir=root, output_dir=tmp_path / "runs",
                 task_options={"split": "testdev"})  # fmt: skip
    with pytest.raises(UserError, match="test_questions .*missing.json is not a file"):
        evaluate("vqav2", ScriptedAdapter({}), data_dir=root, output_dir=tmp_path / "runs",
                 task_options={"split": "testdev", "test_questions": str(tmp_path / "missing.json")})  # fmt: skip


def test_test_split_with_limit_still_answers_every_question(tmp_path: Path) -> None:
    root = write_vqa(tmp_path / "vqa", "test")
    record = evaluate("vqav2", ADAPTER, data_dir=root, output_dir=tmp_path / "runs", limit=2,
                      task_options={"split": "test"})  # fmt: skip
    assert record.n_samples == 2
    assert _submission(tmp_path, record) == {4200: "2", 4201: "it 's red", 7300: "", 7301: ""}
