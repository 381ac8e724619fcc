"""User-controlled strings never become markup in the HTML report: prompts, sample ids,
categories (breakdown keys, GenEval tags), model names, checkpoint paths, run directories,
scorer reasons and reported rows all carry `<script>` and `onerror=` payloads here, and the page
and every inline SVG chart are parsed to check that none survives as a tag or an attribute."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_page_helpers import chromium_tab, geneval_run
from test_report_fixtures import correct_samples, write_run

from janus_eval.report.html import write_html_report
from janus_eval.report.table import TableRow
from janus_eval.report.table_html import SORT_SCRIPT

# no '/': the same payload names a directory
EVIL = "\"'><script>alert(1)<img src=x onerror=alert(1)>"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._in_script = False


@pytest.fixture
def evil_page(tmp_path: Path) -> tuple[Path, str]:
    runs = tmp_path / "runs"
    for i, weights in enumerate(("a" * 64, "b" * 64)):
        model = {"name": f"m{i} {EVIL}", "checkpoint": f"/ckpt/{EVIL}", "weights_sha256": weights}
        write_run(runs, f"u{i}{EVIL}", model=model["name"], checkpoint=model["checkpoint"],
                  weights=weights,
                  samples=[{**s, "prompt": f"q {EVIL}", "response": EVIL}
                           for s in correct_samples([1, i, 1], prefix=f"id{EVIL}")],
                  metrics={"accuracy": 50.0 + i, f"per_{EVIL}": {f"cat {EVIL}": 40.0 + i}})  # fmt: skip
        geneval_run(runs, f"g{i}{EVIL}", model, prompt="{n} " + EVIL, tags=(f"tag {EVIL}",),
                    id_prefix=f"gid{EVIL}", reason=EVIL, bonus=i)  # fmt: skip
    reported = TableRow(f"paper {EVIL}", {f"x{EVIL}/y": 1.0}, reported=True, notes=EVIL)
    # a small embedding budget: later images are linked by paths through the evil directories
    out = write_html_report([runs], tmp_path / "report.html", reported=[reported],
                            max_embed_bytes=3000, max_drop={"accuracy": 0.0})  # fmt: skip
    return out, out.read_text()


def test_no_payload_survives_as_markup(evil_page: tuple[Path, str]) -> None:
    _, text = evil_page
    parser = _Tags()
    parser.feed(text)
    assert [t for t, _ in parser.tags].count("script") == 1
    assert parser.scripts == [SORT_SCRIPT]
    for tag, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert tag != "img" or attrs.get("src") != "x", attrs
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").lower().startswith("javascript:"), attrs
    svgs = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    assert len(svgs) == 3  # the evil breakdown, GenEval's per_tag, m1 vs m0
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed: nothing broke out of a text or an attribute
        for element in root.iter():
            assert not element.tag.endswith(("script", "foreignObject")), element.tag
            assert not [a for a in element.attrib if a.lower().startswith("on")], element.attrib


def test_every_channel_carried_the_payload_as_text(evil_page: tuple[Path, str]) -> None:
    """The payload reached each place it can go (so the test above checked something), as text."""
    _, text = evil_page
    escaped = html.escape(EVIL)
    svg_text = " ".join(
        t for s in re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
        for t in ET.fromstring(s).itertext()
    )  # fmt: skip
    for place in (f"m0 {EVIL}", f"cat {EVIL}", f"per_{EVIL}"):  # chart labels and titles
        assert place in svg_text, place
    assert f"m1 {EVIL} (/ckpt/{EVIL})" in svg_text  # legend: model name and checkpoint path
    assert re.search(r"<title>m0 [^<]*&lt;script&gt;[^<]* · cat ", text)  # tooltip
    for place in (f"q {escaped}", f"id{escaped}000", f"gid{escaped}000", f"tag {escaped}",
                  f"paper {escaped}", f"1 {escaped}", f"u1{escaped}"):  # fmt: skip
        assert place in text, place
    linked = re.findall(r"<a href='([^']+\.png)'>", text)
    assert any("g1" in link for link in linked)  # hrefs through the evil run directory
    assert all(Path(evil_page[0].parent, html.unescape(link)).is_file() for link in linked)


def test_payload_page_runs_no_script_in_chromium(evil_page: tuple[Path, str]) -> None:
    dialogs: list[str] = []
    with chromium_tab() as tab:
        tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        tab.goto(evil_page[0].as_uri())
        tab.wait_for_load_state("load")
        scripts = tab.evaluate("document.scripts.length")
        injected = tab.evaluate("document.querySelectorAll('img[src=\"x\"], [onerror]').length")
    assert (dialogs, scripts, injected) == ([], 1, 0)
