"""What a GenEval scoring leaves beside the images: `geneval_results.jsonl` (the official
results format, one line per image) and `geneval_grid.html`.

The grid is a self-contained HTML page of the images with their verdicts, grouped by tag, so a
person can look at what the model drew and what the scorer decided instead of reading JSON.
Images are referenced by relative path, not embedded: the page stays small and opens straight
from the run directory.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from janus_eval.metrics import geneval as rules
from janus_eval.store import atomic_write_text


@dataclass(frozen=True)
class GridCell:
    src: str  # path relative to the HTML file
    ok: bool | None  # None: not judged
    note: str = ""  # shown on hover (e.g. the scorer's reason)


@dataclass(frozen=True)
class GridRow:
    label: str  # e.g. the prompt
    cells: Sequence[GridCell]


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h2{margin-top:2em;border-bottom:1px solid #ccc}
.summary{color:#555}
.row{display:flex;align-items:center;gap:6px;margin:4px 0}
.label{width:22em;font-size:.9em}
.cell{position:relative}
.cell img{width:128px;height:128px;object-fit:cover;border:4px solid #999;display:block}
.ok img{border-color:#2a9d3a}.bad img{border-color:#d43c3c}
.mark{position:absolute;top:4px;left:8px;font-weight:bold;color:#fff;text-shadow:0 0 3px #000}
"""


def _cell(cell: GridCell) -> str:
    cls, mark = {True: ("ok", "&#10003;"), False: ("bad", "&#10007;"), None: ("", "")}[cell.ok]
    note = html.escape(cell.note or ("correct" if cell.ok else ""), quote=True)
    src = html.escape(cell.src, quote=True)
    return (
        f'<div class="cell {cls}" title="{note}"><a href="{src}">'
        f'<img loading="lazy" src="{src}" alt="{note}"></a>'
        f'<span class="mark">{mark}</span></div>'
    )


def render_image_grid(sections: Mapping[str, Sequence[GridRow]], *, title: str) -> str:
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style><h1>{html.escape(title)}</h1>",
    ]
    for name, rows in sections.items():
        judged = [c.ok for r in rows for c in r.cells if c.ok is not None]
        share = f"{sum(judged)}/{len(judged)} correct" if judged else "not judged"
        parts.append(
            f"<h2 id='{html.escape(name, quote=True)}'>{html.escape(name)}</h2>"
            f"<p class='summary'>{len(rows)} prompts, {share}</p>"
        )
        for row in rows:
            cells = "".join(_cell(c) for c in row.cells)
            parts.append(
                f"<div class='row'><div class='label'>{html.escape(row.label)}</div>{cells}</div>"
            )
    return "\n".join(parts) + "\n"


def write_image_grid(path: Path, sections: Mapping[str, Sequence[GridRow]], *, title: str) -> Path:
    atomic_write_text(path, render_image_grid(sections, title=title))
    return path


def write_outputs(
    out_dir: Path, scored: Sequence[dict], paths: Sequence[Sequence[str]], *, title: str
) -> None:
    """geneval_results.jsonl (the official results format, one line per image) and
    geneval_grid.html (images per tag with verdicts); image paths are relative to out_dir."""
    lines, sections = [], {tag: [] for tag in rules.TAGS}
    for score, images in zip(scored, paths):
        cells = []
        for k, (rel, ok, reason) in enumerate(zip(images, score["correct"], score["reasons"])):
            official = {
                "filename": rel,
                "tag": score["tag"],
                "prompt": score["prompt"],
                "correct": ok,
                "reason": reason,
                "metadata": score["metadata"],
                "details": json.dumps(score["details"][k]),
            }
            lines.append(json.dumps(official) + "\n")
            cells.append(GridCell(rel, ok, reason))
        sections.setdefault(score["tag"], []).append(GridRow(score["prompt"], cells))
    atomic_write_text(out_dir / "geneval_results.jsonl", "".join(lines))
    write_image_grid(
        out_dir / "geneval_grid.html",
        {t: rows for t, rows in sections.items() if rows},
        title=title,
    )
