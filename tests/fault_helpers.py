"""What the fault tests share: real processes started and watched, stored results read back,
and a way to run a child without root's power to write anywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def start(args: Sequence[str], **kwargs) -> subprocess.Popen:
    """`janus-eval ARGS` as a background process (text pipes for stdout and stderr)."""
    env = {**os.environ, "COLUMNS": "200", **kwargs.pop("env", {})}
    return subprocess.Popen(
        [*kwargs.pop("prefix", []), sys.executable, "-m", "janus_eval", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 120, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def stored_lines(run_dir: Path, name: str = "samples.jsonl") -> list[dict]:
    path = run_dir / name
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def line_count(out: Path) -> int:
    files = list(out.glob("*/samples*.jsonl"))
    return sum(len(f.read_text().splitlines()) for f in files)


def one_run_dir(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and ".replaced-" not in p.name]
    return run_dir


def comparable(run_dir: Path) -> dict[str, tuple]:
    """Per result key: what the run computed (arrays read back; not the timing)."""
    from janus_eval.store import RunStore

    store, out = RunStore(run_dir), {}
    for line in stored_lines(run_dir):
        scores = store.resolve_arrays(line)["scores"]
        scores = {k: getattr(v, "tolist", lambda v=v: v)() for k, v in scores.items()}
        out[line["key"]] = (line["id"], line["response"], line["images"], scores)
    return out


def assert_one_clear_error(result, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def unprivileged() -> list[str]:
    """A command prefix that drops every capability, so root obeys file permissions (tests run
    as root here); skips the test where that is not possible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: cannot drop the "
                    "capability to write through file permissions")  # fmt: skip
    probe = subprocess.run([setpriv, "--inh-caps=-all", "--bounding-set=-all", "true"])
    if probe.returncode != 0:
        pytest.skip("setpriv cannot drop capabilities in this container")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--"]


def run(args: Sequence[str], *, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    """`janus-eval ARGS` to the end (same keywords as `start`, e.g. prefix=unprivileged())."""
    proc = start(args, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
