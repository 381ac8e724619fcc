"""The scorer revision is part of a run's identity and of every report: runs scored with
different official revisions get different run ids, separate leaderboard columns and a note
naming the revision, and `compare` refuses to put them side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_vqa_task import write_vqa
from understanding_helpers import ScriptedAdapter

from janus_eval.api import evaluate
from janus_eval.report.compare import compare_runs
from janus_eval.report.leaderboard import build_leaderboard
from janus_eval.types import UserError

ANSWERS = {"How many": "Two.", "ball": "Red", "raining": "no", "holding": "an umbrella"}


def test_scorer_revision_in_run_id_leaderboard_and_compare(tmp_path: Path) -> None:
    data = write_vqa(tmp_path / "vqa")
    runs = tmp_path / "runs"
    new = evaluate("vqav2", ScriptedAdapter(ANSWERS), data_dir=data, output_dir=runs)
    old = evaluate("vqav2", ScriptedAdapter(ANSWERS), data_dir=data, output_dir=runs,
                   task_options={"scorer": "vqa-2017"})  # fmt: skip
    assert new.run_id != old.run_id

    df = build_leaderboard([runs])
    assert len(df) == 1
    row = df.iloc[0]
    assert row["vqav2[scorer=vqa-a013f00]/accuracy"] == 47.5
    assert row["vqav2[scorer=vqa-2017]/accuracy"] == 97.5
    notes = row["notes"]
    assert (
        "vqav2[scorer=vqa-a013f00]: scored as GT-Vision-Lab/VQA@a013f00 (2021-03-11: "
        "PythonEvaluationTools/vqaEvaluation/vqaEval.py)" in notes
    )
    assert "vqav2[scorer=vqa-2017]: scored as GT-Vision-Lab/VQA@c4e6a0e (2017-09-29" in notes

    with pytest.raises(UserError, match="scored differently"):
        compare_runs(runs / old.run_id, runs / new.run_id)
