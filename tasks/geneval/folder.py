"""GenEval's rules over image folders any tool made (`janus-eval geneval-score`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from janus_eval.images import load_image
from janus_eval.types import Sample, UserError

from .data import check_record
from .outputs import write_outputs
from .task import GenEval


def score_folder(
    folder: str | Path,
    *,
    output_dir: str | Path | None = None,
    progress: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Score images already in GenEval's layout (a run's images/, or the official generation
    script's output) without generating anything: e.g. to score one set of images with another
    detector. Reads `<NNNNN>/metadata.jsonl` and `<NNNNN>/samples/<k>.png` the way the official
    evaluate_images.py does (numeric folders only; file names matching `\\d+\\.png` at their
    start), writes geneval_results.jsonl and geneval_grid.html to `output_dir` (default: the
    folder) and returns the summary. `options` are the task's options."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"GenEval: {folder} is not a directory")
    task = GenEval(**options)
    names = set(task.object_names(folder))
    prompts: list[tuple[Sample, list[Path]]] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        meta_path = sub / "metadata.jsonl"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{meta_path}: cannot read the prompt's metadata ({exc})") from None
        check_record(meta, str(meta_path), names)
        samples_dir = sub / "samples"
        images = sorted(
            p
            for p in (samples_dir.iterdir() if samples_dir.is_dir() else [])
            if p.is_file() and re.match(r"\d+\.png", p.name)
        )
        prompts.append((Sample(sub.name, {"metadata": meta}, meta["tag"]), images))
    if not prompts:
        raise UserError(f"GenEval: no prompt folders (00000/metadata.jsonl, ...) in {folder}")
    scored: list[dict] = []
    step = max(1, int(task.options["detection_batch_size"]))
    with _progress(progress, len(prompts), f"GenEval scoring {folder.name}") as advance:
        for start in range(0, len(prompts), step):
            chunk = prompts[start : start + step]
            images = [[load_image(p) for p in paths] for _, paths in chunk]
            scored += task.score_batch([s for s, _ in chunk], images)
            advance(len(chunk))
    out = Path(output_dir).expanduser() if output_dir else folder
    paths = [[os.path.relpath(p, out) for p in paths] for _, paths in prompts]
    write_outputs(out, scored, paths, title=f"GenEval: {folder}")
    return task.aggregate(scored)


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str):
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task_id = bar.add_task(description, total=total)
        yield lambda n: bar.update(task_id, advance=n)
