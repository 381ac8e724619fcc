"""The `janus-eval` command: parse, call the API, print. No logic of its own lives here."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from janus_eval import __version__, registry
from janus_eval.cliutil import console, err_console, metrics_table, parse_kv, print_json
from janus_eval.types import UserError

app = typer.Typer(
    name="janus-eval",
    help="Evaluate unified multimodal models (understanding and generation) and compare runs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(
    help="Speed and memory benchmarks against anchors measured in the same "
    "process (see docs/PERFORMANCE.md).",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )


def _metrics_table(record: Any) -> Table:
    title = f"{record.task} · {record.model.get('name')} · {record.run_id}"
    return metrics_table(title, record.metrics, record.primary_metric)


def _resolve_tasks(spec: str) -> list[str]:
    names = [t.strip() for t in spec.split(",") if t.strip()]
    if names == ["all"]:
        return registry.task_names()
    for name in names:
        registry.task_class(name)  # raises a UserError listing the valid names
    return names


def _task_data_dir(data_dir: Path | None, task: str, several: bool) -> Path | None:
    if data_dir is None or not several:
        return data_dir
    return data_dir / task if (data_dir / task).is_dir() else data_dir


@app.command()
def run(
    task: Annotated[
        str,
        typer.Option(
            "--task",
            "-t",
            help="Task name, comma-separated names, or 'all'. See `janus-eval tasks`.",
        ),
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Adapter name (see `janus-eval models`): janus, janus-tiny, hf-janus, dummy, ...",
        ),
    ],
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
            "several tasks, DATA_DIR/<task> is used where it exists."
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
            help="Task option KEY=VALUE (repeatable); see `janus-eval tasks`.",
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
            help="Use the task's small built-in sample instead of --data-dir (offline; "
            "a demo: its numbers mean nothing).",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run tasks against a model; results go to OUTPUT_DIR/<run-id>/ as they finish."""
    from janus_eval import api

    _setup_logging(verbose)
    names = _resolve_tasks(task)
    adapter = api.build_adapter(
        model,
        model_path=model_path,
        device=device,
        dtype=dtype,
        model_options=parse_kv(model_option, "--model-option"),
    )
    for name in names:
        record = api.evaluate(
            name,
            adapter,
            data_dir=_task_data_dir(data_dir, name, len(names) > 1),
            limit=limit,
            batch_size=batch_size,
            seed=seed,
            output_dir=output_dir,
            device=device,
            dtype=dtype,
            resume=resume,
            task_options=parse_kv(task_option, "--task-option"),
            progress=progress,
            shard=shard,
            demo=demo,
        )
        run_dir = output_dir / record.run_id
        if record.shard:
            console.print(
                f"slice {record.shard['index']}/{record.shard['count']} stored in "
                f"{run_dir}: {record.n_computed} computed, {record.n_reused} reused"
            )
            continue
        if record.metrics:
            console.print(_metrics_table(record))
        if demo:
            console.print(
                "[bold yellow]DEMO[/]: built-in sample data; with a random-weight "
                "model these numbers mean nothing. See README.md for real use."
            )
        console.print(
            f"{record.n_computed} computed, {record.n_reused} reused from an earlier "
            f"run · {record.timings.get('samples_per_s', 0)} samples/s · {run_dir}"
        )


@app.command()
def tasks(
    name: Annotated[str | None, typer.Argument(help="Show one task in full.")] = None,
) -> None:
    """List registered tasks (kind, metrics, data); `janus-eval tasks NAME` shows one in full."""
    if name is not None:
        cls = registry.task_class(name)
        console.print(f"[bold]{cls.name}[/] ({cls.kind}, version {cls.version})")
        console.print(
            f"primary metric: [bold]{cls.primary_metric}[/]; all: "
            f"{', '.join(cls.metric_names) or cls.primary_metric}"
        )
        console.print("options (--task-option KEY=VALUE):")
        for key, value in cls.default_options().items():
            console.print(f"  {key} = {value!r}", highlight=False)
        console.print(f"data: {cls.data_help}", highlight=False)
        return
    table = Table(
        title="tasks (janus-eval tasks NAME for options and data details)", show_lines=True
    )
    for col in ("name", "kind", "metrics", "data"):
        table.add_column(col, overflow="fold")
    for task_name in registry.task_names():
        cls = registry.task_class(task_name)
        metrics = ", ".join(
            f"[bold]{m}[/]" if m == cls.primary_metric else m
            for m in (cls.metric_names or (cls.primary_metric,))
        )
        table.add_row(task_name, cls.kind, metrics, cls.data_help.split(". ")[0])
    console.print(table)


@app.command()
def models() -> None:
    """List registered model adapters."""
    table = Table(title="models")
    table.add_column("name")
    table.add_column("description", overflow="fold")
    for name in registry.adapter_names():
        doc = (registry.adapter_class(name).__doc__ or "").strip().split("\n\n")[0]
        table.add_row(name, " ".join(doc.split()))
    console.print(table)


@app.command()
def leaderboard(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Run directories or folders holding them (default: results/runs)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="md, csv, html or json.")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    sub_metrics: Annotated[bool, typer.Option(help="Add every sub-metric as a column.")] = False,
) -> None:
    """One row per model/checkpoint, one column per task's primary metric, from run records."""
    from janus_eval.report.leaderboard import build_leaderboard, render_leaderboard
    from janus_eval.store import atomic_write_text

    if format not in ("md", "csv", "html", "json"):
        raise UserError(f"--format {format!r}: choose md, csv, html or json")
    frame = build_leaderboard(paths or [Path("results/runs")], sub_metrics=sub_metrics)
    text = render_leaderboard(frame, format)
    if output:
        atomic_write_text(output, text, hint="or choose another --output")
        console.print(f"wrote {output}")
    else:
        print(text)


@app.command()
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
    format: Annotated[str, typer.Option("--format", "-f", help="table, md or json.")] = "table",
) -> None:
    """Per-metric deltas with paired-bootstrap 95% intervals; exit 1 when a gate fails."""
    from janus_eval.report.compare import compare_runs, render_comparison

    gates = {k: _float(v, k) for k, v in parse_kv(max_drop, "--max-drop").items()}
    result = compare_runs(baseline, candidate, max_drop=gates, n_boot=n_boot, seed=seed)
    print(render_comparison(result, format))
    if result.failed:
        err_console.print("[red]gate failed[/]")
        raise typer.Exit(1)


def _float(text: str, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):  # nan would always fail, inf always pass
        raise UserError(
            f"--max-drop {key}={text!r}: VALUE must be a finite number >= 0 (the largest "
            "drop allowed, e.g. --max-drop accuracy=0.5)"
        )
    return value


@app.command()
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
    console.print(_metrics_table(record))


@app.command()
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
) -> None:
    """A self-contained HTML report: sortable leaderboard, breakdown charts, comparisons with
    95% intervals, image galleries, run configs."""
    from janus_eval.report.html import write_html_report

    gates = {k: _float(v, k) for k, v in parse_kv(max_drop, "--max-drop").items()}
    path = write_html_report(
        paths or [Path("results/runs")], output, max_images=max_images, baseline=baseline,
        max_drop=gates, gallery_prompts=gallery_prompts, seed=seed, timestamp=timestamp,
    )  # fmt: skip
    size = path.stat().st_size / 1e6
    console.print(f"wrote {path} ({size:.1f} MB)")


@bench_app.command("fid")
def bench_fid(
    folder: Annotated[str | None, typer.Option(help="Image folder (default: synthesised).")] = None,
    reference: Annotated[str | None, typer.Option(help="Reference folder.")] = None,
    n_images: Annotated[int, typer.Option()] = 2000,
    device: Annotated[str, typer.Option()] = "cuda",
    batch_size: Annotated[int, typer.Option()] = 64,
    num_workers: Annotated[int, typer.Option()] = 8,
    inception_path: Annotated[str | None, typer.Option()] = None,
    random_extractor: Annotated[
        bool, typer.Option(help="Random-weight extractor (testing).")
    ] = False,
) -> None:
    """Our streaming FID engine against clean-fid's compute_fid, same images and extractor."""
    from janus_eval.bench.fid import run as run_bench

    print_json(
        run_bench(
            folder=folder,
            reference=reference,
            n_images=n_images,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
            inception_path=inception_path,
            random_extractor=random_extractor,
        )
    )


@app.command()
def version() -> None:
    """Print the janus-eval version."""
    print(__version__)


def _attach_plugin_commands() -> None:
    """Commands tasks and adapters contribute (`registry.register_command`): `janus-eval NAME`,
    or `janus-eval bench NAME` for benchmarks."""
    groups = {"bench": bench_app}
    for (group, name), func in registry.commands().items():
        (groups[group] if group else app).command(name)(func)


_attach_plugin_commands()


def main() -> None:
    """Console entry point: user errors print one message and exit 2, a failed batch exits 1,
    Ctrl-C / SIGTERM say what is kept and exit 130 / 143; never a traceback."""
    from janus_eval.failures import run_main

    run_main(app, _say, sys.argv)


def _say(label: str, text: str) -> None:
    # escaped: a message may hold [brackets] (pip install 'janus-eval[diffusers]')
    prefix = f"[bold red]{label}:[/] " if label else ""
    err_console.print(prefix + escape(text), highlight=False, soft_wrap=True)


if __name__ == "__main__":  # pragma: no cover
    main()
