"""One self-contained HTML page for a set of runs: something to attach to a PR or publish.

The page holds the leaderboard, and per run its metrics and breakdowns, sample counts, config,
model and package versions, and a preview: generation runs show a grid of thumbnails (with the
task's per-image verdicts, e.g. GenEval's `correct` list, when the scores have them);
understanding runs show their first answers. Thumbnails are embedded as base64 JPEGs so the file
survives being mailed or uploaded alone; past an overall size cap they are linked by relative
path instead. Plain HTML and CSS: no scripts.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.demo import DEMO_NOTE, is_demo
from janus_eval.report.leaderboard import html_table, leaderboard_from_runs, render_leaderboard
from janus_eval.report.records import Run, format_number, is_number, load_runs, partial_reason
from janus_eval.report.stamp import generated_at
from janus_eval.store import atomic_write_text

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
section.run { border-top: 2px solid #ddd; margin-top: 2em; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; width: 200px; border: 3px solid #ddd; font-size: 11px; }
figure.ok { border-color: #3a3; } figure.bad { border-color: #c33; }
figure img { display: block; max-width: 100%; }
figcaption { padding: 2px 4px; word-break: break-word; }
.partial { color: #a60; font-weight: bold; } .missing { color: #c33; }
"""


def write_html_report(
    paths: Iterable[str | Path],
    output: str | Path,
    *,
    max_images: int = 24,
    thumb_px: int = 192,
    max_embed_bytes: int = 16_000_000,
    max_answers: int = 10,
) -> Path:
    """Write the report for every run at or below `paths` to `output`; returns its path.

    `max_images` thumbnails per generation run, each at most `thumb_px` on its long side;
    once `max_embed_bytes` of JPEG are embedded, further images are linked relative to `output`.
    """
    output = Path(output)
    runs = sorted(load_runs(paths), key=lambda r: (r.task_label, r.model_key, r.record.run_id))
    budget = _EmbedBudget(max_embed_bytes, output.parent)
    board = leaderboard_from_runs(runs, sub_metrics=False)
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        "<title>janus-eval report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>janus-eval report</h1>",
        f"<p>{len(runs)} run(s), generated {generated_at()}.</p>",
        "<h2>Leaderboard</h2>",
        render_leaderboard(board, "html"),
        "<h2>Runs</h2>",
        _run_index(runs),
    ]
    for run in runs:
        parts.append(
            _run_section(
                run, budget, max_images=max_images, thumb_px=thumb_px, max_answers=max_answers
            )  # fmt: skip
        )
    parts.append("</body></html>\n")
    atomic_write_text(output, "\n".join(parts), hint="or choose another --output")
    return output


class _EmbedBudget:
    """Bytes of embedded thumbnails left before images are linked instead."""

    def __init__(self, limit: int, out_dir: Path) -> None:
        self.left = limit
        self.out_dir = out_dir

    def src(self, image_path: Path, thumb_px: int) -> str | None:
        """A data: URI (or a relative link once the budget is spent); None when unreadable."""
        if not image_path.is_file():
            return None
        if self.left > 0:
            data = _jpeg_thumbnail(image_path, thumb_px)
            if data is None:
                return None
            if len(data) <= self.left:
                self.left -= len(data)
                return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
            self.left = 0
        return _relative(image_path, self.out_dir)


def _relative(path: Path, start: Path) -> str:
    """`path` as seen from the report's folder (reports get moved with their runs)."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _jpeg_thumbnail(path: Path, side: int) -> bytes | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((side, side))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=80)
    except (OSError, UnidentifiedImageError):
        return None
    return buffer.getvalue()


def _e(value: Any) -> str:
    return html.escape(str(value))


def _anchor(run: Run) -> str:
    return "run-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in run.record.run_id)


def _model_text(run: Run) -> str:
    name, checkpoint, weights = run.model_key
    return name + (f" ({checkpoint})" if checkpoint else "") + (f" #{weights}" if weights else "")


def _run_index(runs: Sequence[Run]) -> str:
    items = [
        f"<li><a href='#{_anchor(r)}'>{_e(r.task_label)} · {_e(_model_text(r))}</a>"
        f" <code>{_e(r.record.run_id)}</code></li>"
        for r in runs
    ]
    return "<ul>\n" + "\n".join(items) + "\n</ul>"


def _run_section(run: Run, budget: _EmbedBudget, *, max_images: int, thumb_px: int,
                 max_answers: int) -> str:  # fmt: skip
    record = run.record
    partial = partial_reason(record)
    out = [
        f"<section class='run' id='{_anchor(run)}'>",
        f"<h3>{_e(run.task_label)} · {_e(_model_text(run))}</h3>",
    ]
    if partial:
        out.append(f"<p class='partial'>Partial run: {_e(partial)}</p>")
    if is_demo(record):
        out.append(f"<p class='partial'>{_e(DEMO_NOTE)}: scored with offline stand-ins.</p>")
    summary = {
        "run id": record.run_id,
        "directory": _relative(run.path, budget.out_dir),
        "task version": record.task_version,
        "kind": record.task_kind,
        "primary metric": record.primary_metric,
        "samples": f"{record.n_samples} ({record.n_computed} computed, {record.n_reused} "
        f"reused, {record.n_skipped} skipped)",
        "seed": record.seed,
        "device": record.device,
        "started / finished": f"{record.started_at} / {record.finished_at}",
        "git commit": record.git_commit or "",
        **{f"time: {k}": format_number(v) for k, v in record.timings.items()},
    }
    out.append(_kv_table(summary, "summary"))

    scalars = {k: v for k, v in record.metrics.items() if not isinstance(v, Mapping)}
    out.append("<h4>Metrics</h4>" + _kv_table(scalars, "metrics"))
    for name, breakdown in record.metrics.items():
        if isinstance(breakdown, Mapping):
            out.append(f"<h4>{_e(name)}</h4>" + _kv_table(breakdown, "breakdown"))

    for title, blob in (("config", record.config), ("model", record.model),
                        ("versions", record.versions), ("prompt", record.prompt),
                        ("extra", record.extra)):  # fmt: skip
        if blob:
            dumped = json.dumps(blob, indent=2, sort_keys=True, default=str)
            out.append(f"<details><summary>{title}</summary><pre>{_e(dumped)}</pre></details>")

    samples = sorted(run.samples(), key=lambda s: (s.get("index") is None, s.get("index") or 0))
    if record.task_kind == "generation":
        out.append(_image_grid(run, samples, budget, max_images=max_images, thumb_px=thumb_px))
    elif samples and max_answers > 0:
        out.append(_answers_table(samples[:max_answers]))
    out.append("</section>")
    return "\n".join(out)


def _kv_table(values: Mapping[str, Any], css_class: str) -> str:
    rows = [[str(k), format_number(v) if is_number(v) else str(v)] for k, v in values.items()]
    classes = [["", "num" if is_number(v) else ""] for v in values.values()]
    return html_table(["name", "value"], rows, css_class=css_class, cell_classes=classes)


def _image_verdicts(
    scores: Mapping[str, Any], n_images: int
) -> tuple[list[bool | None], list[str]]:
    """Per-image verdicts: the first list of booleans as long as the image list (GenEval's
    `correct`), and the other per-image lists of plain values (GenEval's `reasons`) as caption
    text."""
    verdict: list[bool | None] = [None] * n_images
    notes = [""] * n_images
    found = False
    for name, value in scores.items():
        if not isinstance(value, list) or len(value) != n_images or not n_images:
            continue
        if not found and all(isinstance(v, bool) for v in value):
            verdict, found = list(value), True
            continue
        for k, v in enumerate(value):
            if isinstance(v, (str, int, float)) and v != "":  # not nested detector details
                notes[k] += f"{name}: {v}. "
    return verdict, notes


def _image_grid(run: Run, samples: Sequence[Mapping[str, Any]], budget: _EmbedBudget, *,
                max_images: int, thumb_px: int) -> str:  # fmt: skip
    figures: list[str] = []
    total = sum(len(s.get("images") or []) for s in samples)
    for sample in samples:
        if len(figures) >= max_images:
            break
        images = sample.get("images") or []
        verdicts, notes = _image_verdicts(sample.get("scores") or {}, len(images))
        prompt = (sample.get("request") or {}).get("prompt", "")
        for k, rel in enumerate(images):
            if len(figures) >= max_images:
                break
            klass = {True: " class='ok'", False: " class='bad'", None: ""}[verdicts[k]]
            mark = {True: "✓ ", False: "✗ ", None: ""}[verdicts[k]]
            src = budget.src(run.path / rel, thumb_px)
            body = (
                f"<img src='{_e(src)}' alt='{_e(rel)}' loading='lazy'>"
                if src
                else f"<div class='missing'>missing: {_e(rel)}</div>"
            )
            caption = f"{mark}<b>{_e(sample.get('id'))}</b> {_e(prompt)} {_e(notes[k])}"
            figures.append(f"<figure{klass}>{body}<figcaption>{caption}</figcaption></figure>")
    if not figures:
        return "<p>No stored images.</p>"
    return (
        f"<h4>Images ({len(figures)} of {total})</h4>\n<div class='grid'>\n"
        + "\n".join(figures)
        + "\n</div>"
    )


def _answers_table(samples: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for s in samples:
        scores = s.get("scores") or {}
        shown = {k: v for k, v in scores.items() if not isinstance(v, (dict, list))}
        rows.append(
            [
                str(s.get("id")),
                str((s.get("request") or {}).get("prompt", "")),
                "" if s.get("response") is None else str(s.get("response")),
                ", ".join(f"{k}={format_number(v)}" for k, v in shown.items()),
            ]
        )
    return f"<h4>First {len(rows)} answers</h4>" + html_table(
        ["id", "prompt", "response", "scores"], rows, css_class="answers"
    )
