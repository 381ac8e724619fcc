"""The `mmbench` task: VLMEvalKit's TSV (base64 images, short image references, CircularEval
rotations at index + k*1e6), the hub layout (a local `datasets` copy), bad records, the test
submission file, and end-to-end runs through janus_eval.api.evaluate."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from understanding_helpers import ScriptedAdapter, run_janus_tiny, stored_samples

from janus_eval import registry
from janus_eval.types import UserError


def png_b64(color: tuple[int, int, int]) -> str:
    """A 16x16 PNG whose first 64 base64 characters (signature, header, a long text chunk) are
    the same for every colour, and whose length is the same for the colours used here."""
    info = PngInfo()
    info.add_text("comment", "x" * 80)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="PNG", pnginfo=info)
    return base64.b64encode(buf.getvalue()).decode()


CAT_IMG, SKY_IMG = png_b64((200, 100, 0)), png_b64((201, 100, 0))
NAN = float("nan")
COLUMNS = [
    "index",
    "question",
    "hint",
    "A",
    "B",
    "C",
    "D",
    "answer",
    "category",
    "image",
    "source",
    "l2-category",
    "comment",
    "split",
]
ANIMALS = ["cat", "dog", "bird", "fish"]


def dev_rows() -> list[dict]:
    """Three questions: #0 with three rotated copies, #1 with one (2 options, a hint, an image
    given as a reference to row 0), #2 alone."""
    rows = []
    for k in range(4):  # rotation k moves every option k places; "cat" is the answer
        opts = ANIMALS[k:] + ANIMALS[:k]
        rows.append(
            dict(
                index=k * 1_000_000,
                question="What animal is this?",
                hint=NAN,
                **dict(zip("ABCD", opts)),
                answer="ABCD"[opts.index("cat")],
                category="object_localization",
                image=CAT_IMG if k == 0 else "0",
                **{"l2-category": "finegrained_perception (instance-level)"},
            )
        )
    for k, (a, b, ans) in enumerate([("sun", "snow", "A"), ("snow", "sun", "B")]):
        rows.append(
            dict(
                index=1 + k * 1_000_000,
                question="Which is warmer?",
                hint="Look at the sky.",
                A=a,
                B=b,
                C=NAN,
                D=NAN,
                answer=ans,
                category="physical_property_reasoning",
                image="0",
                **{"l2-category": "attribute_reasoning"},
            )
        )
    rows.append(
        dict(
            index=2,
            question="How many suns?",
            hint=NAN,
            A="one",
            B="two",
            C="three",
            D=NAN,
            answer="B",
            category="image_scene",
            image=SKY_IMG,
            **{"l2-category": "coarse_perception"},
        )
    )
    for r in rows:
        r.update(source="fixture", comment=NAN, split="dev")
    return rows


def write_tsv(path: Path, rows: list[dict], drop: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in drop]).to_csv(
        path, sep="\t", index=False
    )
    return path


@pytest.fixture
def dev_dir(tmp_path: Path) -> Path:
    write_tsv(tmp_path / "mmb" / "MMBench_DEV_EN.tsv", dev_rows())
    return tmp_path / "mmb"


def test_tsv_samples_prompts_and_image_references(dev_dir: Path) -> None:
    task = registry.make_task("mmbench")
    samples = {s.id: s for s in task.samples(dev_dir, None)}
    assert list(samples) == ["0", "1000000", "2000000", "3000000", "1", "1000001", "2"]
    assert samples["1"].data["choices"] == {"A": "sun", "B": "snow"}  # NaN options dropped
    assert samples["0"].data["image"] == base64.b64decode(CAT_IMG)
    assert samples["1"].data["image"] == samples["0"].data["image"]  # short cell = reference
    # Same first 64 characters and length: still decoded per row, never mixed up.
    assert len(CAT_IMG) == len(SKY_IMG) and CAT_IMG[:64] == SKY_IMG[:64]
    assert samples["2"].data["image"] == base64.b64decode(SKY_IMG)
    assert task.request(samples["0"]).prompt == (
        "<image>\nWhat animal is this?\nA. cat\nB. dog\nC. bird\nD. fish\n\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert task.request(samples["1"]).prompt == (
        "<image>\nHint: Look at the sky.\nWhich is warmer?\nA. sun\nB. snow\n\n"
        "Answer with the option's letter from the given choices directly."
    )
    assert task.request(samples["1"]).images == (base64.b64decode(CAT_IMG),)


def test_limit_counts_questions_with_all_rotations(dev_dir: Path) -> None:
    samples = registry.make_task("mmbench").samples(dev_dir, 2)
    assert [s.id for s in samples] == ["0", "1000000", "2000000", "3000000", "1", "1000001"]


@pytest.mark.parametrize(
    ("image", "needle"),
    [
        ("!!!!" * 30, "broken base64 image"),
        (base64.b64encode(b"not an image at all, just text" * 4).decode(), "not an image"),
        ("77", "reference to index 77"),
    ],
)
def test_bad_images_name_file_and_row(tmp_path: Path, image: str, needle: str) -> None:
    rows = dev_rows()
    rows[-1]["image"] = image
    path = write_tsv(tmp_path / "MMBench_DEV_EN.tsv", rows)
    with pytest.raises(UserError) as err:
        registry.make_task("mmbench").samples(tmp_path, None)
    msg = str(err.value)
    assert str(path) in msg and "index 2" in msg and needle in msg
    skipping = registry.make_task("mmbench", {"skip_bad_records": "true"})
    assert len(skipping.samples(tmp_path, None)) == 6 and skipping.skipped[0][0] == "2"


def test_duplicate_index_and_bad_answer(tmp_path: Path) -> None:
    rows = dev_rows()
    write_tsv(tmp_path / "MMBench_DEV_EN.tsv", rows + [dict(rows[-1])])
    with pytest.raises(UserError, match="index appears twice"):
        registry.make_task("mmbench").samples(tmp_path, None)
    rows[-1]["answer"] = "D"  # D is empty for this question
    write_tsv(tmp_path / "MMBench_DEV_EN.tsv", rows)
    with pytest.raises(UserError, match="answer 'D' is not one of the options"):
        registry.make_task("mmbench").samples(tmp_path, None)


def test_test_file_scored_as_dev_and_empty_file_are_clear_errors(tmp_path: Path) -> None:
    """A test-split TSV (no answer column) read with the default split=dev is one clear error
    naming the fix, not a per-row 'fix or remove the record'; an empty file is a UserError."""
    path = write_tsv(tmp_path / "MMBench_TEST_EN.tsv", dev_rows(), drop=("answer",))
    with pytest.raises(UserError, match="no 'answer' column.*split=test") as err:
        registry.make_task("mmbench").samples(path, None)
    assert str(path) in str(err.value)
    skipping = registry.make_task("mmbench", {"skip_bad_records": "true"})
    with pytest.raises(UserError, match="no 'answer' column"):
        skipping.samples(path, None)
    assert len(registry.make_task("mmbench", {"split": "test"}).samples(path, None)) == 7
    (tmp_path / "MMBench_DEV_EN.tsv").write_text("")
    with pytest.raises(UserError, match="cannot read"):
        registry.make_task("mmbench").samples(tmp_path, None)


def test_end_to_end_circular_eval_hand_checked(dev_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    adapter = ScriptedAdapter({
        "What animal": "cat",  # option text: right in all four rotations -> question right
        "warmer": "A",  # right in the original, wrong in the rotation -> question wrong
        "How many": "(B) two",  # right
    })  # fmt: skip
    record = evaluate("mmbench", adapter, data_dir=dev_dir, output_dir=tmp_path / "runs")
    m = record.metrics
    assert m["accuracy"] == pytest.approx(200 / 3)
    assert m["per_category"] == {
        "image_scene": 100.0,
        "object_localization": 100.0,
        "physical_property_reasoning": 0.0,
    }
    assert m["per_l2_category"] == {"AR": 0.0, "CP": 100.0, "FP-S": 100.0}
    assert m["n_questions"] == 3 and m["n_rows"] == 7 and m["n_skipped_records"] == 0
    assert "option's letter" in record.prompt["example"]


@pytest.mark.parametrize(
    ("scorer", "accuracy", "per_l2"),
    [
        # 2cf2a36: "I think the picture shows a cat" (31 characters) is longer than twice the
        # option texts (2 * 14), so no text matching: question 0 is unresolved, hence wrong
        (None, 66.66666666666666, {"AR": 100.0, "CP": 100.0, "FP-S": 0.0}),
        ("vlmevalkit-18fc37a", 100.0, {"AR": 100.0, "CP": 100.0, "FP-S": 100.0}),
    ],
)
def test_end_to_end_scorer_revisions(dev_dir: Path, tmp_path: Path, scorer, accuracy, per_l2):
    from janus_eval.api import evaluate

    adapter = ScriptedAdapter({
        "What animal": "I think the picture shows a cat",
        "warmer": "sun",  # option text: right in both rotations
        "How many": "(B) two",
    })  # fmt: skip
    options = {"scorer": scorer} if scorer else {}
    record = evaluate(
        "mmbench", adapter, data_dir=dev_dir, output_dir=tmp_path / "runs", task_options=options
    )
    assert record.metrics["accuracy"] == accuracy
    assert record.metrics["per_l2_category"] == per_l2
    name = scorer or "vlmevalkit-2cf2a36"
    assert record.config["task"]["scorer"]["name"] == name
    assert record.config["task"]["scorer"]["commit"].startswith(name.split("-")[1])
    with pytest.raises(UserError, match="unknown scorer"):
        registry.make_task("mmbench", {"scorer": "vlmevalkit"})


def test_end_to_end_dummy(dev_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    record = evaluate(
        "mmbench", "dummy", data_dir=dev_dir / "MMBench_DEV_EN.tsv", output_dir=tmp_path / "runs"
    )
    assert record.n_samples == 7 and record.metrics["n_questions"] == 3
    # By hand. The dummy's letters (sha256 of the prompt, see model_adapters/dummy.py) against
    # the answers: question 0's rotations B/A, C/D, C/C, C/B; question 1's B/A, D/B (D is no
    # option there); question 2's B/B. CircularEval wants every rotation right: only question 2
    # is, so 1 of 3. Bare letters read the same under every VLMEvalKit can_infer revision.
    letters = {x["id"]: x["response"] for x in stored_samples(tmp_path / "runs", record)}
    assert letters == {"0": "B", "1000000": "C", "2000000": "C", "3000000": "C", "1": "B",
                       "1000001": "D", "2": "B"}  # fmt: skip
    assert record.metrics["accuracy"] == pytest.approx(100 / 3)
    assert record.metrics["per_category"] == {
        "image_scene": 100.0,
        "object_localization": 0.0,
        "physical_property_reasoning": 0.0,
    }
    options = {1: "AB", 1_000_001: "AB", 2: "ABC"}  # the rest have A-D
    for line in stored_samples(
        tmp_path / "runs", record
    ):  # a letter that is no option of the row reads as None
        letter, scores = line["response"], line["scores"]
        assert scores["pred"] == (
            letter if letter in options.get(scores["index"], "ABCD") else None
        )


@pytest.mark.parametrize("sharded", [False, True])
def test_test_split_writes_submission(tmp_path: Path, sharded: bool) -> None:
    from janus_eval.api import evaluate
    from janus_eval.merge import merge_runs

    rows = [{k: v for k, v in r.items() if k != "answer"} for r in dev_rows()]
    for r in rows:
        r["split"] = "test"
    write_tsv(tmp_path / "data" / "MMBench_TEST_CN.tsv", rows, drop=("answer",))
    kwargs = dict(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "runs",
        task_options={"split": "test", "lang": "cn"},
    )
    if sharded:  # finalize then runs in merge_runs, from the stored scores alone
        for i in range(2):
            evaluate("mmbench", ScriptedAdapter({"": "B"}), shard=(i, 2), **kwargs)
        record = merge_runs([next((tmp_path / "runs").iterdir())])
    else:
        record = evaluate("mmbench", ScriptedAdapter({"": "B"}), **kwargs)
    assert record.metrics == {"n_rows": 7, "n_skipped_records": 0}
    run_dir = tmp_path / "runs" / record.run_id
    xlsx, tsv = (
        run_dir / "mmbench_test_cn_submission.xlsx",
        run_dir / "mmbench_test_cn_submission.tsv",
    )
    try:
        import openpyxl  # noqa: F401

        table = pd.read_excel(xlsx)
    except ImportError:
        assert not xlsx.exists()
        table = pd.read_csv(tsv, sep="\t")
    assert "image" not in table.columns and list(table.columns)[-1] == "prediction"
    assert list(table["index"]) == [0, 1000000, 2000000, 3000000, 1, 1000001, 2]
    assert set(table["prediction"]) == {"B"} and table.loc[0, "question"] == "What animal is this?"


def test_hub_layout_from_local_copy(tmp_path: Path) -> None:
    """lmms-lab/MMBench's columns ('L2-category', images as an Image feature, missing options as
    the string 'nan'), saved locally as a DatasetDict with a 'dev' split."""
    import datasets

    rows = dev_rows()
    table = {c: [] for c in COLUMNS if c != "l2-category"}
    table["L2-category"] = []
    for r in rows:
        for c in COLUMNS:
            value = r[c]
            if c == "image":
                ref = CAT_IMG if value == "0" else value
                value = {"bytes": base64.b64decode(ref), "path": None}
            elif isinstance(value, float):
                value = "nan"
            table["L2-category" if c == "l2-category" else c].append(value)
    features = datasets.Features(
        {
            c: (
                datasets.Image()
                if c == "image"
                else datasets.Value("int64")
                if c == "index"
                else datasets.Value("string")
            )
            for c in table
        }
    )
    ds = datasets.Dataset.from_dict(table, features=features)
    datasets.DatasetDict({"dev": ds}).save_to_disk(str(tmp_path / "hub"))
    task = registry.make_task("mmbench", {"source": str(tmp_path / "hub")})
    hub_copy_checks(task)
    # A snapshot of the hub repo (`huggingface-cli download lmms-lab/MMBench --repo-type
    # dataset --local-dir DIR`): one folder of parquet files per config, named in README.md.
    snap = tmp_path / "snapshot"
    for lang in ("cn", "en"):
        (snap / lang).mkdir(parents=True)
        rows = ds.map(lambda r, lang=lang: {"question": f"[{lang}] {r['question']}"})
        rows.to_parquet(str(snap / lang / "dev-00000-of-00001.parquet"))
    (snap / "README.md").write_text(
        "---\nconfigs:\n"
        + "".join(
            f"- config_name: {c}\n  data_files:\n  - split: dev\n    path: {c}/dev-*\n"
            for c in ("cn", "en")
        )
        + "---\n"
    )
    for lang in ("en", "cn"):
        task = registry.make_task("mmbench", {"source": str(snap), "lang": lang})
        got = hub_copy_checks(task)
        assert got["0"].data["question"] == f"[{lang}] What animal is this?"


def hub_copy_checks(task) -> dict:
    samples = {s.id: s for s in task.samples(None, None)}
    assert len(samples) == 7
    assert samples["1"].data["choices"] == {"A": "sun", "B": "snow"}
    assert samples["1"].data["hint"] == "Look at the sky." and samples["0"].data["hint"] is None
    assert samples["1"].data["l2_category"] == "attribute_reasoning"
    assert samples["1"].data["image"] == base64.b64decode(CAT_IMG)
    return samples


def test_bad_options() -> None:
    with pytest.raises(UserError, match="lang"):
        registry.make_task("mmbench", {"lang": "fr"})
    with pytest.raises(UserError, match="split"):
        registry.make_task("mmbench", {"split": "val"})


def test_end_to_end_janus_tiny(dev_dir: Path, tmp_path: Path) -> None:
    record, lines = run_janus_tiny("mmbench", dev_dir, tmp_path / "runs", limit=1)
    assert record.n_samples == 4 and record.metrics["n_questions"] == 1  # 4 rotations
    # By hand: the random-weight model answers three pseudo-words (" desuve fumemo bememo"):
    # no option letter standing alone and no option text (cat, dog, bird, fish), so no letter
    # can be inferred (under old and current VLMEvalKit rules) and the question is wrong.
    for line in lines:  # base64 images reached the model as bytes
        assert line["request"]["images"][0].startswith("<bytes sha256:")
        words = line["response"].replace(".", " ").split()
        assert len(words) >= 2 and not set(words) & {"A", "B", "C", "D"}, line["response"]
        assert not any(a in line["response"].lower() for a in ANIMALS), line["response"]
        assert line["scores"]["pred"] is None and line["scores"]["hit"] == 0
    assert record.metrics["accuracy"] == 0.0
    assert record.metrics["per_category"] == {"object_localization": 0.0}
