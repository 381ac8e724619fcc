"""One self-contained HTML page for a set of runs: something to attach to a PR or publish.

The page, top to bottom: the leaderboard in the papers' layout (understanding | generation
column groups, one row per checkpoint, reported rows, best value per column marked, sortable by
clicking a column header), each row's runs folded away under it (configuration, versions,
timings); bar charts of every per-task breakdown across checkpoints; comparisons of each
checkpoint with a baseline (deltas with paired-bootstrap 95% intervals, gate verdicts coloured);
image galleries (GenEval prompts per tag with verdict and reason on each image, a seeded subset
of FID prompts side by side); then per run its summary, metrics, breakdown tables and a preview
(thumbnails for generation runs, first answers for understanding runs).

Self-contained: charts are inline SVG (report/charts.py), thumbnails embedded as base64 JPEGs
until `max_embed_bytes` is spent and linked by relative path after that, and the only script is
the ~30-line sorter (report/table_html.py). Nothing is fetched when the page is viewed.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.demo import DEMO_NOTE, is_demo
from janus_eval.report.breakdowns import breakdowns
from janus_eval.report.comparisons import COMPARE_CSS, compare_checkpoints, render_comparison_html
from janus_eval.report.gallery import GALLERY_CSS, galleries, image_verdicts
from janus_eval.report.leaderboard import html_table, leaderboard_from_runs
from janus_eval.report.records import (
    Run,
    finished_key,
    format_number,
    is_number,
    load_runs,
    partial_reason,
    task_label,
)
from janus_eval.report.run_details import anchor as _anchor
from janus_eval.report.stamp import generated_at
from janus_eval.report.table import TableRow, reported_rows, row_label, table_from_leaderboard
from janus_eval.report.table_html import SORT_SCRIPT, TABLE_CSS, render_table
from janus_eval.report.thumbs import EmbedBudget, relative
from janus_eval.store import atomic_write_text

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 1400px;
       color: #222; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
section.run { border-top: 2px solid #ddd; margin-top: 2em; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: 12px; }
.scroll { overflow-x: auto; max-width: 100%; }
svg.chart { display: block; max-width: 100%; height: auto; margin: .5em 0 1.5em; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; width: 200px; border: 3px solid #ddd; font-size: 11px; }
figure.ok { border-color: #3a3; } figure.bad { border-color: #c33; }
figure img { display: block; max-width: 100%; }
figcaption { padding: 2px 4px; word-break: break-word; }
.partial { color: #a60; font-weight: bold; } .missing { color: #c33; } .warning { color: #a60; }
"""


_SECTIONS = (("leaderboard", "Leaderboard"), ("breakdowns", "Breakdowns"),
             ("comparisons", "Comparisons"), ("galleries", "Image galleries"), ("runs", "Runs"))  # fmt: skip


def write_html_report(
    paths: Iterable[str | Path],
    output: str | Path,
    *,
    max_images: int = 24,
    thumb_px: int = 192,
    max_embed_bytes: int = 12_000_000,
    max_answers: int = 10,
    reported: Sequence[TableRow] = (),
    references: Sequence[Any] = (),
    baseline: str | None = None,
    max_drop: Mapping[str, float] | None = None,
    gallery_prompts: int = 4,
    seed: int = 0,
    n_boot: int = 1000,
    timestamp: bool = True,
) -> Path:
    """Write the report for every run at or below `paths` to `output`; returns its path.

    `reported`: leaderboard rows from papers. `baseline` (a checkpoint label or model name,
    default the first checkpoint) is what the other checkpoints are compared with, gated by
    `max_drop` as in `janus-eval compare`. Galleries show `gallery_prompts` prompts per group,
    chosen with `seed`. `max_images` thumbnails per generation run's own grid, each at most
    `thumb_px` on its long side; once `max_embed_bytes` of JPEG are embedded (galleries first),
    further images are linked relative to `output`. `timestamp=False` leaves the generation
    time out, so the same runs give the same bytes.
    """
    output = Path(output)
    runs = sorted(load_runs(paths), key=lambda r: (r.task_label, r.model_key, r.record.run_id))
    budget = EmbedBudget(max_embed_bytes, output.parent)
    frame = leaderboard_from_runs(runs)
    reported = [*reported, *reported_rows(references, [str(c) for c in frame.columns])]
    table = table_from_leaderboard(frame, runs, reported)
    by_task = newest_per_checkpoint(runs)
    generation = {k: v for k, v in by_task.items() if v[0].record.task_kind == "generation"}
    charts = [b.svg() for b in breakdowns(by_task)]
    comparisons = compare_checkpoints(by_task, baseline, max_drop, n_boot=n_boot, seed=seed)
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>janus-eval report</title>",
        f"<style>{_CSS}{TABLE_CSS}{GALLERY_CSS}{COMPARE_CSS}</style></head><body>",
        "<h1>janus-eval report</h1>",
        f"<p>{len(runs)} run(s)" + (f", generated {generated_at()}" if timestamp else "") + ".</p>",
        "<nav>" + " · ".join(f"<a href='#{a}'>{t}</a>" for a, t in _SECTIONS) + "</nav>",
        "<h2 id='leaderboard'>Leaderboard</h2>",
        "<p>Click a column header to sort. Best value per column in bold (lowest for FID/KID).</p>",
        render_table(table),
        "<h2 id='breakdowns'>Breakdowns</h2>",
        "\n".join(charts) or "<p>No per-category breakdowns in these runs.</p>",
        "<h2 id='comparisons'>Comparisons</h2>",
        "\n".join(render_comparison_html(c) for c in comparisons)
        or "<p>Only one checkpoint: nothing to compare.</p>",
        "<h2 id='galleries'>Image galleries</h2>",
        _galleries(generation, budget, gallery_prompts, seed),
        "<h2 id='runs'>Runs</h2>",
        _run_index(runs),
    ]
    for run in runs:
        parts.append(
            _run_section(
                run, budget, max_images=max_images, thumb_px=thumb_px, max_answers=max_answers
            )  # fmt: skip
        )
    parts.append(f"<script>{SORT_SCRIPT}</script>\n</body></html>\n")
    atomic_write_text(output, "\n".join(parts), hint="or choose another --output")
    return output


def newest_per_checkpoint(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Task label -> the newest run of each checkpoint, as the leaderboard picks its cells (the
    task version joins the label only when runs of several versions are present)."""
    versions: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        versions[run.record.task].add(str(run.record.task_version))
    newest: dict[str, dict[tuple[str, str, str], Run]] = defaultdict(dict)
    for run in runs:
        label = task_label(run.record, with_version=len(versions[run.record.task]) > 1)
        kept = newest[label].get(run.model_key)
        if kept is None or finished_key(run.record) > finished_key(kept.record):
            newest[label][run.model_key] = run
    return {
        label: [by_model[k] for k in sorted(by_model)] for label, by_model in sorted(newest.items())
    }


def _galleries(by_task: Mapping[str, Sequence[Run]], budget: EmbedBudget, n_prompts: int,
               seed: int) -> str:  # fmt: skip
    if n_prompts <= 0:
        return "<p>Galleries switched off (--gallery-prompts 0).</p>"
    return (
        galleries(by_task, budget, n_prompts=n_prompts, seed=seed) or "<p>No generation runs.</p>"
    )


def _e(value: Any) -> str:
    return html.escape(str(value))


def _model_text(run: Run) -> str:
    return row_label(run.model_key)


def _run_index(runs: Sequence[Run]) -> str:
    items = [
        f"<li><a href='#{_anchor(r)}'>{_e(r.task_label)} · {_e(_model_text(r))}</a>"
        f" <code>{_e(r.record.run_id)}</code></li>"
        for r in runs
    ]
    return "<ul>\n" + "\n".join(items) + "\n</ul>"


def _run_section(run: Run, budget: EmbedBudget, *, max_images: int, thumb_px: int,
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
        "directory": relative(run.path, budget.out_dir),
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


def _image_grid(run: Run, samples: Sequence[Mapping[str, Any]], budget: EmbedBudget, *,
                max_images: int, thumb_px: int) -> str:  # fmt: skip
    figures: list[str] = []
    total = sum(len(s.get("images") or []) for s in samples)
    for sample in samples:
        if len(figures) >= max_images:
            break
        images = sample.get("images") or []
        verdicts, notes = image_verdicts(sample.get("scores") or {}, len(images))
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
