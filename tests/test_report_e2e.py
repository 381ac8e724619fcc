"""Reports on what the real runner writes (toy plug-in tasks, dummy adapter), through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

api = pytest.importorskip("janus_eval.api", reason="the runner (janus_eval.api) is not there yet")

from janus_eval.report.compare import compare_runs  # noqa: E402
from janus_eval.report.html import write_html_report  # noqa: E402
from janus_eval.report.leaderboard import build_leaderboard  # noqa: E402


def _questions(path: Path, flip: set[int]) -> Path:
    """toy-qa's questions.jsonl; labels of `flip` are inverted (a 'worse' candidate)."""
    path.mkdir(parents=True)
    rows = []
    for i in range(30):
        label = "yes" if i % 3 else "no"
        if i in flip:
            label = {"yes": "no", "no": "yes"}[label]
        rows.append(
            {"id": f"q{i:03d}", "question": f"Is there a thing number {i}?", "label": label}
        )
    (path / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reports_on_real_runs(tmp_path: Path, cli) -> None:
    out = tmp_path / "runs"
    base = api.evaluate("toy-qa", "dummy", data_dir=_questions(tmp_path / "a", set()),
                        output_dir=out / "base", batch_size=8)  # fmt: skip
    lines = (out / "base" / base.run_id / "samples.jsonl").read_text().splitlines()
    right = sorted(int(s["id"][1:]) for s in map(json.loads, lines) if s["scores"]["correct"])
    cand = api.evaluate("toy-qa", "dummy", data_dir=_questions(tmp_path / "b", set(right[:4])),
                        output_dir=out / "cand", batch_size=8)  # fmt: skip
    api.evaluate("toy-gen", "dummy", output_dir=out / "base", task_options={"n": 2})
    base_dir, cand_dir = out / "base" / base.run_id, out / "cand" / cand.run_id

    cmp = compare_runs(base_dir, cand_dir)
    (row,) = [r for r in cmp.rows if r.metric == "accuracy"]
    # By hand: the dummy's yes/no (sha256 of the prompt, see model_adapters/dummy.py) matches
    # the label of questions 0 3 5 7 9 10 11 12 15 16 18 20 22 26: 14 of 30; the candidate's data
    # flips the labels of the first four of those: 10 of 30.
    assert right == [0, 3, 5, 7, 9, 10, 11, 12, 15, 16, 18, 20, 22, 26]
    assert (row.baseline, row.candidate) == (46.6667, 33.3333)  # toy-qa rounds to 4 places
    assert (base.metrics["accuracy"], cand.metrics["accuracy"]) == (46.6667, 33.3333)
    assert row.delta == pytest.approx(cand.metrics["accuracy"] - base.metrics["accuracy"])
    assert (
        row.delta == pytest.approx(-100 * 4 / 30, abs=1e-3)
        and row.ci_low <= row.delta <= row.ci_high
        and row.n_pairs == 30
    )
    assert not any("run.json says" in w for w in cmp.warnings)  # per-sample mean matches

    board = build_leaderboard([out], sub_metrics=True)
    assert {"toy-qa/accuracy", "toy-gen/brightness", "toy-gen/feature_mean"} <= set(board.columns)
    assert len(board) == 1 and "newest of 2 runs" in board.loc[0, "notes"]

    report = write_html_report([out / "base"], tmp_path / "report.html", gallery_prompts=0)
    assert report.read_text().count("data:image/jpeg;base64,") == 6  # 2 prompts x 3 images

    gate = f"--max-drop=accuracy={abs(row.delta) / 2}"
    failed = cli("compare", str(base_dir), str(cand_dir), gate)
    assert failed.returncode == 1, failed.stderr
    assert "FAIL" in failed.stdout
    passed = cli("compare", str(base_dir), str(cand_dir), f"--max-drop=accuracy={abs(row.delta)}")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    unknown = cli("compare", str(base_dir), str(cand_dir), "--max-drop=nope=1")
    assert unknown.returncode == 2 and "toy-qa:accuracy" in unknown.stderr + unknown.stdout
