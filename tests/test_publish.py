"""`janus-eval publish`: the four files, byte-identical when run again over the same runs, with
the report's time taken from the runs, not the clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_fixtures import write_run

from janus_eval.report.publish import newest_finish_epoch, publish
from janus_eval.report.records import load_runs
from janus_eval.report.stamp import generated_at
from janus_eval.types import UserError

FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "index.html")


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_run(root, "pope-7b", task="pope", primary="f1", model="janus",
              checkpoint="/ckpt/Janus-Pro-7B", metrics={"f1": 86.0}, options={"split": "all"},
              finished_at="2025-03-04T05:06:07+00:00")  # fmt: skip
    write_run(root, "gen-1b", task="geneval", kind="generation", primary="overall",
              model="janus", checkpoint="deepseek-ai/Janus-Pro-1B", metrics={"overall": 0.7},
              finished_at="2025-01-01T00:00:00+00:00")  # fmt: skip
    return root


def _bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def test_publish_twice_gives_identical_bytes(runs: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = tmp_path / "results"
    written = publish([runs], out)
    assert [p.name for p in written] == list(FILES)
    first = _bytes(out)
    for name in FILES:
        (out / name).unlink()
    publish([runs], out)
    assert _bytes(out) == first
    # the report says when the newest run finished, not when it was written
    assert "generated 2025-03-04T05:06:07+00:00" in first["index.html"].decode()
    table = json.loads(first["leaderboard.json"])
    assert any(r["reported"] for r in table["rows"])
    assert "86.00 (-1.40)" in first["leaderboard.md"].decode()


def test_publish_order_of_paths_does_not_matter(runs: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    publish([runs / "pope-7b", runs / "gen-1b"], a)
    publish([runs / "gen-1b", runs / "pope-7b"], b)
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_caller_source_date_epoch_is_kept(runs: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    publish([runs], tmp_path / "out")
    assert "generated 1970-01-02T00:00:00+00:00" in (tmp_path / "out" / "index.html").read_text()


def test_newest_finish_epoch(runs: Path) -> None:
    assert newest_finish_epoch(load_runs([runs])) == 1741064767  # 2025-03-04T05:06:07Z
    assert newest_finish_epoch([]) == 0


def test_stamp_reads_source_date_epoch(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert generated_at() == "1970-01-01T00:00:00+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UserError, match="SOURCE_DATE_EPOCH='yesterday'"):
        generated_at()


def test_cli_publish_and_its_errors(runs: Path, tmp_path: Path, cli) -> None:
    done = cli("publish", str(runs), "--to", str(tmp_path / "pub"))
    assert done.returncode == 0, done.stderr
    assert all((tmp_path / "pub" / name).is_file() for name in FILES)
    missing = cli("publish", str(tmp_path / "nothing"), "--to", str(tmp_path / "pub2"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr and not (tmp_path / "pub2").exists()
