"""`janus-eval publish RUNS... --to results/`: the files a repository publishes, reproducibly.

Writes, from the given runs plus the papers' reference rows (results/reference/):

* `leaderboard.md`   the papers' layout for people (GitHub renders it),
* `leaderboard.csv`  the same numbers at full precision for spreadsheets,
* `leaderboard.json` the table as data (`papers.paper_leaderboard`'s shape),
* `index.html`       the HTML report over the same runs (`report.html.write_html_report`).

Deterministic: the same runs give byte-identical files, so a pull request's diff shows exactly
what changed. Nothing in them depends on the clock or the order runs were found in: tables are
sorted, JSON keys are sorted, and the report's "generated" time is the newest run's finish time
(through SOURCE_DATE_EPOCH, unless the caller set it already).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from janus_eval.report.papers import paper_leaderboard
from janus_eval.report.papers_render import render_papers
from janus_eval.report.records import Run, finished_key, load_runs
from janus_eval.report.reference import load_reference
from janus_eval.report.stamp import SOURCE_DATE_EPOCH
from janus_eval.store import atomic_write_text

#: File name -> renderer format, in the order they are written.
TABLE_FILES = {"leaderboard.md": "md", "leaderboard.csv": "csv", "leaderboard.json": "json"}
REPORT_FILE = "index.html"


def publish(
    paths: Iterable[str | Path],
    to: str | Path,
    *,
    reference: Sequence[str | Path] | None = None,
    max_images: int = 24,
) -> list[Path]:
    """Write the published files for the runs at or below `paths` into `to`; returns their
    paths. `reference` overrides where the papers' numbers are read (default results/reference/,
    or $JANUS_EVAL_REFERENCE_DIR)."""
    paths = list(paths)
    out = Path(to)
    runs = load_runs(paths)
    references = load_reference(reference)
    table = paper_leaderboard(runs, references)
    written = []
    for name, fmt in TABLE_FILES.items():
        path = out / name
        atomic_write_text(path, render_papers(table, fmt), hint="or choose another --to")
        written.append(path)
    from janus_eval.report.html import write_html_report

    with _source_date(runs):
        report = write_html_report(
            paths, out / REPORT_FILE, max_images=max_images, references=references
        )
        written.append(Path(report))
    return written


def newest_finish_epoch(runs: Sequence[Run]) -> int:
    """Whole seconds of the newest parseable `finished_at` (0 when no run has one)."""
    stamps: list[Any] = [finished_key(r.record) for r in runs]
    parsed = [s[1] for s in stamps if s[0] == 1]
    return int(max(parsed).timestamp()) if parsed else 0


@contextmanager
def _source_date(runs: Sequence[Run]):
    """SOURCE_DATE_EPOCH = the newest run's finish time while the report is written; a value
    the caller set is kept (reproducible-builds convention)."""
    if os.environ.get(SOURCE_DATE_EPOCH):
        yield
        return
    os.environ[SOURCE_DATE_EPOCH] = str(newest_finish_epoch(runs))
    try:
        yield
    finally:
        os.environ.pop(SOURCE_DATE_EPOCH, None)
