"""The `janus-eval publish` command (attached by janus_eval.cli): arguments only; the work is in
report/publish.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from janus_eval.cliutil import console


def publish(
    paths: Annotated[list[Path], typer.Argument(help="Run directories or folders holding them.")],
    to: Annotated[Path, typer.Option("--to", help="Folder the files are written to.")] = Path(
        "results"
    ),
    reference: Annotated[
        list[Path] | None,
        typer.Option(help="Reference files or folders (default results/reference)."),
    ] = None,
    max_images: Annotated[int, typer.Option(help="Thumbnails per generation run.")] = 24,
) -> None:
    """Write leaderboard.md/.csv/.json (the papers' layout, reported rows beside measured runs)
    and index.html into --to; the same runs always give byte-identical files."""
    from janus_eval.report.publish import publish as publish_runs

    for path in publish_runs(paths, to, reference=reference, max_images=max_images):
        console.print(f"wrote {path}")
