"""Shared test setup: the toy third-party plug-in is put on the path (in this process and in
every subprocess the tests start), exactly as an installed plug-in package would be."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PLUGIN_DIR = TESTS / "fixtures" / "toy_plugin"
SHARED_DATA = TESTS.parents[1] / "shared" / "data"

if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(PLUGIN_DIR), os.environ.get("PYTHONPATH", "")) if p
)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# A fresh cache per test session: janus-tiny and hub-image caches are rebuilt by the code under
# test instead of being read from whatever an older version left in ~/.cache.
os.environ["JANUS_EVAL_CACHE"] = tempfile.mkdtemp(prefix="janus-eval-test-cache-")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`janus-eval ARGS` in a fresh interpreter, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "janus_eval", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real benchmark data files not present at {SHARED_DATA}")
    return SHARED_DATA


#: The reason every CUDA-only test gives when it skips; scripts/gpu_acceptance.py selects the
#: tests that carry it (as the `cuda` marker below) to run them on a GPU.
CUDA_REASON = "needs a CUDA GPU"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"cuda: skipped without a GPU ('{CUDA_REASON} ...')")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `cuda` every test skipped for want of a GPU, so `-m cuda` runs exactly those (and a
    new CUDA test joins the GPU acceptance run by giving the usual reason)."""
    for item in items:
        if any(CUDA_REASON in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.cuda)
