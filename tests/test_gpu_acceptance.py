"""scripts/gpu_acceptance.sh (issue 13): its dry run executes every step on the CPU, so the
script cannot rot while no GPU is at hand; its verdicts, its choice of CUDA tests and its
refusal without a GPU are checked against literals."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import CUDA_REASON as CONFTEST_REASON

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import acceptance_plan as plan  # noqa: E402
import gpu_acceptance  # noqa: E402


def _script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_acceptance.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHON": sys.executable},
    )


@pytest.mark.slow
def test_dry_run_runs_every_step_and_writes_every_figure(tmp_path):
    done = _script("--dry-run", "--out-dir", str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "acceptance.json").read_text())
    assert report["mode"] == "dry-run" and report["verdict"] == "dry run: every step ran"
    steps = report["steps"]
    assert list(steps) == [s.name for s in plan.steps(True, [], None)]
    assert {name: s["status"] for name, s in steps.items()} == dict.fromkeys(steps, "ok")
    tests = steps["cuda_tests"]["figures"]
    assert tests["collected"] >= 10 and tests["skipped"] == tests["collected"]
    assert all(CONFTEST_REASON in reason for reason in tests["skip_reasons"])
    for name in ("generate_1.3b_16", "generate_1.3b_64", "generate_7b_16"):
        f = steps[name]["figures"]
        assert f["size"] == "tiny" and f["images_per_s"] > 0
        assert f["hf_generate_images_per_s"] > 0 and f["upstream_loop_images_per_s"] > 0
    assert steps["generate_1.3b_64"]["figures"]["prompts"] == 4
    for name in ("understand_1.3b", "understand_7b"):
        f = steps[name]["figures"]
        assert f["questions_per_s"] > 0 and f["transformers_one_at_a_time_questions_per_s"] > 0
    assert steps["fid"]["figures"]["fid_relative_diff"] < 1e-6
    assert report["machine"]["torch"] == torch.__version__
    assert [r["target"] for r in report["targets"]] == [t.label for t in plan.TARGETS]
    for t in plan.TARGETS:
        assert t.label in done.stdout
    assert all(r["verdict"].endswith("(dry run)") for r in report["targets"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here, so the run is not refused")
def test_without_a_gpu_it_stops_with_exit_2_and_says_why(tmp_path):
    done = _script("--out-dir", str(tmp_path))
    assert done.returncode == 2
    assert "no CUDA device here" in done.stderr and "--dry-run" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "acceptance.json").exists()


def test_an_unknown_step_is_refused(tmp_path):
    done = _script("--dry-run", "--only", "bogus", "--out-dir", str(tmp_path))
    assert done.returncode == 2 and "unknown step(s) ['bogus']" in done.stderr
    assert "generate_7b_16" in done.stderr


@pytest.mark.parametrize(
    ("label", "value", "want"),
    [
        ("1.3B, 16 images of one prompt", 15.0, "pass"),
        ("1.3B, 16 images of one prompt", 14.99, "FAIL"),
        ("7B, 16 images: peak memory", 24.0, "pass"),
        ("7B, 16 images: peak memory", 24.01, "FAIL"),
        ("FID vs clean-fid's, relative", 1e-6, "pass"),
        ("FID vs clean-fid's, relative", 1.1e-6, "FAIL"),
        ("CUDA tests failed", 0, "pass"),
        ("CUDA tests failed", 1, "FAIL"),
        ("understanding 7B", None, "missing"),
        ("understanding 7B", float("nan"), "missing"),
    ],
)
def test_targets_are_the_issues(label, value, want):
    (target,) = [t for t in plan.TARGETS if t.label == label]
    assert target.verdict(value) == want


def test_the_issues_bounds():
    bounds = {(t.step, t.figure): (t.op, t.bound) for t in plan.TARGETS}
    assert bounds == {
        ("cuda_tests", "failed"): ("==", 0),
        ("generate_1.3b_16", "images_per_s"): (">=", 15),
        ("generate_1.3b_64", "images_per_s"): (">=", 25),
        ("generate_7b_16", "images_per_s"): (">=", 4),
        ("generate_7b_16", "peak_gpu_mem_gb"): ("<=", 24),
        ("understand_1.3b", "questions_per_s"): (">=", 100),
        ("understand_7b", "questions_per_s"): (">=", 40),
        ("fid", "speedup"): (">=", 3),
        ("fid", "fid_relative_diff"): ("<=", 1e-6),
    }
    gpu = {s.name: s.args for s in plan.steps(False, ["t.py"], None)}
    assert gpu["generate_1.3b_64"][-5:] == ("--images-per-prompt", "16", "--prompts", "4",
                                            "--baselines")  # fmt: skip
    assert "janus-pro-7b" in gpu["generate_7b_16"] and "janus-pro-7b" in gpu["understand_7b"]
    assert all("cuda" in args for name, args in gpu.items() if name != "cuda_tests")


def test_every_cuda_test_is_selected():
    """Each test that skips on `not torch.cuda.is_available()` gives the reason the `cuda`
    marker keys on, so the GPU run cannot miss it."""
    assert plan.CUDA_REASON == CONFTEST_REASON
    unmarked = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith("skipif")
                and node.args
                and ast.unparse(node.args[0]).startswith("not torch.cuda.is_available")
                and CONFTEST_REASON not in ast.unparse(node)
            ):
                unmarked.append(f"{path.name}:{node.lineno}")
    assert unmarked == []
    found = {Path(p).name for p in plan.cuda_test_files(ROOT / "tests")}
    assert {"test_cuda_paths.py", "test_janus_sampler.py", "test_geneval_models.py"} <= found


def test_junit_figures(tmp_path):
    xml = tmp_path / "r.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_a" name="test_ok"/>'
        '<testcase classname="tests.test_a" name="test_bad"><failure message="x"/></testcase>'
        '<testcase classname="tests.test_b" name="test_err"><error message="y"/></testcase>'
        '<testcase classname="tests.test_b" name="test_gpu">'
        '<skipped message="needs a CUDA GPU (graphs)"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert gpu_acceptance._junit(xml) == {
        "collected": 4,
        "passed": 1,
        "failed": 2,
        "skipped": 1,
        "failed_tests": ["tests.test_a::test_bad", "tests.test_b::test_err"],
        "skip_reasons": ["needs a CUDA GPU (graphs)"],
    }


def test_version_tuple():
    assert plan.version_tuple("5.24.0") == (5, 24, 0)
    assert plan.version_tuple("5.0.0rc1") == (5, 0, 0)
    assert plan.version_tuple("4.57.1") < plan.MIN_TRANSFORMERS <= plan.version_tuple("5.0.0")


def test_an_old_transformers_is_named_with_how_to_carry_a_newer_one(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu_acceptance, "_version", lambda dist: "4.46.3")
    message = gpu_acceptance.ensure_transformers(tmp_path / "no-wheels-here")
    assert message.startswith("the baselines need transformers>=5.0 (found 4.46.3)")
    assert "pip download 'transformers>=5.0' -d .whl" in message and "--wheels DIR" in message
    monkeypatch.setattr(gpu_acceptance, "_version", lambda dist: "5.0.0")
    assert gpu_acceptance.ensure_transformers(tmp_path / "no-wheels-here") is None


def test_a_step_without_the_baselines_or_without_time(tmp_path):
    step = plan.Step("fid_help", ("bench", "fid", "--help", "--baselines"), 120)
    out = gpu_acceptance.run_step(step, tmp_path, 0.0, False, {})
    assert out["status"] == "skipped: no time left in the budget" and out["seconds"] == 0.0
    out = gpu_acceptance.run_step(step, tmp_path, 120, True, dict(os.environ))
    assert out["command"] == ["-m", "janus_eval", "bench", "fid", "--help"]
    assert out["status"] == "failed (no JSON on stdout)"  # --help prints text, not figures
