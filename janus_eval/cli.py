"""The `janus-eval` command: parse, call the API, print. No logic of its own lives here.

The core's commands live in janus_eval/commands/ by subject; tasks and adapters contribute
theirs through `registry.register_command` (GenEval's folder scoring, Janus's benchmarks), so
this module imports neither. Nothing heavy is imported until a command runs: `--help` is fast.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from janus_eval import registry
from janus_eval.cliutil import err_console
from janus_eval.commands import bench, catalog, reports, running, suites
from janus_eval.commands.publishing import publish

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

for command in (
    running.run,
    catalog.tasks,
    catalog.models,
    suites.suites,
    reports.leaderboard,
    reports.compare,
    running.merge,
    reports.report,
    catalog.version,
):
    app.command()(command)
app.command("publish")(publish)
bench_app.command("fid")(bench.fid)


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
