"""The suite side of the CLI: `janus-eval suites` and the table `run --suite` prints at the end
(kept beside cli.py so the command module stays thin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from janus_eval import registry
from janus_eval.cliutil import console
from janus_eval.suites import Suite


def suites(
    name: Annotated[str | None, typer.Argument(help="Show one suite's settings in full.")] = None,
) -> None:
    """List suites (`janus-eval run --suite NAME`) with their tasks in the papers' order."""
    shown = [registry.suite(name)] if name else [registry.suite(n) for n in registry.suite_names()]
    table = Table(title="suites (janus-eval suites NAME for each task's settings and source)")
    for col in ("suite", "tasks", "description"):
        table.add_column(col, overflow="fold")
    for suite in shown:
        table.add_row(suite.name, ", ".join(suite.task_names()), suite.description)
    console.print(table)
    if name:
        for item in shown[0].tasks:
            options = " ".join(f"{k}={v}" for k, v in item.options.items()) or "(defaults)"
            console.print(f"[bold]{item.task}[/] ({item.column}): {options}", highlight=False)
            console.print(f"  source: {item.source}", highlight=False)


def print_suite_table(suite: Suite, run_dirs: list[Path]) -> None:
    """The suite's runs as one leaderboard. A suite of the papers' benchmarks gets the papers'
    layout (understanding | generation, in the papers' column order) with the numbers the
    papers report beside it (results/reference/); any other suite its tasks in its own order."""
    from janus_eval.report.papers import PAPER_COLUMNS
    from janus_eval.report.papers_render import paper_leaderboard_text

    papers = {c.task for c in PAPER_COLUMNS}
    if set(suite.task_names()) <= papers:
        again = "janus-eval leaderboard --layout papers DIRS"
        text = paper_leaderboard_text(run_dirs, "md")
    else:
        from janus_eval.report.leaderboard import build_leaderboard, render_leaderboard

        again = f"janus-eval leaderboard --suite {suite.name} DIRS"
        text = render_leaderboard(build_leaderboard(run_dirs, task_order=suite.task_names()), "md")
    console.print(f"[bold]{suite.name}[/] ({len(run_dirs)} runs; again with `{again}`):")
    print(text)
