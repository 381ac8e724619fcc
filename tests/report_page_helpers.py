"""Run directories for the HTML report's tests: GenEval-shaped generation runs with images,
tags, verdicts and reasons (written in the runner's format by `write_run`), and the demo POPE
runs of two models made through the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_report_fixtures import write_run

from janus_eval.report.table import TableRow

TAGS = ("counting", "colors", "position")


def geneval_run(
    root: Path,
    run_id: str,
    model: Mapping[str, Any],
    *,
    n_prompts: int = 6,
    per_prompt: int = 2,
    bonus: int = 0,
    prompt: str = "a photo of {n} cats",
    tags: tuple[str, ...] = TAGS,
    id_prefix: str = "g",
    reason: str = "expected {n} cat",
    demo: bool = False,
) -> Path:
    """A GenEval-like run: prompt p has tag TAGS[p % 3]; image k is correct when p + k is even
    or k < bonus, and a wrong image's reason names the prompt. `model` is a run.json model
    dict. With 2 images a prompt, every tag (and overall) scores 0.5, or 0.75 with bonus=1."""
    samples = []
    for p in range(n_prompts):
        ok = [(p + k) % 2 == 0 or k < bonus for k in range(per_prompt)]
        samples.append({
            "id": f"{id_prefix}{p:03d}", "prompt": prompt.format(n=p + 1),
            "images": [f"images/{p:05d}/samples/{k:04d}.png" for k in range(per_prompt)],
            "scores": {"correct": ok, "tag": tags[p % len(tags)],
                       "reasons": ["" if good else reason.format(n=p + 1) for good in ok]},
        })  # fmt: skip
    per_tag: dict[str, list[bool]] = {}
    for s in samples:
        per_tag.setdefault(s["scores"]["tag"], []).extend(s["scores"]["correct"])
    tag_scores = {t: sum(v) / len(v) for t, v in per_tag.items()}
    metrics = {"overall": sum(tag_scores.values()) / len(tag_scores), "per_tag": tag_scores,
               "per_tag_images": {t: len(v) for t, v in per_tag.items()}}  # fmt: skip
    run = write_run(root, run_id, task="geneval", kind="generation", primary="overall",
                    model=model["name"], checkpoint=model.get("checkpoint") or "",
                    weights=model.get("weights_sha256"), metrics=metrics, samples=samples,
                    options={"detector": "mask2former"}, leaderboard_keys=["detector"])  # fmt: skip
    for s in samples:
        for k, rel in enumerate(s["images"]):
            (run / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (96, 96), (60 * k, 120, 90 * bonus)).save(run / rel)
    if demo:  # beside demo runs of the same model: one checkpoint row, marked DEMO like them
        record = json.loads((run / "run.json").read_text())
        record["config"]["data"] = {"demo": True}
        (run / "run.json").write_text(json.dumps(record))
    return run


def pope_demo_runs(root: Path, cli) -> dict[str, dict[str, Any]]:
    """`janus-eval run --task pope --demo` with the dummy and the janus-tiny models; returns
    model name -> the run's model description."""
    models = {}
    for model in ("dummy", "janus-tiny"):
        done = cli("run", "--task", "pope", "--model", model, "--demo", "--output-dir", str(root),
                   timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    for record in root.glob("*/run.json"):
        data = json.loads(record.read_text())
        models[data["model"]["name"]] = data["model"]
    assert set(models) == {"dummy", "janus-tiny"}
    return models


REFERENCE = TableRow(
    label="Janus-Pro-7B (paper)",
    values={"pope/f1": 87.4, "geneval[detector=mask2former]/overall": 0.70},
    reported=True,
    notes="made-up reference row for the tests",
)


def chromium_or_skip() -> str:
    """Path of a Chromium binary, or skip the test saying how to get one."""
    for name in ("chromium", "chromium-browser", "chrome", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip(
        "no Chromium on PATH: install Debian's `chromium` package (`apt-get install chromium`, "
        "as .ci/run does) to run the browser check"
    )


@contextmanager
def chromium_tab(**page_options: Any) -> Iterator[Any]:
    """A playwright page in headless Debian Chromium (playwright's own browser download is not
    needed: the package drives the system binary); skips when either is missing."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    executable = chromium_or_skip()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser.new_page(**page_options)
        finally:
            browser.close()
