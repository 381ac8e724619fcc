"""The report's parts alone: the generic leaderboard table, breakdown detection, SVG charts,
thumbnail links, and the `report` command's errors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from test_report_fixtures import correct_samples, write_run

from janus_eval.report.breakdowns import run_breakdowns
from janus_eval.report.charts import bar_chart, delta_chart
from janus_eval.report.html import write_html_report
from janus_eval.report.leaderboard import leaderboard_from_runs
from janus_eval.report.records import load_runs
from janus_eval.report.table import Table, TableColumn, TableRow, table_from_leaderboard
from janus_eval.report.thumbs import relative


def test_best_value_is_the_lowest_for_fid_and_kid() -> None:
    columns = [TableColumn("mjhq30k/fid", "generation", higher_is_better=False),
               TableColumn("pope/f1", "understanding")]  # fmt: skip
    rows = [TableRow("a", {"mjhq30k/fid": 12.5, "pope/f1": 80.0}),
            TableRow("b", {"mjhq30k/fid": 9.0, "pope/f1": None}),
            TableRow("paper", {"pope/f1": 86.2}, reported=True)]  # fmt: skip
    table = Table(columns, rows)
    assert table.best(columns[0]) == 9.0 and table.best(columns[1]) == 86.2
    assert table.groups == [("generation", 1), ("understanding", 1)]
    spans = Table([TableColumn(k, g) for k, g in (("a", "u"), ("b", "u"), ("c", "g"), ("d", "u"))])
    assert spans.groups == [("u", 2), ("g", 1), ("u", 1)]  # header cells span adjacent columns


def test_table_from_leaderboard_groups_understanding_before_generation(tmp_path: Path) -> None:
    write_run(tmp_path, "fid", task="mjhq30k", kind="generation", primary="fid",
              metrics={"fid": 10.0, "kid": 0.01})  # fmt: skip
    write_run(tmp_path, "qa", samples=correct_samples([1, 1, 0]), checkpoint="ckpt/b")
    runs = load_runs([tmp_path])
    table = table_from_leaderboard(leaderboard_from_runs(runs), runs)
    assert [(c.key, c.group, c.higher_is_better) for c in table.columns] == [
        ("report-toy/accuracy", "understanding", True),
        ("mjhq30k/fid", "generation", False),
    ]
    assert [r.label for r in table.rows] == [
        "janus-pro-1b (ckpt/a) #aaaaaaaaaaaa", "janus-pro-1b (ckpt/b) #aaaaaaaaaaaa"
    ]  # fmt: skip
    assert [len(r.runs) for r in table.rows] == [1, 1]


def test_table_partial_missing_and_reported_only_columns(tmp_path: Path) -> None:
    from janus_eval.report.table import cell_text

    write_run(tmp_path, "fid", task="mjhq30k", kind="generation", primary="fid",
              metrics={"fid": 10.0}, limit=5)  # fmt: skip
    write_run(tmp_path, "qa", samples=correct_samples([1, 1, 0]), checkpoint="ckpt/b")
    runs = load_runs([tmp_path])
    paper = TableRow("paper", {"mmmu/accuracy": 41.0, "mjhq30k/fid": 8.5}, reported=True)
    table = table_from_leaderboard(leaderboard_from_runs(runs), runs, [paper])
    keys = [c.key for c in table.columns]
    assert keys == ["report-toy/accuracy", "mjhq30k/fid", "mmmu/accuracy"]
    assert table.groups == [("understanding", 1), ("generation", 1), ("reported", 1)]
    a, b, ref = table.rows
    fid, acc = table.columns[1], table.columns[0]
    assert (a.partial, cell_text(a, fid), cell_text(a, acc)) == (["mjhq30k/fid"], "10.00*", "—")
    assert (b.partial, cell_text(b, acc), cell_text(b, fid)) == ([], "66.67", "—")
    assert a.values["report-toy/accuracy"] is None and cell_text(ref, fid) == "8.50"
    assert table.best(fid) == 8.5 and table.columns[2].higher_is_better
    assert [[r.path.name for r in row.runs] for row in table.rows] == [["fid"], ["qa"], []]
    assert "partial run fid (limit=5)" in a.notes and ref.notes == ""


def test_breakdowns_by_shape() -> None:
    pope = {"f1": 70.0, "random": {"accuracy": 80.0, "f1": 75.0},
            "adversarial": {"accuracy": 60.0, "f1": 55.0}}  # fmt: skip
    assert run_breakdowns(pope, "f1") == {"f1 per split": {"random": 75.0, "adversarial": 55.0}}
    geneval = {"overall": 0.5, "per_tag": {"counting": 0.25, "colors": 0.75},
               "per_tag_images": {"counting": 4, "colors": 4}, "n_images": 8}  # fmt: skip
    assert run_breakdowns(geneval, "overall") == {"per_tag": {"counting": 0.25, "colors": 0.75}}
    mjhq = {"fid": 9.0, "fid_per_category": {"animals": 20.5}, "n_per_category": {"animals": 3}}
    assert run_breakdowns(mjhq, "fid") == {"fid_per_category": {"animals": 20.5}}
    nested = {"acc": 1.0, "splits": {"a": {"acc": 0.5}, "b": {"acc": 0.25}}}
    assert run_breakdowns(nested, "acc") == {"acc per split": {"a": 0.5, "b": 0.25}}
    # splits without the primary metric: every inner metric but counts
    other = {"score": 1.0, "splits": {"a": {"acc": 0.5, "n_questions": 10}, "b": {"acc": 0.25}}}
    assert run_breakdowns(other, "score") == {"acc per split": {"a": 0.5, "b": 0.25}}


def test_charts_are_deterministic_svg_with_text_labels() -> None:
    args = ("cost $5 and $6", ["a $x$ b", "c"], {"model one": [1.0, None], "model two": [2.0, 3.0]})
    one, two = bar_chart(*args), bar_chart(*args)
    assert one == two and one.startswith("<svg") and "<metadata" not in one
    root = ET.fromstring(one)
    texts = [t for t in root.itertext() if t.strip()]
    # mathtext is off: dollar signs are shown as typed, in <text> elements (svg.fonttype none)
    for label in ("cost $5 and $6", "a $x$ b", "model one", "model two"):
        assert label in texts, label
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert titles == ["model one · a $x$ b: 1", "model two · a $x$ b: 2", "model two · c: 3"]
    other = bar_chart("another", ["c"], {"m": [1.0]})
    assert not set(re.findall(r'id="(c[0-9a-f]{10}-[^"]*)"', one)) & set(
        re.findall(r'id="(c[0-9a-f]{10}-[^"]*)"', other)
    )  # two charts on one page never share a tooltip id


def test_delta_chart_colours_each_verdict() -> None:
    svg = delta_chart("b vs a", ["t:x", "t:y", "t:z"], [1.0, -2.0, 0.5],
                      [(0.5, 1.5), None, (-1.0, 2.0)], [True, False, None], ["x", "y", "z"])  # fmt: skip
    for colour in ("#2a9d3a", "#d43c3c", "#777777"):
        assert colour in svg
    assert [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}title")] == [
        "x", "y", "z"
    ]  # fmt: skip


def test_links_never_start_with_a_url_scheme(tmp_path: Path) -> None:
    image = tmp_path / "javascript:alert(1)" / "a.png"
    image.parent.mkdir()
    image.write_bytes(b"")
    assert relative(image, tmp_path) == "./javascript:alert(1)/a.png"
    assert relative(image, tmp_path / "out") == "../javascript:alert(1)/a.png"


def test_report_command_errors_exit_2(tmp_path: Path, cli) -> None:
    write_run(tmp_path / "runs", "a", samples=correct_samples([1, 0]))
    write_run(tmp_path / "runs", "b", samples=correct_samples([1, 1]), checkpoint="ckpt/b")
    out = tmp_path / "report.html"
    bad = cli("report", str(tmp_path / "runs"), "-o", str(out), "--baseline", "nope")
    assert bad.returncode == 2 and "--baseline 'nope': no checkpoint matches" in bad.stderr
    assert "Traceback" not in bad.stderr and not out.exists()
    gate = cli("report", str(tmp_path / "runs"), "-o", str(out), "--max-drop", "nope=1")
    assert gate.returncode == 2 and "no metric 'nope'" in gate.stderr
    good = cli("report", str(tmp_path / "runs"), "-o", str(out), "--baseline", "janus-pro-1b (ckpt/b) #aaaaaaaaaaaa", "--no-timestamp")  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert (
        "wrote" in good.stdout and "<h3>janus-pro-1b (ckpt/a) #aaaaaaaaaaaa vs" in out.read_text()
    )


def test_fid_gallery_shows_the_same_seeded_prompts_side_by_side(tmp_path: Path) -> None:
    from PIL import Image

    for ckpt in ("ckpt/a", "ckpt/b"):
        samples = [{"id": f"f{i:03d}", "prompt": f"prompt {i}", "images": [f"images/{i}.png"],
                    "scores": {}} for i in range(5)]  # fmt: skip
        run = write_run(tmp_path / "runs", f"mjhq-{ckpt[-1]}", task="mjhq30k", kind="generation",
                        primary="fid", metrics={"fid": 9.0}, samples=samples, checkpoint=ckpt)  # fmt: skip
        for i in range(5):
            (run / "images").mkdir(exist_ok=True)
            Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(run / f"images/{i}.png")
    out = write_html_report([tmp_path / "runs"], tmp_path / "r.html", gallery_prompts=2)
    section = out.read_text().split("<h2 id='galleries'>")[1].split("<h2 id='runs'>")[0]
    assert "mjhq30k · samples (2 of 5 prompts, seed 0)" in section
    # random.Random(0).sample(['f000', ..., 'f004'], 2), sorted: the documented choice
    assert re.findall(r"<td class='prompt'><b>(f\d+)</b>", section) == ["f003", "f004"]
    assert re.findall(r"<a href='(runs/mjhq-(?:a|b)/images/\d\.png)'>", section) == [
        "runs/mjhq-a/images/3.png", "runs/mjhq-b/images/3.png",
        "runs/mjhq-a/images/4.png", "runs/mjhq-b/images/4.png",
    ]  # fmt: skip
    assert "class='verdict'" not in section  # FID scores no single image
    # prompts are drawn only from those every checkpoint has: f004 gone from one run
    lines = (tmp_path / "runs/mjhq-b/samples.jsonl").read_text().splitlines()
    (tmp_path / "runs/mjhq-b/samples.jsonl").write_text("\n".join(lines[:4]) + "\n")
    out = write_html_report([tmp_path / "runs"], tmp_path / "r.html", gallery_prompts=2)
    section = out.read_text().split("<h2 id='galleries'>")[1].split("<h2 id='runs'>")[0]
    assert "mjhq30k · samples (2 of 4 prompts, seed 0)" in section
    assert re.findall(r"<td class='prompt'><b>(f\d+)</b>", section) == ["f001", "f003"]


def test_gate_on_a_task_one_candidate_lacks_is_named_not_dropped(tmp_path: Path) -> None:
    from janus_eval.report.comparisons import compare_checkpoints
    from janus_eval.report.html import newest_per_checkpoint

    for ckpt, tasks in (("a", ("report-toy", "other-toy")), ("b", ("report-toy", "other-toy")),
                        ("c", ("report-toy",))):  # fmt: skip
        for task in tasks:
            write_run(tmp_path, f"{task}-{ckpt}", task=task, checkpoint=f"ckpt/{ckpt}",
                      samples=correct_samples([1, ckpt == "a", 1]))  # fmt: skip
    by_task = newest_per_checkpoint(load_runs([tmp_path]))
    b, c = compare_checkpoints(by_task, max_drop={"other-toy:accuracy": 10.0}, n_boot=50)
    (gated,) = [r for r in b.rows if r.gate is not None]
    assert (gated.task, gated.passed, b.failed) == ("other-toy", False, True)  # 100 -> 66.7
    assert not [r for r in c.rows if r.gate is not None] and not c.failed
    assert "gate other-toy:accuracy not applied: no such metric in this pair" in c.warnings


def test_gallery_cells_show_each_images_verdict_and_reason(tmp_path: Path) -> None:
    import base64
    import io

    from PIL import Image
    from report_page_helpers import geneval_run

    from janus_eval.report.gallery import galleries
    from janus_eval.report.html import newest_per_checkpoint
    from janus_eval.report.thumbs import EmbedBudget

    model = {"name": "m", "checkpoint": "c", "weights_sha256": "f" * 64}
    run = geneval_run(tmp_path, "g", model, n_prompts=1, per_prompt=5, tags=("counting",))
    (run / "images/00000/samples/0004.png").unlink()
    Image.new("RGB", (300, 200)).save(run / "images/00000/samples/0000.png")
    by_task = newest_per_checkpoint(load_runs([tmp_path]))
    html = galleries(by_task, EmbedBudget(10**6, tmp_path))  # the defaults
    cells = re.findall(r"<div class='cell (\w*)'>(.*?)</div></div>|<div class='cell (\w*)'>"
                       r"(<span class='missing'>.*?</span>)</div>", html)  # fmt: skip
    assert "(1 of 1 prompts, seed 0)" in html and "+1 more" in html  # 4 images a cell
    captions = re.findall(r"<div class='verdict'>(.*?)</div>", html)
    # prompt 0: image k correct when k is even; reasons name the prompt's count
    assert captions == ["✓ correct", "✗ wrong reasons: expected 1 cat.", "✓ correct",
                        "✗ wrong reasons: expected 1 cat."]  # fmt: skip
    assert [c[0] for c in cells] == ["ok", "bad", "ok", "bad"] and len(cells) == 4
    thumb = re.search(r"src='data:image/jpeg;base64,([^']+)'", html).group(1)
    with Image.open(io.BytesIO(base64.b64decode(thumb))) as image:
        assert max(image.size) == 128
    # a missing file is said, not an error
    run4 = geneval_run(tmp_path / "b", "g4", model, n_prompts=1, per_prompt=4)
    (run4 / "images/00000/samples/0000.png").unlink()
    html = galleries(newest_per_checkpoint(load_runs([tmp_path / "b"])), EmbedBudget(0, tmp_path))
    assert "missing: images/00000/samples/0000.png" in html and "more" not in html
    # checkpoints with no prompt in common: said, not an empty table
    other = {"name": "m", "checkpoint": "d", "weights_sha256": "e" * 64}
    geneval_run(tmp_path / "b", "g-other", other, n_prompts=1, id_prefix="x")
    html = galleries(newest_per_checkpoint(load_runs([tmp_path / "b"])), EmbedBudget(0, tmp_path))
    assert "No prompt is present in every checkpoint's run." in html and "<table" not in html


def test_image_verdicts_take_the_first_boolean_list_and_plain_notes() -> None:
    from janus_eval.report.gallery import image_verdicts

    scores = {"accuracy": 0.5, "tag": "x", "other": [1, 2], "correct": [True, False],
              "also_bool": [False, False], "reasons": ["", "too few"],
              "details": [{"a": 1}, {"b": 2}]}  # fmt: skip
    assert image_verdicts(scores, 2) == (
        [True, False],
        ["other: 1. also_bool: False. ", "other: 2. also_bool: False. reasons: too few. "],
    )
    assert image_verdicts({"correct": []}, 0) == ([], [])


def test_reference_numbers_join_the_runs_columns_as_reported_rows(tmp_path: Path) -> None:
    from janus_eval.report.reference import ReferenceValue
    from janus_eval.report.table import reported_rows

    def ref(checkpoint: str, task: str, metric: str, value: float, paper: str) -> ReferenceValue:
        return ReferenceValue(checkpoint, task, metric, value, paper, "Table 3", checkpoint,
                              task, "as printed")  # fmt: skip

    refs = [
        ref("deepseek-ai/Janus-Pro-7B", "mjhq30k", "fid", 8.5, "arXiv:2"),
        ref("deepseek-ai/Janus-Pro-7B", "pope", "f1", 87.4, "arXiv:2"),
        ref("deepseek-ai/Janus-1.3B", "pope", "f1", 87.0, "arXiv:1"),
    ]
    # the runs' column for MJHQ's FID carries task options: the reported FID goes into it
    rows = reported_rows(refs, ["report-toy/accuracy", "mjhq30k[protocol=x]/fid"])
    assert [(r.label, dict(r.values), r.reported) for r in rows] == [
        ("Janus-1.3B (reported, arXiv:1)", {"pope/f1": 87.0}, True),
        ("Janus-Pro-7B (reported, arXiv:2)", {"pope/f1": 87.4, "mjhq30k[protocol=x]/fid": 8.5}, True),
    ]  # fmt: skip
    write_run(tmp_path, "fid", task="mjhq30k", kind="generation", primary="fid",
              metrics={"fid": 10.0})  # fmt: skip
    page = write_html_report([tmp_path], tmp_path / "r.html", references=refs).read_text()
    assert "Janus-Pro-7B (reported, arXiv:2)" in page and "8.5" in page
