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

    names = list(series)
    n_cat, n_ser = len(categories), max(1, len(names))
    slot = 0.8 / n_ser
    tips: dict[str, str] = {}
    prefix = _id_prefix(title, categories, series)
    with matplotlib.rc_context(_RC):
        right = _text_width(names, 8) + 0.6  # the legend, beside the axes
        fig, ax = _figure(
            left=_text_width(categories, 9) + 0.2,
            width=max(4.5, _text_width([title], 10.8) - right),
            height=max(n_cat * (0.1 * n_ser + 0.15), 0.17 * n_ser),
            right=right,
        )
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
        ax.set_ylim(n_cat - 0.5, -0.5)  # first category on top, no empty margin
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

    tips: dict[str, str] = {}
    prefix = _id_prefix(title, labels, deltas, intervals)
    with matplotlib.rc_context(_RC):
        xlabel = "candidate - baseline (95% paired-bootstrap interval where per-sample)"
        fig, ax = _figure(
            left=_text_width(labels, 9) + 0.2,
            width=max(5.0, _text_width([title], 10.8), _text_width([xlabel], 9)),
            height=0.28 * len(labels) + 0.1,
            right=0.3,
        )
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
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="x", alpha=0.3)
        return _to_svg(fig, tips)


def _text_width(texts: Sequence[object], size: float) -> float:
    """Width in inches of the widest text at `size` points, from matplotlib's own font metrics.

    Margins are computed, not found by `bbox_inches="tight"`, which draws every figure twice
    (half of a chart's time; charts are most of a large report's)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family=_RC["font.family"], size=size)
    widths = [text_to_path.get_text_width_height_descent(str(t), prop, ismath=False)[0]
              for t in texts]  # fmt: skip
    return max(widths, default=0.0) / 72


def _figure(*, left: float, width: float, height: float, right: float):
    """A figure with one axes of `width` x `height` inches and the given side margins (room
    for the title above and the x tick labels and label below)."""
    from matplotlib.figure import Figure

    top, bottom = 0.35, 0.55
    height = min(height, 60.0)
    fig_w, fig_h = left + width + right, top + height + bottom
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    return fig, ax


def _id_prefix(*content: object) -> str:
    """Ids for the tooltip targets: unique per chart on a page (several charts share it) and
    a function of the chart's content, so the same runs give the same bytes."""
    return "c" + hashlib.sha256(repr(content).encode()).hexdigest()[:10]


def _to_svg(fig, tooltips: Mapping[str, str]) -> str:
    """The figure as one `<svg>` element (no XML prolog), with a `<title>` per tooltip id."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
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
