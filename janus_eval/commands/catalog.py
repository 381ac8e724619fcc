"""`janus-eval tasks`, `janus-eval models`, `janus-eval version`: what is installed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from janus_eval import __version__, registry
from janus_eval.cliutil import console


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


def models() -> None:
    """List registered model adapters."""
    table = Table(title="models")
    table.add_column("name")
    table.add_column("description", overflow="fold")
    for name in registry.adapter_names():
        doc = (registry.adapter_class(name).__doc__ or "").strip().split("\n\n")[0]
        table.add_row(name, " ".join(doc.split()))
    console.print(table)


def version() -> None:
    """Print the janus-eval version."""
    print(__version__)
