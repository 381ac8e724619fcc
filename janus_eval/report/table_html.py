"""The sortable leaderboard table of the HTML report.

Two header lines as in the papers (column groups: understanding | generation, then the
columns), one row per checkpoint, reported rows marked, the best number of each column marked
(largest, or smallest for FID/KID). A small inline script sorts the rows when a column header is
clicked (again: the other way); each row's folded run details travel with it. Without scripts
the table still reads, in its original order.
"""

from __future__ import annotations

import html

from janus_eval.report.run_details import runs_details
from janus_eval.report.table import Table, TableRow, cell_text

SORT_SCRIPT = """
document.querySelectorAll("table.leaderboard").forEach(function (table) {
  var heads = table.querySelectorAll("thead tr.columns th");
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var groups = [];
      Array.prototype.forEach.call(body.rows, function (row) {
        if (row.classList.contains("details") && groups.length) {
          groups[groups.length - 1].push(row);
        } else {
          groups.push([row]);
        }
      });
      groups.sort(function (a, b) {
        var x = a[0].cells[col].getAttribute("data-sort");
        var y = b[0].cells[col].getAttribute("data-sort");
        if (x === "" || y === "") { return (x === "") - (y === ""); }  /* blanks last */
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? order : -order;
      });
      groups.forEach(function (g) { g.forEach(function (r) { body.appendChild(r); }); });
    });
  });
});
"""

TABLE_CSS = """
table.leaderboard thead tr.columns th { cursor: pointer; }
table.leaderboard th[aria-sort=ascending]::after { content: " ▲"; }
table.leaderboard th[aria-sort=descending]::after { content: " ▼"; }
table.leaderboard td.best { font-weight: bold; background: #e8f5e9; }
table.leaderboard tr.reported td { font-style: italic; color: #555; }
table.leaderboard tr.details td { border-top: none; background: #fafafa; }
span.tag { font-size: 11px; border: 1px solid #999; border-radius: 3px; padding: 0 3px; }
"""


def render_table(table: Table) -> str:
    """The `<table class="leaderboard">` element; pair it with SORT_SCRIPT on the page."""
    width = len(table.columns) + 2
    groups = "".join(f"<th colspan='{n}'>{html.escape(name)}</th>" for name, n in table.groups)
    heads = "".join(f"<th>{html.escape(c.key)}</th>" for c in table.columns)
    lines = [
        '<div class="scroll">',
        '<table class="leaderboard">',
        f"<thead><tr class='groups'><th></th>{groups}<th></th></tr>",
        f"<tr class='columns'><th>model</th>{heads}<th>notes</th></tr></thead>",
        "<tbody>",
    ]
    best = {c.key: table.best(c) for c in table.columns}
    for row in table.rows:
        lines.append(_row(table, row, best))
        if row.runs:
            lines.append(
                f"<tr class='details'><td colspan='{width}'>{runs_details(row.runs)}</td></tr>"
            )
    lines.append("</tbody></table></div>")
    if any(r.partial for r in table.rows):
        lines.append("<p class='footnote'>* partial run (incomplete or --limit); see notes</p>")
    if any(r.reported for r in table.rows):
        lines.append(
            "<p class='footnote'><span class='tag'>reported</span> numbers as published in the "
            "paper, not run here</p>"
        )
    return "\n".join(lines)


def _row(table: Table, row: TableRow, best: dict[str, float | None]) -> str:
    label = html.escape(row.label)
    tag = " <span class='tag'>reported</span>" if row.reported else ""
    cells = [f"<td data-sort='{label}'>{label}{tag}</td>"]
    for column in table.columns:
        value = row.values.get(column.key)
        is_best = value is not None and value == best[column.key]
        klass = "num best" if is_best else "num"
        title = " title='best in this column'" if is_best else ""
        sort = "" if value is None else repr(float(value))
        cells.append(
            f"<td class='{klass}' data-sort='{sort}'{title}>{html.escape(cell_text(row, column))}</td>"
        )
    notes = html.escape(row.notes)
    cells.append(f"<td data-sort='{notes}'>{notes}</td>")
    klass = " class='reported'" if row.reported else ""
    return f"<tr{klass}>" + "".join(cells) + "</tr>"
