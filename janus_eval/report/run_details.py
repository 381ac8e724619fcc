"""What a reader needs to reproduce a number, folded away: a run's configuration, model
description, package versions, prompt, extra fields and timings, as `<details>` blocks.

Shown under each leaderboard row (every run behind that row), so the table stays one line per
checkpoint while the provenance of each cell is one click away.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

from janus_eval.report.records import Run, format_number

FOLDED = ("config", "model", "versions", "prompt", "extra")


def anchor(run: Run) -> str:
    """The id of a run's section in the page (run ids are user data: only safe characters)."""
    return "run-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in run.record.run_id)


def run_details(run: Run) -> str:
    """One run: a link to its section, its timings, and each provenance blob folded."""
    record = run.record
    timings = ", ".join(f"{k} {format_number(v)} s" for k, v in record.timings.items())
    out = [
        f"<div class='run-details'><a href='#{anchor(run)}'>{html.escape(run.task_label)}</a> "
        f"<code>{html.escape(record.run_id)}</code> · finished {html.escape(str(record.finished_at))}"
        f" · timings: {html.escape(timings or 'none recorded')}"
    ]
    for title in FOLDED:
        blob = getattr(record, title)
        if blob:
            dumped = json.dumps(blob, indent=2, sort_keys=True, default=str)
            out.append(
                f"<details><summary>{title}</summary><pre>{html.escape(dumped)}</pre></details>"
            )
    if record.timings:
        dumped = json.dumps(record.timings, indent=2, sort_keys=True, default=str)
        out.append(f"<details><summary>timings</summary><pre>{html.escape(dumped)}</pre></details>")
    out.append("</div>")
    return "\n".join(out)


def runs_details(runs: Sequence[Run]) -> str:
    """Every run behind a leaderboard row, folded under one summary line."""
    inner = "\n".join(run_details(r) for r in runs)
    return (
        f"<details class='row-runs'><summary>{len(runs)} run(s): configuration, versions, "
        f"timings</summary>\n{inner}\n</details>"
    )
