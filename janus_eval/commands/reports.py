"""`janus-eval leaderboard`, `compare` and `report`: tables and pages made from run records."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from janus_eval.cliutil import console, err_console, parse_kv
from janus_eval.types import UserError


def leaderboard(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Run directories or folders holding them (default: results/runs)."),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="md, csv, html or json (papers layout: text too).")
    ] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    sub_metrics: Annotated[bool, typer.Option(help="Add every sub-metric as a column.")] = False,
    layout: Annotated[
        str,
        typer.Option(help="tasks, or papers: the papers' columns beside their reported numbers."),
    ] = "tasks",
    reference: Annotated[
        list[Path] | None,
        typer.Option(help="Reference files or folders (papers layout; default results/reference)."),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(help="Order the columns as this suite's tasks (the paper's order)."),
    ] = None,
) -> None:
    """One row per model/checkpoint, one column per task's primary metric, from run records."""
    from janus_eval.report.leaderboard import build_leaderboard, render_leaderboard
    from janus_eval.store import atomic_write_text

    if layout == "papers":
        from janus_eval.report.papers_render import paper_leaderboard_text

        if sub_metrics:
            raise UserError(
                "--sub-metrics adds columns to --layout tasks; the papers' has fixed ones"
            )

        text = paper_leaderboard_text(paths or [Path("results/runs")], format, reference)
    elif layout != "tasks":
        raise UserError(f"--layout {layout!r}: choose tasks or papers")
    elif format not in ("md", "csv", "html", "json"):
        raise UserError(f"--format {format!r}: choose md, csv, html or json")
    else:
        from janus_eval import registry

        order = registry.suite(suite).task_names() if suite else ()
        frame = build_leaderboard(
            paths or [Path("results/runs")], sub_metrics=sub_metrics, task_order=order
        )
        text = render_leaderboard(frame, format)
    if output:
        atomic_write_text(output, text, hint="or choose another --output")
        console.print(f"wrote {output}")
    else:
        print(text)


def compare(
    baseline: Annotated[
        Path, typer.Argument(help="Baseline run directory, or a folder of runs (matched by task).")
    ],
    candidate: Annotated[
        Path, typer.Argument(help="Candidate run directory, or a folder of runs (matched by task).")
    ],
    max_drop: Annotated[
        list[str] | None,
        typer.Option(
            help="Gate METRIC=VALUE (repeatable): fail when the candidate is worse than the "
            "baseline by more than VALUE (lower-is-better metrics such as FID: higher by "
            "more than VALUE)."
        ),
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
    format: Annotated[
        str, typer.Option("--format", "-f", help="table, md, json, or markdown (a PR comment).")
    ] = "table",
) -> None:
    """Per-metric deltas with paired-bootstrap 95% intervals; exit 1 when a gate fails."""
    from janus_eval.report.compare import compare_runs, render_comparison
    from janus_eval.report.pr_comment import render_pr_comment

    if format not in ("table", "md", "json", "markdown"):
        raise UserError(f"--format {format!r}: choose table, md, json or markdown")
    gates = {k: gate_value(v, k) for k, v in parse_kv(max_drop, "--max-drop").items()}
    result = compare_runs(baseline, candidate, max_drop=gates, n_boot=n_boot, seed=seed)
    if format == "markdown":
        print(render_pr_comment(result, baseline=str(baseline), candidate=str(candidate)))
    else:
        print(render_comparison(result, format))
    if result.failed:
        err_console.print("[red]gate failed[/]")
        raise typer.Exit(1)


def gate_value(text: str, key: str) -> float:
    """A `--max-drop` VALUE: a finite number >= 0 (nan would always fail, inf always pass)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise UserError(
            f"--max-drop {key}={text!r}: VALUE must be a finite number >= 0 (the largest "
            "drop allowed, e.g. --max-drop accuracy=0.5)"
        )
    return value


def report(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Run directories or folders holding them (default: results/runs)."),
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("results/report.html"),
    max_images: Annotated[int, typer.Option(help="Thumbnails per generation run.")] = 24,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint the others are compared with (model name or row label; "
            "default: the first row)."
        ),
    ] = None,
    max_drop: Annotated[
        list[str] | None,
        typer.Option(help="Gate METRIC=VALUE shown in the comparisons, as in `compare`."),
    ] = None,
    gallery_prompts: Annotated[
        int, typer.Option(help="Prompts per gallery group (GenEval tag), 0 for none.")
    ] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the gallery prompts and the bootstrap.")] = 0,
    timestamp: Annotated[
        bool,
        typer.Option(help="Print the generation time (--no-timestamp: same runs, same bytes)."),
    ] = True,
    reference: Annotated[
        list[Path] | None,
        typer.Option(
            help="Reference files or folders: the papers' numbers shown as reported rows "
            "(default results/reference)."
        ),
    ] = None,
) -> None:
    """A self-contained HTML report: sortable leaderboard, breakdown charts, comparisons with
    95% intervals, image galleries, run configs."""
    from janus_eval.report.html import write_html_report
    from janus_eval.report.reference import load_reference

    gates = {k: gate_value(v, k) for k, v in parse_kv(max_drop, "--max-drop").items()}
    path = write_html_report(
        paths or [Path("results/runs")], output, max_images=max_images, baseline=baseline,
        max_drop=gates, gallery_prompts=gallery_prompts, seed=seed, timestamp=timestamp,
        references=load_reference(reference),
    )  # fmt: skip
    size = path.stat().st_size / 1e6
    console.print(f"wrote {path} ({size:.1f} MB)")
