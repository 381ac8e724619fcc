"""Hostile data: names that try to leave their folder or collide, images that do not decode,
records of the wrong type. Each is one clear message (exit 2) or, where the task allows it, a
counted skip; nothing is written outside the run, cache and output folders."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import assert_one_clear_error, one_run_dir, run, stored_lines, unprivileged
from janus_eval.model_adapters.dummy import DummyAdapter
from PIL import Image

from janus_eval import registry
from janus_eval.api import evaluate
from janus_eval.metrics.fid.bench import synthesize_folder
from janus_eval.runner import plan_work
from janus_eval.safe_names import check_image_paths, safe_name
from janus_eval.types import ImageRequest, Sample, Task, UserError


def sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- names ----------------------------------------------------------------------------------
def test_plain_names_are_kept_and_others_get_the_hash_of_the_raw_value():
    assert [safe_name(x) for x in ("q000", "a_b", "p-1.5", "00012")] == [
        "q000", "a_b", "p-1.5", "00012"
    ]  # fmt: skip
    assert safe_name("a/b") == "a_b+" + sha16("a/b")
    assert safe_name("COCO_1.JPG") == "coco_1+" + sha16("COCO_1.JPG") + ".jpg"
    assert safe_name("../../etc/passwd") == "_._.._etc_passwd+" + sha16("../../etc/passwd")
    assert safe_name("") == "_+" + sha16("")


def test_no_two_raw_values_share_a_name_and_none_leaves_its_folder():
    raws = ["a/b", "a_b", "A_b", "a\\b", "a+b", "a_b+" + sha16("a/b"), "../../x", "/etc/x",
            ".", "..", ".hidden", "", "x" * 300, "y" * 300, "é", "e", "nul\0x", 12, "12"]  # fmt: skip
    names = [safe_name(r) for r in raws[:-1]]
    assert len(set(names)) == len(names)  # 12 and "12" are one id: both become "12"
    for name in names:
        assert "/" not in name and "\\" not in name and "\0" not in name
        assert not name.startswith(".") and len(name) <= 120
        assert (Path("/base") / name).parent == Path("/base")


def test_image_paths_must_stay_below_images_and_belong_to_one_sample():
    check_image_paths("t", [("a", "a/00000.png"), ("b", "b/00000.png")])
    for bad in ("../x.png", "/x.png", "a/../../x.png", "a\\..\\x.png"):
        with pytest.raises(UserError, match="outside the run's images/"):
            check_image_paths("t", [("a", bad)])
    with pytest.raises(UserError, match="samples 'a' and 'B' would share .*differ only in case"):
        check_image_paths("t", [("a", "b/00000.png"), ("B", "B/00000.png")])


class _RawLayout(Task):
    """A plug-in whose image_relpath uses ids raw: the runner must refuse its runs."""

    name, kind = "raw-layout", "generation"

    def request(self, sample):
        return ImageRequest("p", request_id=sample.id, n=1)

    def image_relpath(self, sample, index):
        return f"{sample.id}/{index}.png"


@pytest.mark.parametrize(
    ("ids", "needle"),
    [(["ok", "../../x"], "outside the run's images/"), (["A", "a"], "would share")],
)
def test_the_runner_refuses_a_layout_that_escapes_or_collides(ids, needle):
    with pytest.raises(UserError, match=needle):
        plan_work(_RawLayout(), [Sample(i) for i in ids], 0, {})


class _IntIds(Task):
    name, kind = "int-ids", "understanding"

    def samples(self, data_dir, limit):
        return [Sample(id=7)]  # type: ignore[arg-type]


def test_a_plugin_sample_id_that_is_not_a_string_is_refused():
    with pytest.raises(UserError, match="sample #0 has id 7 of type int; sample ids must be"):
        plan_work(_IntIds(), _IntIds().samples(None, None), 0, {})


def test_ids_that_sanitise_alike_keep_their_own_images(tmp_path):
    """mjhq30k ids a/b, a_b and A_b (one folder name on macOS): three distinct image files,
    each holding the picture the model made for that id."""
    ids = ["a/b", "a_b", "A_b"]
    data = tmp_path / "mjhq"
    synthesize_folder(data / "mjhq30k_imgs" / "animals", 3, sizes=((48, 48),))
    meta = {i: {"category": "animals", "prompt": f"a picture {n}"} for n, i in enumerate(ids)}
    (data / "meta_data.json").write_text(json.dumps(meta))
    options = {"extractor": "random:2:4", "image_size": 24, "num_workers": 0,
               "stats_cache": str(tmp_path / "stats")}  # fmt: skip
    record = evaluate("mjhq30k", "dummy", data_dir=data, output_dir=tmp_path / "out",
                      task_options=options)  # fmt: skip
    run_dir = tmp_path / "out" / record.run_id
    paths = {line["id"]: line["images"][0] for line in stored_lines(run_dir)}
    assert sorted(paths) == sorted(ids) and len(set(paths.values())) == 3
    pixels = {}
    for sample_id, rel in paths.items():
        assert (run_dir / rel).resolve().is_relative_to(run_dir / "images")
        (own,) = DummyAdapter().generate_images(
            [ImageRequest("x", request_id=sample_id, n=1, size=24)]
        )[0]
        pixels[sample_id] = np.asarray(Image.open(run_dir / rel))
        assert np.array_equal(pixels[sample_id], np.asarray(own))
    assert len({p.tobytes() for p in pixels.values()}) == 3  # the check can tell them apart


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_dataset_names_never_write_outside_the_run_cache_and_output_folders(tmp_path):
    """A POPE copy in the hub layout whose image_source fields climb out with ../, name an
    absolute path, or differ only in case; every file the run writes is listed."""
    import datasets

    escape = tmp_path / "escape"
    sources = ["../" * 40 + str(escape / "rel").lstrip("/"), str(escape / "abs"), "..",
               "COCO_val2014_000000000001", "coco_val2014_000000000001"]  # fmt: skip
    pictures = []
    for n in range(len(sources)):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (40 * n, 10, 200 - 30 * n)).save(buf, format="PNG")
        pictures.append(buf.getvalue())
    features = datasets.Features({
        "question_id": datasets.Value("string"), "question": datasets.Value("string"),
        "answer": datasets.Value("string"), "image_source": datasets.Value("string"),
        "image": datasets.Image(), "category": datasets.Value("string"),
    })  # fmt: skip
    rows = {"question_id": [str(n) for n in range(len(sources))],
            "question": [f"Is there a thing {n}?" for n in range(len(sources))],
            "answer": ["yes"] * len(sources), "image_source": sources,
            "image": [{"bytes": b, "path": None} for b in pictures],
            "category": ["random"] * len(sources)}  # fmt: skip
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(tmp_path / "hub"))
    for name in ("work", "home"):
        (tmp_path / name).mkdir()
    out, cache = tmp_path / "out", tmp_path / "cache"
    before = _files(tmp_path)
    result = run(
        ["run", "--task", "pope", "--model", "dummy", "-O", f"source={tmp_path / 'hub'}",
         "-O", "split=random", "--output-dir", str(out), "--no-progress"],
        cwd=tmp_path / "work",
        env={"JANUS_EVAL_CACHE": str(cache), "HOME": str(tmp_path / "home"),
             "HF_HOME": str(cache / "hf"), "HF_DATASETS_CACHE": str(cache / "hf")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = _files(tmp_path) - before
    assert written and all(p.is_relative_to(out) or p.is_relative_to(cache) for p in written)
    assert not escape.exists()
    lines = stored_lines(one_run_dir(out))
    assert len(lines) == len(sources)
    for line in lines:  # every record got its own picture, even under a shared name
        image = Path(line["request"]["images"][0])
        assert image.is_relative_to(cache / "images")
        assert image.read_bytes() == pictures[int(line["id"])]


# -- images that do not decode --------------------------------------------------------------
def _bomb_png() -> bytes:
    """A valid PNG whose header claims 20000 x 20000 pixels (PIL refuses more than ~179M)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", 20000, 20000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, format="JPEG")
    return buf.getvalue()


BAD = {
    "truncated": lambda: _jpeg((9, 99, 199))[:300],
    "not-an-image": lambda: b"this is not an image",
    "bomb": _bomb_png,
    "unreadable": lambda: _jpeg((1, 2, 3)),
}


def _pope(root: Path, bad: list[str]) -> Path:
    """Two good records, then one per bad kind with a longer question (batches run shortest
    first, so the good ones are stored before the bad image is reached)."""
    (root / "val2014").mkdir(parents=True)
    lines = []
    for n, kind in enumerate(["good", "good", *bad]):
        name = f"COCO_val2014_{n:012d}.jpg"
        path = root / "val2014" / name
        path.write_bytes(_jpeg((30 * n, 60, 90)) if kind == "good" else BAD[kind]())
        if kind == "unreadable":
            path.chmod(0)
        text = "Is there a dog?" if kind == "good" else f"Is there a dog or a cat in photo {n}?"
        lines.append({"question_id": n, "image": name, "text": text, "label": "yes"})
    (root / "coco_pope_random.json").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return root


@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_image_is_bad_input_naming_file_and_record(tmp_path, kind):
    prefix = unprivileged() if kind == "unreadable" else []
    data = _pope(tmp_path / "pope", [kind])
    out = tmp_path / "out"
    result = run(["run", "--task", "pope", "--model", "dummy", "--data-dir", str(data),
                  "-O", "split=random", "--batch-size", "1", "--output-dir", str(out),
                  "--no-progress"], prefix=prefix)  # fmt: skip
    assert "resume" not in result.stderr  # the same command would fail the same way
    if kind == "unreadable":  # found up front, when the data's content is fingerprinted
        assert_one_clear_error(result, "sample '2'", "COCO_val2014_000000000002.jpg",
                               "(Permission denied)")  # fmt: skip
        return
    why = {"bomb": "too large to decode safely"}
    assert_one_clear_error(result, "sample '2'", "COCO_val2014_000000000002.jpg",
                           why.get(kind, "cannot be decoded"), "skip_bad_records=true",
                           "2 result(s) stored in", "are kept")  # fmt: skip
    assert len(stored_lines(one_run_dir(out))) == 2


def test_skip_bad_records_skips_and_counts_undecodable_images(tmp_path):
    data = _pope(tmp_path / "pope", list(BAD))
    out = tmp_path / "out"
    result = run(["run", "--task", "pope", "--model", "dummy", "--data-dir", str(data),
                  "-O", "split=random", "-O", "skip_bad_records=true", "--output-dir", str(out),
                  "--no-progress"], prefix=unprivileged())  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads((one_run_dir(out) / "run.json").read_text())
    assert record["n_samples"] == 2 and record["n_skipped"] == len(BAD)
    assert record["metrics"]["n_skipped_records"] == len(BAD)


def test_an_unknown_device_is_refused_before_the_model_loads(tmp_path):
    cache = tmp_path / "cache"
    result = run(["run", "--task", "pope", "--model", "janus-tiny", "--demo", "--device", "gpu",
                  "--output-dir", str(tmp_path / "out")], env={"JANUS_EVAL_CACHE": str(cache)})  # fmt: skip
    assert_one_clear_error(result, "--device 'gpu': not a device", "cpu, cuda or cuda:N")
    assert not cache.exists()  # janus-tiny was not even written, let alone loaded
    assert "resume" not in result.stderr


# -- records of the wrong type ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [("text", None, "field 'text' is null or absent, expected text"),
     ("question_id", 1.5, "field 'question_id' is float 1.5, expected a string or an integer"),
     ("image", ["a.jpg"], "field 'image' is list")],
)  # fmt: skip
def test_record_fields_are_type_checked_naming_file_and_line(tmp_path, field, value, needle):
    data = _pope(tmp_path / "pope", [])
    path = data / "coco_pope_random.json"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    records[1][field] = value
    path.write_text("".join(json.dumps(x) + "\n" for x in records))
    task = registry.make_task("pope", {"split": "random"})
    with pytest.raises(UserError, match="coco_pope_random.json line 2") as info:
        task.samples(data, None)
    assert needle in str(info.value)
    skipping = registry.make_task("pope", {"split": "random", "skip_bad_records": "true"})
    assert [s.data["question"] for s in skipping.samples(data, None)] == ["Is there a dog?"]
    assert len(skipping.skipped) == 1


def test_geneval_score_needs_no_network_for_class_names(tmp_path, cli):
    """It used to try a download of object_names.txt and then advise a --data-dir option that
    geneval-score does not have; the names are built in now."""
    (tmp_path / "images").mkdir()
    result = cli("geneval-score", str(tmp_path / "images"), env={"HF_HUB_OFFLINE": "1"})
    assert_one_clear_error(result, "no prompt folders")
    assert "--data-dir" not in result.stderr and "object_names" not in result.stderr
