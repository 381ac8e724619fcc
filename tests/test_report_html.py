"""The HTML report: one self-contained file with the leaderboard, per-run tables and thumbnails."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image
from test_report_fixtures import correct_samples, write_run

from janus_eval.report.html import write_html_report
from janus_eval.report.table_html import SORT_SCRIPT


def _generation_run(root: Path, n_prompts: int = 3, per_prompt: int = 2) -> Path:
    samples = []
    for p in range(n_prompts):
        rel = [f"images/{p:05d}/samples/{k:04d}.png" for k in range(per_prompt)]
        samples.append({
            "id": f"prompt{p}", "prompt": f"a photo of {p + 1} <cats>", "images": rel,
            "scores": {"correct": [k % 2 == 0 for k in range(per_prompt)],
                       "reasons": ["", f"expected {p + 1} cat"] * (per_prompt // 2),
                       "details": [{"cat": {"box_score_xyz": k}} for k in range(per_prompt)],
                       "accuracy": 0.5, "tag": "counting"},
        })  # fmt: skip
    run = write_run(root, "gen-run", task="geneval", kind="generation", primary="overall",
                    metrics={"overall": 0.5, "per_tag": {"counting": 0.5}}, samples=samples,
                    options={"detector": "mask2former"}, leaderboard_keys=["detector"])  # fmt: skip
    for s in samples:
        for k, rel in enumerate(s["images"]):
            (run / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (384, 384), (40 * k, 100, 200)).save(run / rel)
    return run


def test_report_has_tables_and_embedded_thumbnails(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _generation_run(runs)
    write_run(runs, "toy-run", samples=correct_samples([1, 0, 1]),
              metrics={"accuracy": 66.67, "per_type": {"yes/no": 66.67}})  # fmt: skip
    # the per-run grid alone (galleries off): test_report_page.py tests the galleries
    out = write_html_report([runs], tmp_path / "out" / "report.html", thumb_px=96,
                            gallery_prompts=0)  # fmt: skip
    text = out.read_text()

    # the one script is the leaderboard sorter (issue 12: sortable by a clicked column)
    assert text.startswith("<!DOCTYPE html>") and text.count("<script") == 1
    assert f"<script>{SORT_SCRIPT}</script>" in text
    assert '<table class="leaderboard">' in text
    assert "<th>geneval[detector=mask2former]/overall</th>" in text
    assert "<th>report-toy/accuracy</th>" in text
    assert "<h4>per_tag</h4>" in text and "<h4>per_type</h4>" in text  # breakdowns
    assert "<summary>config</summary>" in text and "<summary>versions</summary>" in text
    assert "2.14.1" in text  # package versions shown
    assert "a photo of 1 &lt;cats&gt;" in text  # escaped prompt

    thumbs = re.findall(r"src='data:image/jpeg;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(thumbs) == 6
    with Image.open(io.BytesIO(base64.b64decode(thumbs[0]))) as im:
        assert im.format == "JPEG" and max(im.size) == 96
    # GenEval-style per-image verdicts: image 0 correct, image 1 wrong with its reason
    assert text.count("<figure class='ok'>") == 3 and text.count("<figure class='bad'>") == 3
    assert "reasons: expected 2 cat" in text and "box_score_xyz" not in text
    # the understanding run shows its answers
    assert "First 3 answers" in text and "s001" in text


def test_image_cap_budget_and_missing_files(tmp_path: Path) -> None:
    run = _generation_run(tmp_path / "runs", n_prompts=4)
    (run / "images/00000/samples/0000.png").unlink()
    out = write_html_report([run], tmp_path / "report.html", max_images=5, max_embed_bytes=1500,
                            gallery_prompts=0)  # fmt: skip
    text = out.read_text()
    assert "Images (5 of 8)" in text
    assert "missing: images/00000/samples/0000.png" in text
    embedded = text.count("data:image/jpeg;base64,")
    linked = re.findall(r"src='(runs/gen-run/images/[^']+\.png)'", text)
    assert embedded >= 1 and linked and embedded + len(linked) == 4
    assert all((tmp_path / rel).is_file() for rel in linked)  # links work from the report
