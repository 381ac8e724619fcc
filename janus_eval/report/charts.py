"""Charts for the HTML report: matplotlib figures saved as SVG and inlined in the page.

Why matplotlib (not Vega-Lite via altair): the page must open with no network, and a Vega-Lite
chart needs the vega runtime (about 1 MB of JavaScript) inlined, or a headless renderer
(vl-convert, a bundled JavaScript engine) to turn it into SVG; matplotlib writes plain SVG
itself, is already what researchers plot GenEval and FID numbers with, and needs nothing at
view time. The SVG is deterministic so a published report diffs cleanly: `svg.hashsalt` is
fixed, the date and the `<metadata>` block are dropped, and text stays `<text>` (`svg.fonttype`
none) so chart labels are searchable, selectable and checkable by tests.

Every label is user data (model names, categories, metric names): matplotlib's SVG writer
escapes text and attributes, mathtext is switched off (`text.parse_math`, so a `$` in a
category cannot break or restyle a label), and tooltips are added as `<title>` children through
ElementTree, which escapes them too.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

_RC = {
    "svg.hashsalt": "janus-eval",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": 9,
    "font.family": "DejaVu Sans",
    "axes.spines.top": False,
    "axes.spines.right": False,
}
VERDICT_COLOURS = {True: "#2a9d3a", False: "#d43c3c", None: "#777777"}


@dataclass(frozen=True)
class Bar:
    """A value with the tooltip shown on hover."""

    value: float | None
    tooltip: str


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    xlabel: str = "",
) -> str:
    """Grouped horizontal bars: one group per category, one bar per series (checkpoint).

    `series[name][i]` is the value of category i (None: no bar). Returns an `<svg>` element.
    """
    import matplotlib
    from matplotlib.figure import Figure

    names = list(series)
    n_cat, n_ser = len(categories), max(1, len(names))
    slot = 0.8 / n_ser
    height = min(60.0, 1.0 + n_cat * (0.14 * n_ser + 0.12))
    tips: dict[str, str] = {}
    prefix = _id_prefix(title, categories, series)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.5, height))
        ax = fig.add_subplot()
        colours = matplotlib.colormaps["tab10" if n_ser <= 10 else "tab20"].colors
        for j, name in enumerate(names):
            present = [(i, v) for i, v in enumerate(series[name]) if v is not None]
            if not present:
                continue
            bars = ax.barh([i - 0.4 + slot * (j + 0.5) for i, _ in present],
                           [v for _, v in present], height=slot * 0.9,
                           color=colours[j % len(colours)], label=name)  # fmt: skip
            for patch, (i, value) in zip(bars.patches, present, strict=True):
                gid = f"{prefix}-{j}-{i}"
                patch.set_gid(gid)
                tips[gid] = f"{name} · {categories[i]}: {value:.4g}"
        ax.set_yticks(range(n_cat), [str(c) for c in categories])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
        return _to_svg(fig, tips)


def delta_chart(title: str, labels: Sequence[str], deltas: Sequence[float | None],
                intervals: Sequence[tuple[float, float] | None],
                verdicts: Sequence[bool | None], tooltips: Sequence[str]) -> str:  # fmt: skip
    """Deltas (candidate - baseline) as points with their 95% intervals as error bars, coloured by
    gate verdict (green pass, red fail, grey no gate); a line marks zero."""
    import matplotlib
    from matplotlib.figure import Figure

    tips: dict[str, str] = {}
    prefix = _id_prefix(title, labels, deltas, intervals)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.5, 1.2 + 0.28 * len(labels)))
        ax = fig.add_subplot()
        ax.axvline(0, color="#444", linewidth=0.8)
        for i, (delta, interval) in enumerate(zip(deltas, intervals, strict=True)):
            if delta is None:
                continue
            # clipped at 0: a recorded (rounded) delta can sit just outside the interval of
            # the per-sample means (compare warns when run.json and the samples disagree)
            xerr = None
            if interval is not None:
                xerr = [[max(0.0, delta - interval[0])], [max(0.0, interval[1] - delta)]]
            container = ax.errorbar(delta, i, xerr=xerr, fmt="o", capsize=3,
                                    color=VERDICT_COLOURS[verdicts[i]])  # fmt: skip
            gid = f"{prefix}-{i}"
            container.lines[0].set_gid(gid)
            tips[gid] = tooltips[i]
        ax.set_yticks(range(len(labels)), [str(s) for s in labels])
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlabel("candidate - baseline (95% paired-bootstrap interval where per-sample)")
        ax.set_title(title, loc="left")
        ax.grid(axis="x", alpha=0.3)
        return _to_svg(fig, tips)


def _id_prefix(*content: object) -> str:
    """Ids for the tooltip targets: unique per chart on a page (several charts share it) and
    a function of the chart's content, so the same runs give the same bytes."""
    return "c" + hashlib.sha256(repr(content).encode()).hexdigest()[:10]


def _to_svg(fig, tooltips: Mapping[str, str]) -> str:
    """The figure as one `<svg>` element (no XML prolog), with a `<title>` per tooltip id."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    root = ET.fromstring(buffer.getvalue())
    for meta in root.findall(f"{{{SVG_NS}}}metadata"):
        root.remove(meta)
    for element in root.iter():
        tip = tooltips.get(element.get("id", ""))
        if tip is not None:
            title = ET.Element(f"{{{SVG_NS}}}title")
            title.text = tip
            element.insert(0, title)
    root.set("class", "chart")
    return ET.tostring(root, encoding="unicode")
