"""The CI recipe (docs/ci/janus-eval-gate.yml) as GitHub would run it, minus the runner: its
YAML is parsed and every `run:` step executed in order with bash as Actions does (`shell: bash`
is `bash --noprofile --norc -eo pipefail`), the workflow's env with the checkpoints, tasks and
data substituted by fixtures (the dummy and janus-tiny adapters on POPE's built-in demo data).

Steps that cannot run here are listed in NOT_RUN with the reason; `uses:` steps are GitHub's own
actions. Conditions are followed as far as the recipe uses them: `always()` and
`steps.ID.outcome == 'success'`; anything that needs GitHub (`github.event_name`) counts as false.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML parses the workflow (pip install pyyaml)")

from janus_eval.report.pr_comment import MARKER  # noqa: E402

WORKFLOW = Path(__file__).resolve().parents[1] / "docs" / "ci" / "janus-eval-gate.yml"
NOT_RUN = {
    "install": "pip install -e . needs the network; the project is installed already",
    "comment": "posting a comment needs GitHub (gh and a token)",
}
BASH = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"], None: ["bash", "-e"]}


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps() -> list[dict[str, Any]]:
    return _workflow()["jobs"]["gate"]["steps"]


def _should_run(step: dict[str, Any], outcomes: dict[str, str], failed: bool) -> bool:
    condition = str(step.get("if", ""))
    if "github." in condition:
        return False
    for needed in re.findall(r"steps\.(\w+)\.outcome == 'success'", condition):
        if outcomes.get(needed) != "success":
            return False
    return "always()" in condition or not failed


def run_workflow(workdir: Path, **overrides: str) -> dict[str, str]:
    """Run the recipe's commands in `workdir`; returns step id -> success/failure/skipped."""
    declared = _workflow()["env"]
    env = {**os.environ, **{k: str(v) for k, v in declared.items() if "${{" not in str(v)}}
    env.update(overrides)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    outcomes: dict[str, str] = {}
    failed = False
    for number, step in enumerate(_steps()):
        if "run" not in step or step.get("id") in NOT_RUN:
            continue
        step_id = step.get("id", f"step{number}")
        if not _should_run(step, outcomes, failed):
            outcomes[step_id] = "skipped"
            continue
        script = workdir / f".step-{step_id}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            [*BASH[step.get("shell")], str(script)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        outcomes[step_id] = "success" if done.returncode == 0 else "failure"
        failed = failed or done.returncode != 0
        (workdir / f".step-{step_id}.log").write_text(done.stdout + done.stderr)
    return outcomes


def _fixture_env(baseline_model: str, baseline_ckpt: Path, candidate_ckpt: Path, gates: str):
    return {
        "BASELINE_MODEL": baseline_model,
        "CANDIDATE_MODEL": "dummy",
        "BASELINE_CHECKPOINT": str(baseline_ckpt),
        "CANDIDATE_CHECKPOINT": str(candidate_ckpt),
        "TASKS": "pope",
        "LIMIT": "8",
        "DATA_ARGS": "--demo",
        "DEVICE_ARGS": "--device cpu --dtype fp32",
        "GATES": gates,
    }


def test_every_step_is_run_here_or_explained() -> None:
    steps = _steps()
    ids = {s.get("id") for s in steps}
    assert set(NOT_RUN) <= ids
    for step in steps:
        assert ("uses" in step) != ("run" in step), step
        if "run" in step and step.get("id") not in NOT_RUN:
            assert "${{" not in step["run"], f"{step['id']}: GitHub expressions belong in env"
    (comment,) = [s for s in steps if s.get("id") == "comment"]
    assert "gate-comment.md" in comment["run"]  # posts what the gate step wrote
    (upload,) = [s for s in steps if "upload-artifact" in str(s.get("uses"))]
    assert "report/" in upload["with"]["path"]


def test_workflow_passes_gates_and_publishes_the_report(tmp_path: Path) -> None:
    baseline, candidate = tmp_path / "ckpt" / "Janus-Pro-1B", tmp_path / "ckpt" / "candidate"
    env = _fixture_env("dummy", baseline, candidate, "--max-drop pope:f1=1.0")
    outcomes = run_workflow(tmp_path, **env)
    logs = {p.name: p.read_text() for p in tmp_path.glob(".step-*.log")}
    assert outcomes == {
        "baseline": "success",
        "candidate": "success",
        "gate": "success",
        "report": "success",
        "verdict": "success",
    }, logs
    comment = (tmp_path / "gate-comment.md").read_text()
    assert comment.startswith(MARKER) and "gate: PASS" in comment
    assert "| pope | f1 " in comment
    assert (tmp_path / "gate-status").read_text().strip() == "0"

    report = tmp_path / "report"
    assert {p.name for p in report.iterdir()} >= {
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.json",
        "index.html",
    }
    table = json.loads((report / "leaderboard.json").read_text())
    measured = {r["checkpoint"]: r for r in table["rows"] if not r["reported"]}
    assert set(measured) == {str(baseline), str(candidate)}
    # the baseline checkpoint is a copy of Janus-Pro-1B: its POPE sits beside the paper's 86.2
    cell = measured[str(baseline)]["cells"]["pope"]
    assert cell["reported"] == 86.2 and cell["delta"] == pytest.approx(cell["value"] - 86.2)
    assert "reported" not in measured[str(candidate)]["cells"]["pope"]


def test_workflow_fails_when_the_candidate_drops(tmp_path: Path) -> None:
    from janus_eval.model_adapters.janus.tiny import ensure_tiny_checkpoint

    # janus-tiny (random weights) answers every POPE question with something read as "yes",
    # the dummy adapter answers yes or no by a hash: the candidate's recall drops.
    # named as a Janus-Pro release: its tokenizer holds the Pro chat template
    baseline = ensure_tiny_checkpoint(tmp_path / "ckpt" / "Janus-Pro-1B")
    env = _fixture_env(
        "janus-tiny", baseline, tmp_path / "ckpt" / "cand", "--max-drop pope:recall=1"
    )
    outcomes = run_workflow(tmp_path, **env)
    recall = {
        side: json.loads(next((tmp_path / "runs" / side).glob("*/run.json")).read_text())[
            "metrics"
        ]["recall"]
        for side in ("baseline", "candidate")
    }
    assert recall["candidate"] < recall["baseline"] - 1, recall  # the fixture does drop
    assert outcomes["gate"] == "success"  # exit 1 is a verdict, not an error: comment first
    assert (tmp_path / "gate-status").read_text().strip() == "1"
    comment = (tmp_path / "gate-comment.md").read_text()
    assert "gate: FAIL" in comment and "❌ FAIL" in comment
    assert outcomes["report"] == "success"
    assert outcomes["verdict"] == "failure"  # the job fails after the comment and report


def test_the_documented_workflow_is_the_tested_file() -> None:
    doc = (WORKFLOW.parents[1] / "REPORTS.md").read_text()
    assert WORKFLOW.read_text().rstrip() in doc
