"""`janus-eval geneval-score`: GenEval's rules over image folders any tool made. Contributed to
the CLI through the registry, so the core never imports GenEval.

It sits beside the geneval package, not in it, and imports the package only when the command
runs: `janus-eval --help` imports every command module, and importing anything inside
tasks/geneval/ runs the package's __init__, which registers the task and pulls in numpy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from janus_eval.cliutil import console, metrics_table, parse_kv
from janus_eval.registry import coerce_options, register_command


@register_command("geneval-score")
def geneval_score(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Images in GenEval's layout: <NNNNN>/metadata.jsonl and <NNNNN>/samples/*.png "
            "(a geneval run's images/ folder, or the official generation script's output)."
        ),
    ],
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where geneval_results.jsonl and geneval_grid.html go (default: FOLDER)."
        ),
    ] = None,
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            "--task-option",
            "-O",
            help="GenEval option KEY=VALUE (detector, detector_path, "
            "clip_path, device, ...; see `janus-eval tasks geneval`).",
        ),
    ] = None,
) -> None:
    """Score images that already exist (made by any tool) with GenEval's official rules."""
    from .geneval.folder import score_folder
    from .geneval.task import GenEval

    given = parse_kv(task_option, "--task-option")
    options = coerce_options(GenEval.default_options(), given)
    summary = score_folder(folder, output_dir=output_dir, progress=True, **options)
    console.print(metrics_table(f"GenEval · {folder}", summary))
