"""The `mmmu` task: a local copy of the MMMU dataset (parquet files per subject, as in
MMMU/MMMU), the lmms-lab/MMMU layout, bad records, the seeded random fallback, and end-to-end
runs."""

from __future__ import annotations

import io
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


def png(color: tuple[int, int, int]) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def row(sid: str, question: str, answer: str, options: str = "[]", n_images: int = 1) -> dict:
    qtype = "multiple-choice" if options != "[]" else "open"
    out = {"id": sid, "question": question, "options": options, "answer": answer,
           "question_type": qtype, "explanation": "", "img_type": "['Diagrams']",
           "topic_difficulty": "Easy", "subfield": "x"}  # fmt: skip
    for k in range(1, 8):
        out[f"image_{k}"] = png((k * 30, len(sid), 0)) if k <= n_images else None
    return out


ROWS = [
    row("validation_Art_1", "Which shape is in <image 1> and <image 2>?", "B",
        "['a red circle', 'a blue square', 'a green star']", n_images=2),
    row("validation_Art_2", "Pick the only option.", "A", "['only']"),  # fallback, one letter
    row("validation_Math_1", "Solve for x.", "3.5"),
    row("validation_Math_2", "What is 24/7?", "['24/7', '3.429']"),
    row("validation_Physics_1", "Which law applies here?", "C", "['Ohm', 'Hooke', 'Newton']"),
]  # fmt: skip
ANSWERS = {
    "Which shape": "(B)",  # right
    "only option": "I cannot tell",  # no candidate: random fallback from the single letter A
    "Solve for x": "The answer is 3.5",  # right
    "24/7": "3.43",  # right: 3.429 rounds to 3.43
    "Which law": "A",  # wrong
}


def write_mmmu(root: Path, rows: list[dict], split: str = "validation") -> Path:
    """A snapshot of MMMU/MMMU: one folder per subject, <split>-00000-of-00001.parquet."""
    import datasets

    features = datasets.Features(
        {
            **{k: datasets.Value("string") for k in rows[0] if not k.startswith("image_")},
            **{f"image_{k}": datasets.Image() for k in range(1, 8)},
        }
    )
    for subject in dict.fromkeys("_".join(r["id"].split("_")[1:-1]) for r in rows):
        mine = [r for r in rows if "_".join(r["id"].split("_")[1:-1]) == subject]
        (root / subject).mkdir(parents=True, exist_ok=True)
        table = datasets.Dataset.from_list(mine, features=features)
        table.to_parquet(str(root / subject / f"{split}-00000-of-00001.parquet"))
    return root


@pytest.fixture
def mmmu_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    return write_mmmu(tmp_path / "MMMU", ROWS)


def test_samples_and_prompts(mmmu_dir: Path, tmp_path: Path) -> None:
    task = registry.make_task("mmmu")
    samples = {s.id: s for s in task.samples(mmmu_dir, None)}
    assert sorted(samples) == sorted(r["id"] for r in ROWS)
    art = samples["validation_Art_1"]
    assert art.category == "Art" and art.data["all_choices"] == ["A", "B", "C"]
    req = task.request(art)
    assert req.prompt == (
        "<image><image>\nWhich shape is in <image 1> and <image 2>?\nA. a red circle\n"
        "B. a blue square\nC. a green star\n\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert len(req.images) == 2 and all(
        Path(p).is_relative_to(tmp_path / "cache") for p in req.images
    )
    assert Image.open(req.images[1]).getpixel((0, 0)) == (60, 16, 0)  # image_2's own pixels
    math = samples["validation_Math_2"]
    assert math.data["gold"] == ["24/7", "3.429"]  # the list literal, as answer_dict_val.json
    assert task.request(math).prompt == "<image>\nWhat is 24/7?\nAnswer the question directly. "


def test_end_to_end_hand_checked(mmmu_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    record = evaluate(
        "mmmu", ScriptedAdapter(ANSWERS), data_dir=mmmu_dir, output_dir=tmp_path / "r"
    )
    m = record.metrics
    assert m["accuracy"] == 80.0  # 4 of 5
    assert m["per_subject"] == {"Art": 100.0, "Math": 100.0, "Physics": 0.0}
    assert m["per_discipline"] == {"Art and Design": 100.0, "Science": pytest.approx(200 / 3)}
    assert m["n_questions"] == 5
    parsed = {x["id"]: x["scores"]["parsed"] for x in stored_samples(tmp_path / "r", record)}
    assert parsed["validation_Art_1"] == "B" and parsed["validation_Art_2"] == "A"
    assert parsed["validation_Math_1"] == [3.5]  # the tail "3.5" and the number 3.5, deduplicated


def test_random_fallback_follows_seed_and_sample_not_batch(tmp_path: Path, monkeypatch) -> None:
    from janus_eval.api import evaluate

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    rows = [row(f"validation_Music_{i}", f"Tune {i}?", "A", "['do', 're', 'mi', 'fa']")
            for i in range(1, 9)]  # fmt: skip
    root = write_mmmu(tmp_path / "data", rows)
    adapter = ScriptedAdapter({"Tune": "hmm"})  # never a candidate: always the fallback

    def draws(seed: int, batch_size: int, out: str, **kw) -> dict[str, str]:
        rec = evaluate("mmmu", adapter, data_dir=root, output_dir=tmp_path / out, seed=seed,
                       batch_size=batch_size, **kw)  # fmt: skip
        return {x["id"]: x["scores"]["parsed"] for x in stored_samples(tmp_path / out, rec)}

    first = draws(0, 8, "a")
    assert draws(0, 3, "b") == first  # batch size changes nothing
    assert len(set(first.values())) > 1  # a draw per sample, not one per run
    assert draws(1, 8, "c") != first  # the run seed does change them
    for i in range(2):  # nor does sharding
        evaluate("mmmu", adapter, data_dir=root, output_dir=tmp_path / "d", shard=(i, 2))
    from janus_eval.merge import merge_runs

    run_dir = next((tmp_path / "d").iterdir())
    merged = merge_runs([run_dir])
    assert (
        merged.metrics
        == evaluate("mmmu", adapter, data_dir=root, output_dir=tmp_path / "a").metrics
    )
    lines = [
        json.loads(x)
        for p in run_dir.glob("samples.shard-*.jsonl")
        for x in p.read_text().splitlines()
    ]
    assert {x["id"]: x["scores"]["parsed"] for x in lines} == first


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (
            row("validation_Cooking_1", "q", "A", "['x']"),
            "does not name an MMMU subject ('Cooking')",
        ),
        (row("validation_Art_9", "q", "D", "['x', 'y']"), "answer 'D' is not one of ['A', 'B']"),
        (row("validation_Art_9", "q", "A", "['x', 'y'"), "is not a list literal"),
        (row("validation_Art_9", "q", "A", "['x']", n_images=0), "has no readable image"),
    ],
)
def test_bad_records(tmp_path: Path, bad: dict, needle: str) -> None:
    root = write_mmmu(tmp_path / "data", [ROWS[0], bad])
    with pytest.raises(UserError) as err:
        registry.make_task("mmmu").samples(root, None)
    assert "validation-00000-of-00001.parquet row" in str(err.value) and needle in str(err.value)
    skipping = registry.make_task("mmmu", {"skip_bad_records": "true"})
    assert [s.id for s in skipping.samples(root, None)] == ["validation_Art_1"]


def test_hub_sources(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/MMMU's single table (a local save_to_disk copy), and MMMU/MMMU's 30 subject
    configs asked for one by one."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    write_mmmu(tmp_path / "snap", ROWS)
    table = datasets.concatenate_datasets(
        [
            datasets.Dataset.from_parquet(str(p))
            for p in sorted((tmp_path / "snap").rglob("*.parquet"))
        ]
    )
    datasets.DatasetDict({"validation": table}).save_to_disk(str(tmp_path / "hub"))
    samples = registry.make_task("mmmu", {"source": str(tmp_path / "hub")}).samples(None, None)
    assert len(samples) == 5 and len(samples[0].data["images"]) in (1, 2)

    import janus_eval.tasks.mmmu as module

    from janus_eval.metrics.mmmu import SUBJECTS

    asked = []
    subjects = ["_".join(i.split("_")[1:-1]) for i in table["id"]]

    def per_subject(source, split, *, what, config=None):
        asked.append((source, split, config))
        return table.select([i for i, x in enumerate(subjects) if x == config])

    monkeypatch.setattr(module, "load_table", per_subject)
    samples = registry.make_task("mmmu", {"source": "MMMU/MMMU"}).samples(None, None)
    assert asked == [("MMMU/MMMU", "validation", s) for s in SUBJECTS] and len(samples) == 5


def test_end_to_end_dummy_and_shards(mmmu_dir: Path, tmp_path: Path) -> None:
    record = shards_merge_to_whole("mmmu", mmmu_dir, tmp_path)
    assert record.n_samples == 5


def test_sigkill_then_resume(tmp_path: Path, cli) -> None:
    rows = [row(f"validation_Math_{i}", f"Sum {i}?", str(i)) for i in range(1, 13)]
    root = write_mmmu(tmp_path / "data", rows)
    sigkill_and_resume(cli, dummy_run("mmmu", root), tmp_path, total=12, kill_after=4)


def test_end_to_end_janus_tiny(mmmu_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("mmmu", mmmu_dir, tmp_path / "runs", limit=1)
    assert record.n_samples == 1 and record.model["name"] == "janus-tiny"
    (line,) = lines
    assert len(line["request"]["images"]) == 2  # both images of the Art question reach the model


def test_broken_or_missing_parquet(tmp_path: Path) -> None:
    (tmp_path / "Art").mkdir()
    with pytest.raises(UserError, match="no validation-\\*.parquet files below"):
        registry.make_task("mmmu").samples(tmp_path, None)
    (tmp_path / "Art" / "validation-00000-of-00001.parquet").write_bytes(b"not parquet")
    with pytest.raises(
        UserError, match="cannot read .*validation-00000-of-00001.parquet as parquet"
    ):
        registry.make_task("mmmu").samples(tmp_path, None)
