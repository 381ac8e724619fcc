"""The HTML report over demo runs of two models (dummy, janus-tiny) on POPE (through the CLI)
and GenEval-shaped runs, plus a reported row: layout, charts, comparisons, galleries, and the
page in headless Chromium (sorting, no console error, a screenshot)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run_cli
from report_page_helpers import REFERENCE, chromium_tab, geneval_run, pope_demo_runs

from janus_eval.report.html import write_html_report

DUMMY = "dummy (DEMO) (none)"  # demo runs: rows of their own, marked DEMO
TINY_PREFIX = "janus-tiny (DEMO) (janus-tiny-v4) #"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("page")
    models = pope_demo_runs(root / "runs", run_cli)
    geneval_run(root / "runs", "gen-dummy", models["dummy"], demo=True)
    geneval_run(root / "runs", "gen-tiny", models["janus-tiny"], bonus=1, demo=True)
    out = write_html_report(
        [root / "runs"], root / "report.html", reported=[REFERENCE], baseline="janus-tiny",
        max_drop={"geneval:overall": 0.1, "pope:f1": 100.0}, gallery_prompts=1,
    )  # fmt: skip
    pope = {m: json.loads(next((root / "runs").glob(f"pope-{m}-*/run.json")).read_text())
            for m in ("dummy", "janus-tiny")}  # fmt: skip
    return {"root": root, "path": out, "text": out.read_text(), "pope": pope}


def _svgs(text: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", text, flags=re.S)]


def _svg_text(svg: ET.Element) -> str:
    return " ".join(t for t in svg.itertext() if t.strip())


class _Rows(HTMLParser):
    """The leaderboard's header lines and body rows as lists of (cell text, class)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[tuple[str, str]]]] = []
        self.inside = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("class") == "leaderboard":
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append((a.get("class") or "", []))
        elif self.inside and tag in ("td", "th"):
            self.cell = []
            self.rows[-1][1].append(("", a.get("class") or ""))

    def handle_data(self, data):
        if self.inside and self.cell is not None and self.rows[-1][0] != "details":
            text, klass = self.rows[-1][1][-1]
            self.rows[-1][1][-1] = (text + data, klass)

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False


def test_leaderboard_in_the_papers_layout(page: dict) -> None:
    parser = _Rows()
    parser.feed(page["text"])
    (_, groups), (_, heads), *body = [(k, [(t.strip(), c) for t, c in r]) for k, r in parser.rows]
    assert [t for t, _ in groups] == ["", "understanding", "generation", ""]
    assert [t for t, _ in heads] == ["model", "pope/f1", "geneval[detector=mask2former]/overall",
                                     "notes"]  # fmt: skip
    main = [cells for klass, cells in body if klass != "details"]
    assert [c[0][0].strip() for c in main][0] == DUMMY
    assert main[1][0][0].startswith(TINY_PREFIX)
    assert main[2][0][0] == "Janus-Pro-7B (paper) reported"
    assert len([k for k, _ in body if k == "details"]) == 2  # run details under the run rows
    dummy_f1 = page["pope"]["dummy"]["metrics"]["f1"]
    assert main[0][1] == (f"{dummy_f1:.2f}", "num")
    # best per column: the reported 87.40 for POPE f1, janus-tiny's 0.75 (0.5 < 0.7 < 0.75)
    assert main[2][1] == ("87.40", "num best") and main[1][2] == ("0.75", "num best")
    assert main[0][2] == ("0.5", "num") and main[2][2] == ("0.7", "num")


def test_run_details_fold_config_versions_and_timings(page: dict) -> None:
    text = page["text"]
    details = re.findall(r"<tr class='details'>.*?</tr>", text, flags=re.S)
    assert len(details) == 2
    for block in details:
        assert "2 run(s): configuration, versions, timings" in block
        for title in ("config", "model", "versions"):
            assert f"<summary>{title}</summary>" in block
    tiny_pope = page["pope"]["janus-tiny"]
    assert tiny_pope["run_id"] in details[1] and "<summary>timings</summary>" in details[1]


def test_every_chart_is_an_svg_with_the_checkpoint_names(page: dict) -> None:
    svgs = _svgs(page["text"])
    assert page["text"].count("<svg") == len(svgs) == 3  # two breakdowns, one comparison
    for svg in svgs:
        text = _svg_text(svg)
        assert DUMMY in text and TINY_PREFIX in text, text[:300]
    titles = [_svg_text(s) for s in svgs]
    pope = next(t for t in titles if "pope · f1 per split" in t)
    geneval = next(t for t in titles if "geneval[detector=mask2former] · per_tag" in t)
    assert all(split in pope for split in ("random", "popular", "adversarial"))
    assert "per_tag_images" not in geneval and "colors" in geneval  # counts are not charted
    tooltips = [t.text for s in svgs for t in s.iter(f"{SVG}title")]
    random_f1 = page["pope"]["dummy"]["metrics"]["random"]["f1"]
    assert f"{DUMMY} · random: {random_f1:.4g}" in tooltips
    assert f"{DUMMY} · counting: 0.5" in tooltips


def test_comparison_has_intervals_and_coloured_verdicts(page: dict) -> None:
    text = page["text"]
    section = text.split("<h2 id='comparisons'>")[1].split("<h2 id='galleries'>")[0]
    assert f"<h3>{DUMMY} vs {TINY_PREFIX}" in section  # baseline=janus-tiny
    assert "gates: FAIL (a gate failed)" in section and "class='verdict-fail'" in section
    rows = re.findall(r"<tr( class='(?:pass|fail)')?><td>(.*?)</td><td>(.*?)</td>", section)
    verdicts = {(task, metric): klass for klass, task, metric in rows}
    assert verdicts[("geneval[detector=mask2former]", "overall")] == " class='fail'"  # 0.75 -> 0.5
    assert verdicts[("pope", "f1")] == " class='pass'"
    accuracy = re.search(r"<td>pope</td><td>accuracy</td>(.*?)</tr>", section).group(1)
    ci = re.search(r"<td>\[(-?[\d.]+), (-?[\d.]+)\]</td>", accuracy)
    assert ci, "POPE accuracy is a per-sample mean: it has a bootstrap interval"
    base, cand = (page["pope"][m]["metrics"]["accuracy"] for m in ("janus-tiny", "dummy"))
    assert float(ci.group(1)) <= round(cand - base, 2) <= float(ci.group(2))
    # the chart colours the failed gate red and the passed one green
    chart = ET.tostring(_svgs(section)[0], encoding="unicode")
    assert "#d43c3c" in chart and "#2a9d3a" in chart


def test_geneval_gallery_per_tag_with_verdicts_and_links(page: dict) -> None:
    text = page["text"]
    section = text.split("<h2 id='galleries'>")[1].split("<h2 id='runs'>")[0]
    for tag in ("colors", "counting", "position"):
        assert f"geneval[detector=mask2former] · {tag} (1 of 2 prompts, seed 0)" in section
    rows = re.findall(r"<tr><td class='prompt'><b>(g\d+)</b>", section)
    assert len(rows) == 3 and len(set(rows)) == 3
    # the same prompts for both checkpoints: each row has two image cells of two images
    assert section.count("<div class='cell ") == 3 * 2 * 2
    assert "✗ wrong reasons: expected" in section and "✓ correct" in section
    links = re.findall(r"<a href='([^']+\.png)'>", section)
    assert len(links) == 12 and all((page["path"].parent / rel).is_file() for rel in links)
    # a seeded choice: another seed picks from the same pools, the same seed the same prompts
    again = write_html_report([page["root"] / "runs"], page["root"] / "again.html",
                              gallery_prompts=1, timestamp=False)  # fmt: skip
    assert re.findall(r"<td class='prompt'><b>(g\d+)</b>", again.read_text()) == rows


def test_same_runs_give_the_same_bytes(page: dict) -> None:
    kwargs = dict(reported=[REFERENCE], timestamp=False, n_boot=200)
    one = write_html_report([page["root"] / "runs"], page["root"] / "one.html", **kwargs)
    two = write_html_report([page["root"] / "runs"], page["root"] / "two.html", **kwargs)
    assert one.read_bytes() == two.read_bytes()
    assert "generated" not in one.read_text().split("</h1>")[1][:200]


def test_report_in_headless_chromium(page: dict, tmp_path: Path) -> None:
    problems: list[str] = []
    with chromium_tab(viewport={"width": 1280, "height": 900}) as tab:
        tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
               if m.type in ("error", "warning") else None)  # fmt: skip
        tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))

        def offline(route) -> None:  # the page must need nothing from the network
            if route.request.url.startswith(("file:", "data:")):
                route.continue_()
            else:
                problems.append(f"network request: {route.request.url}")
                route.abort()

        tab.route("**/*", offline)
        tab.goto(page["path"].as_uri())
        tab.wait_for_load_state("load")

        def order() -> list[str]:
            cells = tab.query_selector_all(
                "table.leaderboard tbody tr:not(.details) td:first-child"
            )
            return [c.inner_text().split(" #")[0] for c in cells]

        header = tab.locator("table.leaderboard thead tr.columns th", has_text="pope/f1")
        header.click()
        ascending = order()
        header.click()
        descending = order()
        # details rows travel with their row: the row after each run row is its details row
        after = tab.evaluate(
            "Array.from(document.querySelectorAll('table.leaderboard tbody tr'))"
            ".map(r => r.className)"
        )
        charts = tab.evaluate(
            "Array.from(document.querySelectorAll('svg.chart')).map(s => s.textContent)"
        )
        shot = tmp_path / "report.png"
        tab.screenshot(path=str(shot), full_page=True)
    dummy_f1 = page["pope"]["dummy"]["metrics"]["f1"]
    tiny_f1 = page["pope"]["janus-tiny"]["metrics"]["f1"]
    assert dummy_f1 < tiny_f1 < 87.4
    assert ascending == [
        DUMMY,
        "janus-tiny (DEMO) (janus-tiny-v4)",
        "Janus-Pro-7B (paper) reported",
    ]
    assert descending == ascending[::-1]
    assert after == ["reported", "", "details", "", "details"]
    assert len(charts) == 3 and all(DUMMY in c and TINY_PREFIX in c for c in charts)
    assert problems == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
