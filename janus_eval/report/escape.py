"""Escaping user-controlled text (model names, checkpoints, categories, metric keys, warnings) for
Markdown that GitHub renders (a pull-request comment or a published leaderboard) and for CSV that
a spreadsheet opens.

GitHub's Markdown passes some raw HTML through and turns `*`, `_`, `[...](...)` and backticks
into formatting, so a checkpoint called `<img src=x onerror=alert(1)>` or `**bold**` must be
written so it shows literally. Everything that could start markup becomes a numeric character
reference; references contain no backslash or `|`, so they survive being put in a table cell.
"""

from __future__ import annotations

_MARKDOWN_SPECIAL = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "|": "&#124;",
    "\\": "&#92;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "[": "&#91;",
    "]": "&#93;",
    "~": "&#126;",
    "#": "&#35;",
    "!": "&#33;",
}
_TABLE = str.maketrans(_MARKDOWN_SPECIAL)


def md_escape(text: object) -> str:
    """`text` as literal Markdown on one line (newlines become spaces)."""
    return " ".join(str(text).translate(_TABLE).split())


#: What a spreadsheet reads as the start of a formula (OWASP's CSV-injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: object) -> object:
    """A text cell that Excel or LibreOffice shows as text, never runs: a model called
    `=HYPERLINK("http://x","click")` gets a leading `'`. Numbers pass unchanged, so a negative
    delta stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
