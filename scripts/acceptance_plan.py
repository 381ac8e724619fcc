"""What the GPU acceptance run (scripts/gpu_acceptance.py) runs and what it holds each figure
to: the steps as CLI command lines, full size on a GPU or toy size on the CPU (--dry-run), and
the targets of issue 13. Kept apart from the runner so the plan reads as a table and its
verdicts can be tested without running anything."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

#: The reason every CUDA-only test gives when it skips (tests/conftest.py marks those `cuda`).
CUDA_REASON = "needs a CUDA GPU"
#: The baselines build transformers' JanusForConditionalGeneration with `rope_parameters`.
MIN_TRANSFORMERS = (5, 0)


@dataclass(frozen=True)
class Step:
    """One command of the run: `args` after `janus-eval` (or after `python -m` for pytest)."""

    name: str
    args: tuple[str, ...]
    timeout_s: float


@dataclass(frozen=True)
class Target:
    """`figure` of `step` (a key of its JSON) must be `op` `bound`."""

    label: str
    step: str
    figure: str
    op: str  # ">=", "<=" or "=="
    bound: float
    unit: str = ""

    def verdict(self, value: float | None) -> str:
        """ "pass", "FAIL", or "missing" when the step produced no such figure."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "missing"
        ok = {">=": value >= self.bound, "<=": value <= self.bound, "==": value == self.bound}
        return "pass" if ok[self.op] else "FAIL"


def _generate(name: str, size: str, per_prompt: int, prompts: int, dry: bool) -> Step:
    shape = ("--size", "tiny", "--device", "cpu", "--dtype", "fp32", "--steps", "4") if dry else (
        "--size", size, "--device", "cuda", "--dtype", "bf16")  # fmt: skip
    if dry:  # toy: one image a prompt, the same number of prompts
        per_prompt = 1
    return Step(
        name,
        ("bench", "generate", *shape, "--images-per-prompt", str(per_prompt),
         "--prompts", str(prompts), "--baselines"),
        timeout_s={"janus-pro-7b": 200, "janus-1.3b": 150}[size] + 30 * (prompts > 1),
    )  # fmt: skip


def _understand(name: str, size: str, dry: bool) -> Step:
    shape = (("--size", "tiny", "--device", "cpu", "--dtype", "fp32", "--questions", "4",
              "--batch-size", "2") if dry else ("--size", size, "--device", "cuda", "--dtype",
              "bf16"))  # fmt: skip
    return Step(name, ("bench", "understand", *shape, "--baselines"), 120)


def steps(dry: bool, test_files: list[str], inception_path: str | None) -> list[Step]:
    """The run in order: CUDA tests, five model benchmarks, the FID engine."""
    if dry:
        fid = ("--device", "cpu", "--n-images", "8", "--random-extractor", "--num-workers", "0",
               "--batch-size", "8")  # fmt: skip
    else:
        fid = ("--device", "cuda", "--n-images", "2000")
        fid += ("--inception-path", inception_path) if inception_path else ()
    return [
        Step(
            "cuda_tests",
            ("pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", "-rs", *test_files),
            timeout_s=180,
        ),  # fmt: skip
        _generate("generate_1.3b_16", "janus-1.3b", 16, 1, dry),
        _generate("generate_1.3b_64", "janus-1.3b", 16, 4, dry),
        _generate("generate_7b_16", "janus-pro-7b", 16, 1, dry),
        _understand("understand_1.3b", "janus-1.3b", dry),
        _understand("understand_7b", "janus-pro-7b", dry),
        Step("fid", ("bench", "fid", *fid), timeout_s=120),
    ]


TARGETS = [
    Target("CUDA tests failed", "cuda_tests", "failed", "==", 0),
    Target("1.3B, 16 images of one prompt", "generate_1.3b_16", "images_per_s", ">=", 15, "img/s"),
    Target(
        "1.3B, 64 images of four prompts", "generate_1.3b_64", "images_per_s", ">=", 25, "img/s"
    ),  # fmt: skip
    Target("7B, 16 images", "generate_7b_16", "images_per_s", ">=", 4, "img/s"),
    Target("7B, 16 images: peak memory", "generate_7b_16", "peak_gpu_mem_gb", "<=", 24, "GB"),
    Target("understanding 1.3B", "understand_1.3b", "questions_per_s", ">=", 100, "q/s"),
    Target("understanding 7B", "understand_7b", "questions_per_s", ">=", 40, "q/s"),
    Target("FID engine vs clean-fid", "fid", "speedup", ">=", 3, "x"),
    Target("FID vs clean-fid's, relative", "fid", "fid_relative_diff", "<=", 1e-6),
]


def cuda_test_files(tests_dir: Path) -> list[str]:
    """The test files holding a test that skips with CUDA_REASON (pytest's `-m cuda` then picks
    those tests alone; naming the files spares collecting the whole suite)."""
    return sorted(
        str(p) for p in tests_dir.glob("test_*.py") if CUDA_REASON in p.read_text(errors="ignore")
    )


def version_tuple(version: str) -> tuple[int, ...]:
    """(5, 24, 0) from "5.24.0" or "5.0.0rc1"; leading digits of each part only."""
    return tuple(int(m.group()) for m in (re.match(r"\d+", p) for p in version.split(".")) if m)
