"""What every command of `janus-eval` shares, the core's and those plug-ins contribute through
`registry.register_command`: the consoles, KEY=VALUE parsing and the tables and JSON printed."""

from __future__ import annotations

import json
import logging
from typing import Any

from rich.console import Console
from rich.table import Table

from janus_eval.types import UserError

console = Console()
err_console = Console(stderr=True)


def setup_logging(verbose: bool) -> None:
    """janus_eval's log lines on stderr through rich; -v shows debug lines too."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )
    logging.getLogger("janus_eval").setLevel(logging.DEBUG if verbose else logging.INFO)


def parse_kv(items: list[str] | None, flag: str) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`; anything without `=` is a UserError."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested breakdowns as `name/sub` keys, the way tables and gates name them."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat


def metrics_table(title: str, metrics: dict[str, Any], primary: str | None = None) -> Table:
    """One row per (flattened) metric, the primary one in bold."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in flatten(metrics).items():
        style = "bold" if name == primary else None
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        table.add_row(name, shown, style=style)
    return table


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))
