"""Image galleries across checkpoints: the same prompts, side by side, with the scorer's verdicts.

For every generation task in the report, one table per group of prompts: GenEval groups by tag
(`scores.tag`: counting, colors, position ...) and shows every image of a prompt with its
verdict (green/red border, ✓/✗) and the scorer's reason written on it; FID tasks (no per-image
verdict) form one group and show each checkpoint's first image. Which prompts are shown is a
fixed, seeded choice among the prompts every checkpoint has (`random.Random(seed).sample` over
the sorted ids), so two reports over the same runs show the same prompts and the same prompts
are shown for every checkpoint. Thumbnails link to the full images.
"""

from __future__ import annotations

import html
import random
from collections.abc import Mapping, Sequence
from typing import Any

from janus_eval.report.records import Run
from janus_eval.report.table import row_label
from janus_eval.report.thumbs import EmbedBudget

GALLERY_CSS = """
table.gallery td { vertical-align: top; }
table.gallery td.prompt { max-width: 16em; font-size: 12px; }
.cells { display: flex; flex-wrap: wrap; gap: 4px; }
.cell { width: 132px; font-size: 10px; border: 3px solid #ddd; }
.cell.ok { border-color: #2a9d3a; } .cell.bad { border-color: #d43c3c; }
.cell img { display: block; width: 100%; }
.cell .verdict { padding: 1px 3px; word-break: break-word; }
"""


def image_verdicts(scores: Mapping[str, Any], n_images: int) -> tuple[list[bool | None], list[str]]:
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


def galleries(
    by_task: Mapping[str, Sequence[Run]],
    budget: EmbedBudget,
    *,
    n_prompts: int = 4,
    seed: int = 0,
    thumb_px: int = 128,
    images_per_cell: int = 4,
) -> str:
    """HTML for every generation task: `by_task` maps a task label to one run per checkpoint."""
    parts = []
    for label, runs in by_task.items():
        samples = [{str(s["id"]): s for s in run.samples()} for run in runs]
        common = sorted(set.intersection(*(set(s) for s in samples))) if samples else []
        groups: dict[str, list[str]] = {}
        for sid in common:
            tag = (samples[0][sid].get("scores") or {}).get("tag")
            groups.setdefault(str(tag) if isinstance(tag, str) else "samples", []).append(sid)
        parts.append(f"<h3>{html.escape(label)}</h3>")
        if not common:
            parts.append("<p>No prompt is present in every checkpoint's run.</p>")
        for group, ids in sorted(groups.items()):
            chosen = sorted(random.Random(seed).sample(ids, min(n_prompts, len(ids))))
            parts.append(
                f"<h4>{html.escape(label)} · {html.escape(group)} "
                f"({len(chosen)} of {len(ids)} prompts, seed {seed})</h4>"
            )
            parts.append(_group_table(runs, samples, chosen, budget, thumb_px, images_per_cell))
    return "\n".join(parts)


def _group_table(runs: Sequence[Run], samples: Sequence[Mapping[str, dict[str, Any]]],
                 ids: Sequence[str], budget: EmbedBudget, thumb_px: int,
                 images_per_cell: int) -> str:  # fmt: skip
    heads = "".join(f"<th>{html.escape(row_label(run.model_key))}</th>" for run in runs)
    lines = [
        f"<div class='scroll'><table class='gallery'><thead><tr><th>prompt</th>{heads}</tr>"
        "</thead><tbody>"
    ]
    for sid in ids:
        first = samples[0][sid]
        prompt = (first.get("request") or {}).get("prompt", "")
        cells = [f"<td class='prompt'><b>{html.escape(sid)}</b> {html.escape(str(prompt))}</td>"]
        for run, by_id in zip(runs, samples, strict=True):
            cells.append(f"<td><div class='cells'>{_cells(run, by_id[sid], budget, thumb_px, images_per_cell)}</div></td>")  # fmt: skip
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def _cells(run: Run, sample: Mapping[str, Any], budget: EmbedBudget, thumb_px: int,
           limit: int) -> str:  # fmt: skip
    images = list(sample.get("images") or [])
    verdicts, notes = image_verdicts(sample.get("scores") or {}, len(images))
    out = []
    for k, rel in enumerate(images[:limit]):
        klass, mark = {True: ("ok", "✓ correct"), False: ("bad", "✗ wrong"), None: ("", "")}[
            verdicts[k]
        ]
        path = run.path / str(rel)
        src = budget.src(path, thumb_px)
        body = (
            f"<a href='{html.escape(budget.link(path))}'><img src='{html.escape(src)}' "
            f"alt='{html.escape(str(rel))}' loading='lazy'></a>"
            if src
            else f"<span class='missing'>missing: {html.escape(str(rel))}</span>"
        )
        caption = " ".join(t for t in (mark, notes[k].strip()) if t)
        verdict = f"<div class='verdict'>{html.escape(caption)}</div>" if caption else ""
        out.append(f"<div class='cell {klass}'>{body}{verdict}</div>")
    if len(images) > limit:
        out.append(f"<span>+{len(images) - limit} more</span>")
    return "".join(out) or "<span>no images</span>"
