"""The GenEval task's data side: prompts, validation, layout, file lookup and download, with no
model loaded."""

from __future__ import annotations

import collections
import hashlib
import io
import json
import shutil

import pytest
from janus_eval.tasks.geneval import data as task_module
from janus_eval.tasks.geneval.detection.object_names import (
    OBJECT_NAMES_SHA256,
    geneval_object_names,
)

from janus_eval import registry
from janus_eval.types import ImageRequest, UserError

NAMES = ["car", "cow", "clock", "teddy bear", "dog"]
GOOD = {
    "tag": "single_object",
    "include": [{"class": "car", "count": 1}],
    "prompt": "a photo of a car",
}


def make(**options):
    return registry.make_task("geneval", options)


def write_data(d, lines, names=NAMES):
    d.mkdir(parents=True, exist_ok=True)
    (d / "evaluation_metadata.jsonl").write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    )
    (d / "object_names.txt").write_text("\n".join(names) + "\n")
    return d


@pytest.fixture
def official(shared_data):
    d = shared_data / "geneval"
    if not (d / "evaluation_metadata.jsonl").is_file() or not (d / "object_names.txt").is_file():
        pytest.skip(f"official GenEval files not present in {d}")
    return d


def test_reads_the_553_official_prompts(official):
    samples = list(make().samples(official, None))
    assert len(samples) == 553
    assert [s.id for s in samples[:2]] + [samples[-1].id] == ["00000", "00001", "00552"]
    counts = collections.Counter(s.category for s in samples)
    assert counts == {
        "single_object": 80,
        "two_object": 99,
        "counting": 80,
        "colors": 94,
        "position": 100,
        "color_attr": 100,
    }
    assert samples[0].data["metadata"] == json.loads(
        (official / "evaluation_metadata.jsonl").read_text().splitlines()[0]
    )
    assert len(make().object_names(official)) == 80
    assert [s.id for s in make().samples(official, 3)] == ["00000", "00001", "00002"]


def test_official_files_match_the_pinned_hashes(official):
    name, _, sha = task_module.METADATA
    assert hashlib.sha256((official / name).read_bytes()).hexdigest() == sha
    names = (official / "object_names.txt").read_bytes()
    assert hashlib.sha256(names).hexdigest() == OBJECT_NAMES_SHA256


def test_built_in_object_names_are_the_official_file(official, tmp_path):
    """Without object_names.txt beside the data, the built-in names are used: the official
    file line for line (no download is tried)."""
    official_names = (official / "object_names.txt").read_text().splitlines()
    assert geneval_object_names() == official_names
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(official / "evaluation_metadata.jsonl", d)
    task = make()
    assert len(list(task.samples(d, 5))) == 5 and task.object_names() == official_names


def test_request_and_layout(tmp_path):
    d = write_data(tmp_path / "data", [GOOD])
    t = make(images_per_prompt="3", cfg_weight="4.5")
    (sample,) = t.samples(d, None)
    req = t.request(sample)
    assert req == ImageRequest(prompt="a photo of a car", request_id="00000", n=3, cfg_weight=4.5)
    assert make().request(sample).cfg_weight is None  # auto: the model's own default
    with pytest.raises(UserError, match="cfg_weight='strong'"):
        make(cfg_weight="strong")
    assert req.seed == 0  # the runner puts the run's seed in
    assert t.image_relpath(sample, 2) == "00000/samples/00002.png"
    t.on_images_saved(sample, tmp_path / "images")
    written = (tmp_path / "images" / "00000" / "metadata.jsonl").read_text()
    assert written == json.dumps(GOOD) and json.loads(written) == GOOD  # as json.dump writes it


def test_geneval_checkout_layout_and_explicit_paths(tmp_path):
    repo = tmp_path / "geneval"
    write_data(repo / "prompts", [GOOD])
    (repo / "prompts" / "object_names.txt").rename(repo / "evaluation_names.tmp")
    (repo / "evaluation").mkdir()
    (repo / "evaluation_names.tmp").rename(repo / "evaluation" / "object_names.txt")
    assert len(list(make().samples(repo, None))) == 1  # prompts/ and evaluation/ found
    t = make(
        metadata=str(repo / "prompts" / "evaluation_metadata.jsonl"),
        object_names=str(repo / "evaluation" / "object_names.txt"),
    )
    assert len(list(t.samples(None, None))) == 1
    with pytest.raises(UserError, match="metadata=.*not found"):
        list(make(metadata=str(tmp_path / "nope.jsonl")).samples(None, None))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"tag": "single_object", "include": [', "line 2: not valid JSON"),
        ({"include": [{"class": "car", "count": 1}], "prompt": "p"}, "line 2: missing .*'tag'"),
        ({"tag": "colors", "prompt": "p"}, "line 2: missing .*'include'"),
        ({"tag": "t", "include": [{"class": "car"}], "prompt": "p"}, "include\\[0\\].*count"),
        (
            {"tag": "t", "include": [{"class": "bus", "count": 1}], "prompt": "p"},
            "'bus' is not one of the detector's classes",
        ),
        (
            {"tag": "t", "include": [{"class": "car", "count": 1, "color": "teal"}], "prompt": "p"},
            "colour 'teal'",
        ),
        (
            {
                "tag": "position",
                "include": [{"class": "car", "count": 1, "position": ["left of", 0]}],
                "prompt": "p",
            },
            "earlier include",
        ),
        ({"tag": "t", "include": [], "exclude": {"class": "car"}, "prompt": "p"}, "exclude"),
        ("[1, 2]", "line 2: expected a JSON object"),
    ],
)
def test_bad_metadata_lines_name_file_and_line(tmp_path, line, message):
    d = write_data(tmp_path, [GOOD, line])
    with pytest.raises(UserError, match=message) as info:
        list(make().samples(d, None))
    assert "evaluation_metadata.jsonl" in str(info.value)


def test_blank_lines_are_skipped_and_ids_follow_records(tmp_path):
    d = write_data(tmp_path, [GOOD, "", GOOD])
    assert [s.id for s in make().samples(d, None)] == ["00000", "00001"]


def test_missing_files_offline_say_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as info:
        list(make().samples(tmp_path / "empty", None))
    text = str(info.value)
    assert "evaluation_metadata.jsonl" in text and "github.com/djghosh13/geneval" in text
    assert "offline" in text and "--data-dir" in text


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_when_online_is_cached_and_checked(tmp_path, monkeypatch):
    """Only the prompts are fetched (object names are built in), into $JANUS_EVAL_CACHE."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("JANUS_EVAL_OFFLINE", raising=False)
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    body = (json.dumps(GOOD) + "\n").encode()
    files = {task_module.METADATA[1]: body}
    urls = []

    def urlopen(url, timeout):
        urls.append(url)
        return FakeResponse(files[url])

    monkeypatch.setattr(task_module.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(
        task_module, "METADATA", (*task_module.METADATA[:2], hashlib.sha256(body).hexdigest())
    )
    assert len(list(make().samples(None, None))) == 1
    assert len(list(make().samples(None, None))) == 1  # second time from the cache
    assert urls == [task_module.METADATA[1]]
    cached = tmp_path / "cache" / "geneval" / "evaluation_metadata.jsonl"
    assert cached.read_bytes() == body

    cached.unlink()
    files[task_module.METADATA[1]] = b"tampered\n"
    with pytest.raises(UserError, match="SHA-256"):
        list(make().samples(None, None))


def test_options_and_errors():
    assert make().options["detector"] == "official"
    assert make(detector="mask2former-swin-s (official GenEval)").options["detector"] == "official"
    assert (
        make(detector="mask2former-hf", detector_weights="ab", clip_weights="cd").options[
            "detector"
        ]
        == "mask2former-hf"
    )  # a task rebuilt from a run's recorded config (merge)
    assert make().options["clip_model"] == "ViT-L-14-quickgelu"
    with pytest.raises(UserError, match="unknown GenEval detector"):
        make(detector="yolo")
    with pytest.raises(UserError, match="no option"):
        make(treshold="0.5")
    t = registry.task_class("geneval")
    assert t.kind == "generation" and t.primary_metric == "overall"
    assert t.leaderboard_keys == ("detector", "detector_weights")
    from janus_eval.tasks.geneval.detection.official import CHECKPOINT_URL

    assert CHECKPOINT_URL in t.data_help  # `janus-eval tasks geneval` says where to get it


def test_aggregate_expands_images_and_finalize_writes_official_results(tmp_path):
    d = write_data(tmp_path / "data", [GOOD, {**GOOD, "prompt": "a car"}])
    t = make()
    samples = list(t.samples(d, None))
    scored = [
        {
            "tag": "single_object",
            "prompt": "a photo of a car",
            "metadata": json.dumps(GOOD),
            "correct": [True, False],
            "reasons": ["", "expected car>=1, found 0"],
            "accuracy": 0.5,
            "any_correct": True,
            "details": [{"car": [[0, 0, 5, 5, 0.9]]}, {}],
        },
        {
            "tag": "colors",
            "prompt": "a car",
            "metadata": json.dumps({**GOOD, "prompt": "a car"}),
            "correct": [False, False],
            "reasons": ["x", "y"],
            "accuracy": 0.0,
            "any_correct": False,
            "details": [{}, {}],
        },
    ]
    metrics = t.aggregate(scored)
    assert metrics["per_tag"] == {"single_object": 0.5, "colors": 0.0}
    assert metrics["overall"] == 0.25 and metrics["correct_prompts"] == 0.5
    t.finalize(tmp_path, samples, scored)
    lines = [json.loads(x) for x in (tmp_path / "geneval_results.jsonl").read_text().splitlines()]
    assert [x["filename"] for x in lines][:2] == [
        "images/00000/samples/00000.png",
        "images/00000/samples/00001.png",
    ]
    assert set(lines[0]) == {
        "filename",
        "tag",
        "prompt",
        "correct",
        "reason",
        "metadata",
        "details",
    }
    assert json.loads(lines[0]["details"]) == {"car": [[0, 0, 5, 5, 0.9]]}
    html = (tmp_path / "geneval_grid.html").read_text()
    assert html.index("single_object") < html.index("colors")
    assert html.count("<img") == 4 and html.count("&#10007;") == 3
    assert "expected car&gt;=1, found 0" in html
