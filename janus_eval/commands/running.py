"""`janus-eval run` and `janus-eval merge`: evaluate tasks against a model, join slices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from janus_eval import registry
from janus_eval.cliutil import console, metrics_table, parse_kv, setup_logging
from janus_eval.types import RunRecord, UserError


def run(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Adapter name (see `janus-eval models`): janus, janus-tiny, hf-janus, dummy, ...",
        ),
    ],
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            "-t",
            help="Task name, comma-separated names, or 'all'. See `janus-eval tasks`. With "
            "--suite: only these tasks of the suite (still with the suite's settings).",
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            "-s",
            help="Run a named list of tasks with one loaded model and each paper's settings "
            "(see `janus-eval suites`); task options given here override the suite's.",
        ),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            "--skip",
            help="Leave out these tasks (repeatable or comma-separated), e.g. --skip mmvet when "
            "no judge endpoint is at hand.",
        ),
    ] = None,
    model_path: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint: a local directory or a Hugging Face hub name "
            "(e.g. deepseek-ai/Janus-Pro-7B)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="The task's data files (see `janus-eval tasks` for what each expects). With "
            "several tasks or a suite, DATA_DIR/<task> is used where it exists."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N samples.")] = None,
    batch_size: Annotated[
        str,
        typer.Option(help="Requests per adapter call, or 'auto' to size from free device memory."),
    ] = "8",
    seed: Annotated[
        int,
        typer.Option(
            help="Run seed; image k of sample s draws from a stream fixed by (seed, s, k)."
        ),
    ] = 0,
    output_dir: Annotated[Path, typer.Option(help="Where run directories go.")] = Path(
        "results/runs"
    ),
    device: Annotated[str, typer.Option(help="cuda, cuda:N or cpu.")] = "cpu",
    dtype: Annotated[str, typer.Option(help="bf16, fp32 or fp16.")] = "fp32",
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--no-resume",
            help="Reuse results stored by an earlier identical run (default). --no-resume moves "
            "earlier results aside (never deletes them; with --shard, that slice's only) and "
            "starts over.",
        ),
    ] = True,
    task_option: Annotated[
        list[str] | None,
        typer.Option(
            "--task-option",
            "-O",
            help="Task option KEY=VALUE (repeatable); see `janus-eval tasks`. With several "
            "tasks, KEY=VALUE goes to every task that has KEY and TASK.KEY=VALUE to TASK alone "
            "(e.g. -O mmvet.judge_url=http://localhost:8000/v1).",
        ),
    ] = None,
    model_option: Annotated[
        list[str] | None,
        typer.Option("--model-option", "-M", help="Adapter option KEY=VALUE (repeatable)."),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Run only slice I/N of the samples (merge slices with `janus-eval merge`). Under "
            "torchrun the ranks are the slices and this is not needed."
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Use the task's small built-in sample instead of --data-dir, and offline "
            "stand-ins for scoring weights you do not name (GenEval's detector and CLIP, the FID "
            "extractor, MM-Vet's judge): runs without network; marked DEMO, its numbers mean "
            "nothing.",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run tasks (or a suite) against a model; results go to OUTPUT_DIR/<run-id>/ as they
    finish. Every task is set up (options, judge) before the model is loaded."""
    from janus_eval import api, suites
    from janus_eval.commands.suites import print_suite_table

    setup_logging(verbose)
    chosen = registry.suite(suite) if suite else None
    if chosen is None and not task:
        raise UserError("say what to run: --task NAME[,NAME...] or --suite NAME")
    skipped = [n.strip() for item in skip or [] for n in item.split(",") if n.strip()]
    names = suites.select(chosen, _task_names(task), skipped)
    planned = suites.plan(
        names,
        suite=chosen,
        options=parse_kv(task_option, "--task-option"),
        data_dir=data_dir,
        demo=demo,
    )
    shared = api.SharedModel(model, model_path, parse_kv(model_option, "--model-option"))
    records = []
    for item in planned:  # each task with its own data folder (suites.plan found it)
        record = api.evaluate(
            item.task,
            shared,
            data_dir=item.data_dir,
            limit=limit,
            batch_size=batch_size,
            seed=seed,
            output_dir=output_dir,
            device=device,
            dtype=dtype,
            resume=resume,
            progress=progress,
            shard=shard,
            demo=demo,
        )
        _print_run(record, output_dir / record.run_id, demo)
        records.append(record)
    if chosen is not None and not shard:
        print_suite_table(chosen, [output_dir / r.run_id for r in records])


def _task_names(spec: str | None) -> list[str]:
    names = [t.strip() for t in (spec or "").split(",") if t.strip()]
    if names == ["all"]:
        return registry.task_names()
    for name in names:
        registry.task_class(name)  # raises a UserError listing the valid names
    return names


def _print_run(record: RunRecord, run_dir: Path, demo: bool) -> None:
    if record.shard:
        console.print(
            f"slice {record.shard['index']}/{record.shard['count']} stored in "
            f"{run_dir}: {record.n_computed} computed, {record.n_reused} reused"
        )
        return
    if record.metrics:
        console.print(record_table(record))
    if demo:
        console.print(
            "[bold yellow]DEMO[/]: built-in sample data; with a random-weight "
            "model these numbers mean nothing. See README.md for real use."
        )
    console.print(
        f"{record.n_computed} computed, {record.n_reused} reused from an earlier "
        f"run · {record.timings.get('samples_per_s', 0)} samples/s · {run_dir}"
    )


def record_table(record: RunRecord):  # -> rich.table.Table
    title = f"{record.task} · {record.model.get('name')} · {record.run_id}"
    return metrics_table(title, record.metrics, record.primary_metric)


def merge(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Shard run directories (or one shared directory holding every slice)."),
    ],
    output_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the merged run goes when the slices live in different directories."
        ),
    ] = None,
) -> None:
    """Join `--shard I/N` slices into one run record (refuses mismatched or missing slices)."""
    from janus_eval.merge import merge_runs

    record = merge_runs(paths, output_dir)
    console.print(record_table(record))
