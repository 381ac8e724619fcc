"""The papers-layout leaderboard (`papers.paper_leaderboard`) as Markdown, plain text, CSV,
JSON or an HTML table.

Markdown and text round for people: a measured cell with a reported number beside it reads
`86.10 (-1.30)`, the delta measured - reported; `*` marks a partial run and `≠` a number
measured under another definition than the paper's (the notes under the table say how). CSV and
JSON keep full precision for machines. Every format is a pure function of the table, so the
same runs give the same bytes (what `janus-eval publish` relies on).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from janus_eval.report.escape import csv_text, md_escape
from janus_eval.report.leaderboard import html_table, markdown_table
from janus_eval.report.papers import row_label
from janus_eval.report.records import format_number
from janus_eval.types import UserError

PAPER_FORMATS = ("md", "text", "csv", "json", "html")
PARTIAL_MARK = "*"
MISMATCH_MARK = "≠"
_ID_HEADERS = ("model", "checkpoint", "source")


def render_papers(table: dict[str, Any], fmt: str = "md") -> str:
    """The table in one of PAPER_FORMATS (see the module docstring)."""
    if fmt == "json":
        return json.dumps(table, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(table)
    if fmt == "md":
        return _markdown(table)
    if fmt == "text":
        return _text(table)
    if fmt == "html":
        return html_table(_headers(table), _cells(table, str), css_class="leaderboard papers")
    raise UserError(f"unknown leaderboard format {fmt!r}; choose one of {', '.join(PAPER_FORMATS)}")


def _headers(table: dict[str, Any]) -> list[str]:
    arrows = [c["label"] + (" ↑" if c["higher_is_better"] else " ↓") for c in table["columns"]]
    return [*_ID_HEADERS, *arrows]


def _source(row: dict[str, Any]) -> str:
    return f"reported · {row['paper']}" if row["reported"] else "measured"


def _cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "—"
    text = format_number(cell["value"])
    if cell.get("partial"):
        text += PARTIAL_MARK
    if "delta" in cell:
        delta = cell["delta"]
        text += f" ({'+' if delta >= 0 else '-'}{format_number(abs(delta))})"
    if cell.get("mismatch"):
        text += " " + MISMATCH_MARK
    return text


def _cells(table: dict[str, Any], escape: Callable[[object], str]) -> list[list[str]]:
    keys = [c["key"] for c in table["columns"]]
    out = []
    for row in table["rows"]:
        ids = [row["model"], row["checkpoint"], _source(row)]
        out.append([escape(v) for v in ids] + [_cell_text(row["cells"].get(k)) for k in keys])
    return out


def _group_line(table: dict[str, Any]) -> str:
    labels = {c["key"]: c["label"] for c in table["columns"]}
    return " ‖ ".join(
        f"{g['name']}: {', '.join(labels[k] for k in g['columns'])}" for g in table["groups"]
    )


def _note_lines(table: dict[str, Any], escape: Callable[[object], str]) -> list[str]:
    lines = [escape(n) for n in table["notes"]]
    cells = [c for r in table["rows"] for c in r["cells"].values()]
    if any(c.get("partial") for c in cells):
        lines.append(f"{PARTIAL_MARK} partial run (incomplete or --limit)")
    if any(c.get("mismatch") for c in cells):
        lines.append(f"{MISMATCH_MARK} measured under another definition than the paper's number")
    for row in table["rows"]:
        lines.extend(f"{escape(row_label(row))}: {escape(note)}" for note in row["notes"])
    return lines


def _markdown(table: dict[str, Any]) -> str:
    headers = _headers(table)
    numeric = [h not in _ID_HEADERS for h in headers]
    body = markdown_table(headers, _cells(table, md_escape), numeric)
    notes = "".join(f"- {line}\n" for line in _note_lines(table, md_escape))
    return f"{md_escape(_group_line(table))}\n\n{body}\n{notes}"


def _text(table: dict[str, Any]) -> str:
    headers = _headers(table)
    rows = [headers, *_cells(table, _plain)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < len(_ID_HEADERS) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    notes = "".join(f"  {line}\n" for line in _note_lines(table, _plain))
    body = "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])
    return f"{_group_line(table)}\n\n{body}\n\nnotes:\n{notes}"


def _plain(value: object) -> str:
    return " ".join(str(value).split())


def _csv(table: dict[str, Any]) -> str:
    keys = [c["key"] for c in table["columns"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["reported", "model", "checkpoint", "weights", "paper",
                     *[c["label"] for c in table["columns"]], "notes"])  # fmt: skip
    for row in table["rows"]:
        values = [repr(row["cells"][k]["value"]) if k in row["cells"] else "" for k in keys]
        text = [row["model"], row["checkpoint"], row["weights"], row["paper"] or ""]
        writer.writerow([str(row["reported"]).lower(), *map(csv_text, text), *values,
                         csv_text("; ".join(row["notes"]))])  # fmt: skip
    return buffer.getvalue()


def paper_leaderboard_text(
    paths: Sequence[str | Path], fmt: str, reference: Sequence[str | Path] | None = None
) -> str:
    """`janus-eval leaderboard --layout papers`: the runs at or below `paths` with the reference
    rows, rendered as `fmt`."""
    from janus_eval.report.papers import paper_leaderboard
    from janus_eval.report.records import load_runs
    from janus_eval.report.reference import load_reference

    if fmt not in PAPER_FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(PAPER_FORMATS)}")
    return render_papers(paper_leaderboard(load_runs(paths), load_reference(reference)), fmt)
