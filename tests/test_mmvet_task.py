"""The `mmvet` task: mm-vet.json with its images and the hub layout, the judge configuration
(exit 2 without one; model and grading rule in the run id), judging through a local HTTP
server, verdicts never bought twice, and end-to-end runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judge_server import FakeJudge
from PIL import Image
from resume_helpers import dummy_run, sigkill_and_resume
from understanding_helpers import (
    ScriptedAdapter,
    run_janus_tiny,
    shards_merge_to_whole,
    stored_samples,
)

from janus_eval import registry
from janus_eval.metrics.mmvet import RETRY_SUFFIX
from janus_eval.report.records import task_label
from janus_eval.types import UserError

QUESTIONS = {
    "v1_0": {"imagename": "v1_0.png", "capability": ["ocr", "math"], "question": "What is x?", "answer": "-1<AND>-5"},
    "v1_1": {"imagename": "v1_1.jpg", "capability": ["rec"], "question": "What animal is it?", "answer": "cat<OR>kitten"},
    "v1_2": {"imagename": "v1_2.jpg", "capability": ["rec", "know", "gen"], "question": "Explain the meme.", "answer": "It is funny."},
    "v1_3": {"imagename": "v1_3.png", "capability": ["ocr"], "question": "What does the sign say?", "answer": "STOP"},
}  # fmt: skip
ANSWERS = {
    "What is x": "x equals -1",
    "What animal": "a cat",
    "Explain": "no idea",
    "sign say": "STOP",
}
#: The judge's verdict per model answer: 0.5, 1.0, then garbage once and 0.2, then 1.0.
VERDICTS = {"x equals -1": ["0.5"], "a cat": ["1.0"], "no idea": ["n/a", "0.2"], "STOP": ["1.0"],
            "GO": ["0.0"]}  # fmt: skip


def verdicts():
    """The judge: replies from VERDICTS, in order, per model answer."""
    asked: dict[str, int] = {}

    def reply(body: dict, n: int) -> str:
        text = body["messages"][0]["content"].removesuffix(RETRY_SUFFIX)
        pred = text.rsplit(" | ", 2)[-2]  # "... | question | truth | prediction | "
        asked[pred] = asked.get(pred, 0) + 1
        return VERDICTS[pred][min(asked[pred], len(VERDICTS[pred])) - 1]

    return reply


def write_mmvet(root: Path, questions: dict = QUESTIONS) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "mm-vet.json").write_text(json.dumps(questions))
    for q in questions.values():
        Image.new("RGB", (8, 8), (len(q["question"]), 0, 0)).save(root / "images" / q["imagename"])
    return root


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch) -> None:
    from janus_eval.tasks import _judge as judge

    monkeypatch.setattr(judge, "BACKOFF_S", 0.0)


@pytest.fixture
def mmvet_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    return write_mmvet(tmp_path / "mm-vet")


def test_without_a_judge_exit_2_saying_what_to_pass(mmvet_dir: Path, cli) -> None:
    with pytest.raises(UserError, match="judge_url=.*judge_model="):
        registry.make_task("mmvet")
    result = cli("run", "--task", "mmvet", "--model", "dummy", "--data-dir", str(mmvet_dir))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--task-option judge_url=" in result.stderr and "OPENAI_API_KEY" in result.stderr


def test_judge_from_the_environment_for_multi_task_runs(monkeypatch) -> None:
    monkeypatch.setenv("JANUS_EVAL_JUDGE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("JANUS_EVAL_JUDGE_MODEL", "local-judge")
    task = registry.make_task("mmvet")
    assert task.config()["options"]["judge_model"] == "local-judge"
    assert task.endpoint == "http://127.0.0.1:9/v1/chat/completions"
    given = registry.make_task("mmvet", {"judge_model": "gpt-4-0613"})  # options win
    assert given.options["judge_model"] == "gpt-4-0613"


def test_samples_prompt_and_run_identity(mmvet_dir: Path) -> None:
    task = registry.make_task("mmvet", {"judge_url": "http://127.0.0.1:9/v1"})
    samples = task.samples(mmvet_dir.parent, None)  # the parent of mm-vet/ works too
    assert [s.id for s in samples] == list(QUESTIONS)
    assert samples[0].data["capability"] == ["ocr", "math"] and samples[0].category == "math_ocr"
    req = task.request(samples[2])
    assert req.prompt == "<image>\nExplain the meme." and req.images == (
        str(mmvet_dir / "images" / "v1_2.jpg"),
    )
    assert req.system_prompt.startswith("You are a helpful assistant. Please answer truthfully")
    # judge model and grading rule are in the run identity; how the judge is reached is not
    config = task.config()
    assert config["options"]["judge_model"] == "gpt-4-0613" and len(config["grader"]) == 16
    slower = registry.make_task(
        "mmvet",
        {"judge_url": "http://127.0.0.1:9/v1", "judge_timeout_s": "300", "judge_workers": "1"},
    )
    assert slower.config() == config
    other = registry.make_task(
        "mmvet", {"judge_url": "http://127.0.0.1:9/v1", "judge_model": "gpt-4o"}
    )
    assert other.config() != config


def test_end_to_end_hand_checked_and_never_judged_twice(mmvet_dir: Path, tmp_path: Path) -> None:
    from janus_eval.api import evaluate

    with FakeJudge(verdicts()) as judge:
        opts = {"judge_url": judge.url, "judge_workers": "2"}
        run = lambda: evaluate(  # noqa: E731
            "mmvet", ScriptedAdapter(ANSWERS), data_dir=mmvet_dir, output_dir=tmp_path / "runs",
            task_options=opts, batch_size=2,
        )  # fmt: skip
        record = run()
        m = record.metrics
        # scores 0.5, 1.0, 0.2, 1.0: total 2.7 / 4
        assert m["total"] == 67.5 and m["n_questions"] == 4
        assert task_label(record) == "mmvet[judge_model=gpt-4-0613]"
        assert m["per_capability"] == {
            "ocr": 75.0,
            "rec": 60.0,
            "gen": 20.0,
            "know": 20.0,
            "math": 50.0,
        }
        assert m["per_capability_set"] == {
            "gen_know_rec": 20.0,
            "math_ocr": 50.0,
            "ocr": 100.0,
            "rec": 100.0,
        }
        assert len(judge.requests) == 5  # "n/a" was asked again with the digit suffix
        suffixed = [
            r["body"] for r in judge.requests if r["body"]["messages"][0]["content"].endswith(
                "\nPredict the correctness of the answer (digit): "
            )
        ]  # fmt: skip
        assert len(suffixed) == 1 and "| no idea | " in suffixed[0]["messages"][0]["content"]
        assert suffixed[0]["temperature"] == 0.0 and suffixed[0]["max_tokens"] == 3
        lines = {x["id"]: x["scores"] for x in stored_samples(tmp_path / "runs", record)}
        assert lines["v1_2"]["judge_attempts"] == 2 and lines["v1_2"]["judge_reply"] == "0.2"
        assert lines["v1_0"]["judge_model"] == "judge-that-answered"

        # a crash after judging, before storing: the answers are computed again, the verdicts
        # come from the cache, the judge is not paid again
        (tmp_path / "runs" / record.run_id / "samples.jsonl").unlink()
        again = run()
        assert again.metrics == m and again.n_computed == 4 and len(judge.requests) == 5
        lines = stored_samples(tmp_path / "runs", again)
        assert all(x["scores"]["judge_cached"] for x in lines)

        # another model: answers it shares are not judged again, its new answer is
        other = evaluate(
            "mmvet", ScriptedAdapter({**ANSWERS, "sign say": "GO"}), data_dir=mmvet_dir,
            output_dir=tmp_path / "runs", task_options=opts,
        )  # fmt: skip
        assert other.run_id != record.run_id and len(judge.requests) == 6
        assert other.metrics["total"] == 42.5  # 0.5 + 1.0 + 0.2 + 0.0


def test_a_failing_judge_is_exit_2_and_keeps_what_is_stored(
    mmvet_dir: Path, tmp_path: Path, cli
) -> None:
    def flaky(body: dict, n: int):
        return (401, "bad key") if "sign say" in body["messages"][0]["content"] else "1.0"

    with FakeJudge(flaky) as judge:
        args = ["run", "--task", "mmvet", "--model", "dummy", "--data-dir", str(mmvet_dir),
                "--batch-size", "2", "--no-progress", "--output-dir", str(tmp_path / "runs"),
                "--task-option", f"judge_url={judge.url}", "--task-option", "judge_key_env=NO_SUCH_KEY_VAR"]  # fmt: skip
        result = cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "HTTP 401" in result.stderr and "$NO_SUCH_KEY_VAR is not set" in result.stderr
    (samples,) = (tmp_path / "runs").glob("*/samples.jsonl")
    assert len(samples.read_text().splitlines()) == 2  # the first batch stays stored


def test_hub_layout_from_local_copy(tmp_path: Path, monkeypatch) -> None:
    """lmms-lab/MMVet: split 'test', question_id, capability as a list."""
    import datasets

    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    image = tmp_path / "x.png"
    Image.new("RGB", (8, 8), (3, 3, 3)).save(image)
    rows = {
        "question_id": ["v1_0", "v1_1"], "image": [str(image)] * 2,
        "question": ["What is x?", "What animal is it?"], "answer": ["-1<AND>-5", "cat"],
        "image_source": ["v1_0.png", "v1_1.jpg"], "capability": [["ocr", "math"], ["rec"]],
    }  # fmt: skip
    features = datasets.Features(
        {k: datasets.Value("string") for k in rows}
        | {"image": datasets.Image(), "capability": datasets.List(datasets.Value("string"))}
    )
    datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(tmp_path / "hub"))
    task = registry.make_task(
        "mmvet", {"source": str(tmp_path / "hub"), "judge_url": "http://x/v1"}
    )
    samples = task.samples(None, None)
    assert [s.data["capability"] for s in samples] == [["ocr", "math"], ["rec"]]
    assert Path(samples[0].data["image"]).read_bytes() == image.read_bytes()


def test_bad_records(tmp_path: Path) -> None:
    questions = {**QUESTIONS, "v1_9": {**QUESTIONS["v1_1"], "capability": []}}
    root = write_mmvet(tmp_path / "mm-vet", questions)
    opts = {"judge_url": "http://x/v1"}
    with pytest.raises(
        UserError, match=r"mm-vet.json id v1_9: capability \[\] names no capability"
    ):
        registry.make_task("mmvet", opts).samples(root, None)
    (root / "images" / "v1_3.png").unlink()
    skipping = registry.make_task("mmvet", {**opts, "skip_bad_records": "true"})
    assert [s.id for s in skipping.samples(root, None)] == ["v1_0", "v1_1", "v1_2"]
    assert [sid for sid, _ in skipping.skipped] == ["v1_3", "v1_9"]


def test_shards_merge(mmvet_dir: Path, tmp_path: Path) -> None:
    with FakeJudge(lambda body, n: "0.5") as judge:
        opts = {"judge_url": judge.url}
        record = shards_merge_to_whole("mmvet", mmvet_dir, tmp_path, task_options=opts)
    assert record.n_samples == 4 and record.metrics["total"] == 50.0


def test_sigkill_then_resume(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path / "cache"))
    questions = {f"v1_{i}": {"imagename": f"v1_{i}.png", "capability": ["rec"], "question": f"Q{i}?", "answer": "a"}
                 for i in range(12)}  # fmt: skip
    root = write_mmvet(tmp_path / "mm-vet", questions)
    with FakeJudge(
        lambda body, n: "0.5" if "| Yes |" in body["messages"][0]["content"] else "1.0"
    ) as judge:
        args = dummy_run("mmvet", root, "--task-option", f"judge_url={judge.url}")
        record = sigkill_and_resume(cli, args, tmp_path, total=12, kill_after=4)
    assert 50.0 <= record.metrics["total"] <= 100.0


def test_end_to_end_janus_tiny(mmvet_dir: Path, tmp_path: Path) -> None:
    with FakeJudge(lambda body, n: "0.3") as judge:
        record, lines = run_janus_tiny(
            "mmvet", mmvet_dir, tmp_path / "runs", limit=1, judge_url=judge.url
        )
    assert record.n_samples == 1 and record.metrics["total"] == 30.0
    assert lines[0]["request"]["system_prompt"].startswith("You are a helpful assistant")
