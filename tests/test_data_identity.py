"""A run's identity rests on its data's content, never on where the data lie (issue 19):
two models on the same data compare without a data warning; the same data copied elsewhere keep
the run id, resume and merge; an edited label or image is named by `compare`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_report_fixtures import toy_task  # noqa: F401 (fixture)

from janus_eval.api import evaluate
from janus_eval.merge import merge_runs
from janus_eval.report.compare import compare_runs

DEMO = Path(__file__).resolve().parents[1] / "janus_eval" / "demo_data" / "pope"


def _copy(src: Path, dst: Path) -> Path:
    """As `cp -r` copies: contents only, fresh mtimes (not shutil.copy2)."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)
    return dst


def _pope(model_path: str, data: Path, out: Path, **kw):
    return evaluate("pope", "dummy", model_path=model_path, data_dir=data, output_dir=out, **kw)


def _keys(run_dir: Path) -> dict[str, str]:
    lines = [json.loads(x) for f in sorted(run_dir.glob("samples*.jsonl")) for x in f.open()]
    return {line["id"]: line["key"] for line in lines}


@pytest.fixture
def data_a(tmp_path: Path) -> Path:
    return _copy(DEMO, tmp_path / "mnt-a" / "pope")


def test_two_models_on_the_same_data_compare_without_a_data_warning(tmp_path, data_a, cli):
    out = tmp_path / "runs"
    one = _pope("ckpt/model-one", data_a, out)
    two = _pope("ckpt/model-two", _copy(data_a, tmp_path / "mnt-b" / "pope"), out)
    assert one.run_id != two.run_id
    assert one.config["data"]["fingerprint"] == two.config["data"]["fingerprint"]
    assert compare_runs(out / one.run_id, out / two.run_id).warnings == []
    shown = cli("compare", str(out / one.run_id), str(out / two.run_id))
    assert shown.returncode == 0, shown.stderr
    assert "warning" not in shown.stdout and "RESULT: PASS" in shown.stdout


def test_copied_data_keeps_run_id_and_keys_and_resumes(tmp_path, data_a):
    out = tmp_path / "runs"
    first = _pope("ckpt/m", data_a, out)
    keys = _keys(out / first.run_id)
    data_b = _copy(data_a, tmp_path / "elsewhere" / "copy")
    again = _pope("ckpt/m", data_b, out)
    assert again.run_id == first.run_id
    assert (again.n_reused, again.n_computed) == (24, 0)
    assert _keys(out / again.run_id) == keys
    assert again.config["data"]["data_dir"] == str(data_b)  # recorded, not part of the id
    # images found through a location option are the same images: same run
    images_elsewhere = _pope(
        "ckpt/m", data_a, out, task_options={"image_dir": str(data_b / "val2014")}
    )
    assert images_elsewhere.run_id == first.run_id and images_elsewhere.n_reused == 24


def test_slices_from_machines_mounting_the_data_elsewhere_merge(tmp_path, data_a):
    whole = _pope("ckpt/m", data_a, tmp_path / "whole")
    data_b = _copy(data_a, tmp_path / "node1" / "data")
    part0 = _pope("ckpt/m", data_a, tmp_path / "node0-out", shard=(0, 2))
    part1 = _pope("ckpt/m", data_b, tmp_path / "node1-out", shard=(1, 2))
    assert part0.run_id == part1.run_id == whole.run_id
    merged = merge_runs(
        [tmp_path / "node0-out" / whole.run_id, tmp_path / "node1-out" / whole.run_id],
        output_dir=tmp_path / "merged",
    )
    assert merged.n_samples == 24 and merged.metrics == whole.metrics


def _warnings_after(tmp_path: Path, data: Path, edit, *, in_place: bool = False) -> list[str]:
    """compare's warnings for a run on `data` against one on `data` edited by `edit(folder)`
    (a copy of it, or the folder itself)."""
    out = tmp_path / "runs"
    base = _pope("ckpt/m", data, out)
    target = data if in_place else _copy(data, tmp_path / "edited")
    edit(target)
    cand = _pope("ckpt/other", target, out)
    assert cand.config["data"]["fingerprint"] != base.config["data"]["fingerprint"]
    return compare_runs(out / base.run_id, out / cand.run_id).warnings


def _edit_lines(file: Path, change) -> None:
    lines = file.read_text().splitlines()
    file.write_text("\n".join(change(lines)) + "\n")


def test_an_edited_label_is_named(tmp_path, data_a):
    def relabel(folder: Path) -> None:
        record = json.loads((folder / "coco_pope_random.json").read_text().splitlines()[2])
        assert record["question_id"] == 3 and record["label"] == "yes"
        flipped = json.dumps({**record, "label": "no"})
        _edit_lines(folder / "coco_pope_random.json", lambda ls: [*ls[:2], flipped, *ls[3:]])

    assert _warnings_after(tmp_path, data_a, relabel) == [
        "pope: data differ: 1 of the 24 common samples have different content ('random/3'): "
        "a label, question or image changed between the runs; their scores are still paired "
        "by sample id"
    ]


def test_an_image_edited_in_place_is_named_even_with_its_old_size_and_mtime(tmp_path, data_a):
    def retouch(folder: Path) -> None:
        image = folder / "val2014" / "COCO_val2014_000000000002.jpg"
        st = image.stat()
        raw = bytearray(image.read_bytes())
        raw[-3] ^= 0xFF  # same size, one byte of entropy-coded data changed
        image.write_bytes(bytes(raw))
        os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime put back

    (warning,) = _warnings_after(tmp_path, data_a, retouch, in_place=True)
    # image 2 is asked about twice (questions 2 and 8) in each of the three POPE split files
    assert warning.startswith(
        "pope: data differ: 6 of the 24 common samples have different content "
        "('adversarial/2', 'adversarial/8', 'popular/2' and 3 more)"
    )


def test_missing_samples_are_named(tmp_path, data_a):
    def drop_two(folder: Path) -> None:
        _edit_lines(folder / "coco_pope_popular.json", lambda lines: lines[:-2])

    (warning,) = _warnings_after(tmp_path, data_a, drop_two)
    assert warning.startswith(
        "pope: sample sets differ (baseline 24, candidate 22, common 22): 2 only in the "
        "baseline ('popular/7', 'popular/8')"
    )


# -- the pieces ---------------------------------------------------------------------------------


def test_file_digests_read_once_and_notice_edits(tmp_path, monkeypatch):
    from janus_eval import filehash

    file = tmp_path / "img.bin"
    file.write_bytes(b"abc")
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    first = filehash.FileDigests(tmp_path / "cache")
    assert first.sha256(file) == abc
    first.save()

    def no_reading(path):
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(filehash, "_read_sha256", no_reading)
    assert filehash.FileDigests(tmp_path / "cache").sha256(file) == abc  # from the cache
    st = file.stat()
    file.write_bytes(b"abd")  # same size, same mtime put back: the ctime still moves
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))
    monkeypatch.undo()
    again = filehash.FileDigests(tmp_path / "cache")
    assert again.sha256(file) != abc

    # a hub blob is named by its sha256: never read
    blob = tmp_path / "hub" / "blobs" / ("e" * 64)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"not what the name says")
    (tmp_path / "hub" / "link.jpg").symlink_to(blob)
    assert again.sha256(tmp_path / "hub" / "link.jpg") == "e" * 64


def test_file_digest_cache_keeps_what_another_process_saved(tmp_path):
    from janus_eval.filehash import FileDigests

    for name in ("a", "b"):
        (tmp_path / name).write_bytes(name.encode())
    one, two = FileDigests(tmp_path / "cache"), FileDigests(tmp_path / "cache")
    one.sha256(tmp_path / "a")
    two.sha256(tmp_path / "b")
    one.save()
    two.save()  # merges with what `one` wrote instead of replacing it
    (cache,) = (tmp_path / "cache").glob("*.json")
    assert set(json.loads(cache.read_text())["files"]) == {"a", "b"}


def test_data_ids_count_contents_not_paths(tmp_path):
    from PIL import Image

    from janus_eval.identity import DataIdentity
    from janus_eval.runner import result_key
    from janus_eval.types import Sample, UnderstandRequest

    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "im.jpg").write_bytes(b"same bytes")
    (tmp_path / "z.jpg").write_bytes(b"other bytes")
    ids = DataIdentity()

    def sample(path: Path, label: str = "yes", extra=None) -> tuple[Sample, UnderstandRequest]:
        data = {"label": label, "image": str(path), "ref": path, **(extra or {})}
        return Sample("q1", data, "cat"), UnderstandRequest("Is it?", images=(str(path),))

    x, y = sample(tmp_path / "x" / "im.jpg"), sample(tmp_path / "y" / "im.jpg")
    assert ids.sample_id(*x) == ids.sample_id(*y)
    assert ids.request_view(x[1]) == ids.request_view(y[1])
    assert result_key({}, *x, 0, {}, ids) == result_key({}, *y, 0, {}, ids)
    assert ids.sample_id(*sample(tmp_path / "z.jpg")) != ids.sample_id(*x)
    assert ids.sample_id(*sample(tmp_path / "x" / "im.jpg", "no")) != ids.sample_id(*x)
    embedded = sample(tmp_path / "x" / "im.jpg", extra={"thumb": b"\x00\x01"})
    other = sample(tmp_path / "x" / "im.jpg", extra={"thumb": b"\x00\x02"})
    assert ids.sample_id(*embedded) != ids.sample_id(*other)
    # an image only the request names (the task found it in request()) counts too
    bare = Sample("q1", {"label": "yes"})
    assert ids.sample_id(bare, UnderstandRequest("?", images=(str(tmp_path / "z.jpg"),))) != (
        ids.sample_id(bare, UnderstandRequest("?", images=(str(tmp_path / "x" / "im.jpg"),)))
    )
    red, blue = Image.new("RGB", (2, 2), "red"), Image.new("RGB", (2, 2), "blue")
    assert ids.image_id(red) == ids.image_id(Image.new("RGB", (2, 2), "red"))
    assert ids.image_id(red) != ids.image_id(blue)


def test_a_missing_image_is_one_clear_error(tmp_path):
    from janus_eval.identity import DataIdentity
    from janus_eval.types import Sample, UnderstandRequest, UserError

    gone = tmp_path / "gone.jpg"
    with pytest.raises(UserError, match=r"sample 'q7': cannot read .*gone\.jpg"):
        DataIdentity().prepare([Sample("q7")], [UnderstandRequest("?", images=(str(gone),))])


@pytest.mark.usefixtures("toy_task")
def test_runs_from_before_data_ids_say_they_cannot_tell(tmp_path):
    from test_report_fixtures import correct_samples, write_run

    base = write_run(tmp_path, "old-a", samples=correct_samples([1, 0]))
    cand = write_run(tmp_path, "old-b", samples=correct_samples([1, 1]))
    record = json.loads((cand / "run.json").read_text())
    record["config"]["data"] = {"fingerprint": "keys-with-the-model-in-them"}
    (cand / "run.json").write_text(json.dumps(record))
    (warning,) = compare_runs(base, cand).warnings
    assert "cannot tell whether the samples' content is the same" in warning
    assert "baseline and the candidate" in warning
