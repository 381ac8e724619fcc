"""Leaderboard from hand-written run records: rows per model, columns per scoring setup, and
every output format parsed back."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from test_report_fixtures import TOY, correct_samples, write_run

from janus_eval.report.leaderboard import build_leaderboard, render_leaderboard
from janus_eval.report.records import iter_samples, load_record, load_sample_scores
from janus_eval.types import UserError

GEN_METRICS = {"overall": 0.0, "per_tag": {"counting": 0.0, "position": 0.0}}


def _gen(root: Path, run_id: str, detector: str, overall: float, **kw) -> Path:
    metrics = {"overall": overall, "per_tag": {"counting": overall / 2, "position": overall / 4}}
    return write_run(root, run_id, task="geneval", kind="generation", primary="overall",
                     metrics=metrics, options={"detector": detector, "n": 4},
                     leaderboard_keys=["detector"], **kw)  # fmt: skip


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    # model A: two toy runs (the newer one must win), GenEval with two detectors
    write_run(root, "toy-a-old", metrics={"accuracy": 50.0, "per_type": {"yes/no": 40.0}},
              finished_at="2025-01-01T10:00:00+00:00")  # fmt: skip
    write_run(root, "toy-a-new", metrics={"accuracy": 60.0, "per_type": {"yes/no": 70.0}},
              finished_at="2025-02-01T10:00:00Z")  # fmt: skip
    _gen(root, "gen-a-m2f", "mask2former", 0.61)
    _gen(root, "gen-a-owl", "owlv2", 0.55)
    # model A at another checkpoint: its own row; a partial run
    write_run(root, "nested/toy-a2", checkpoint="ckpt/b", weights="b" * 64, complete=False,
              metrics={"accuracy": 70.0, "per_type": {"yes/no": 75.0}})  # fmt: skip
    # model B: a --limit run, sharded weights (hash mapping)
    write_run(root, "toy-b", model="janus-1.3b", checkpoint="deepseek-ai/Janus-1.3B",
              weights={"a.safetensors": "1" * 64, "b.safetensors": "2" * 64}, limit=10,
              metrics={"accuracy": 45.5, "per_type": {"yes/no": 50.0}})  # fmt: skip
    _gen(root, "gen-b-m2f", "mask2former", 0.40, model="janus-1.3b",
         checkpoint="deepseek-ai/Janus-1.3B", weights={"a.safetensors": "1" * 64,
                                                       "b.safetensors": "2" * 64})  # fmt: skip
    return root


def _row(df: pd.DataFrame, model: str, checkpoint: str) -> pd.Series:
    match = df[(df["model"] == model) & (df["checkpoint"] == checkpoint)]
    assert len(match) == 1, df
    return match.iloc[0]


def test_rows_columns_newest_and_detectors_apart(runs: Path) -> None:
    df = build_leaderboard([runs])
    metric_cols = [c for c in df.columns if c not in ("model", "checkpoint", "weights", "notes")]
    assert metric_cols == [
        "geneval[detector=mask2former]/overall",
        "geneval[detector=owlv2]/overall",
        f"{TOY}/accuracy",
    ]
    assert len(df) == 3
    a = _row(df, "janus-pro-1b", "ckpt/a")
    assert a[f"{TOY}/accuracy"] == 60.0  # newest by finished_at, not the first found
    assert a["geneval[detector=mask2former]/overall"] == 0.61
    assert a["geneval[detector=owlv2]/overall"] == 0.55
    assert "newest of 2 runs" in a["notes"] and "toy-a-old" in a["notes"]
    assert a["weights"] == "a" * 12

    a2 = _row(df, "janus-pro-1b", "ckpt/b")
    assert a2[f"{TOY}/accuracy"] == 70.0 and "incomplete" in a2["notes"]
    assert pd.isna(a2["geneval[detector=owlv2]/overall"])

    b = _row(df, "janus-1.3b", "deepseek-ai/Janus-1.3B")
    assert "limit=10" in b["notes"]
    assert len(b["weights"]) == 12 and b["weights"] != "1" * 12
    assert pd.isna(b["geneval[detector=owlv2]/overall"])

    partial = {(df.iloc[r]["checkpoint"], c) for r, c in df.attrs["partial"]}
    assert partial == {("ckpt/b", f"{TOY}/accuracy"),
                       ("deepseek-ai/Janus-1.3B", f"{TOY}/accuracy")}  # fmt: skip


def test_sub_metrics_are_flattened(runs: Path) -> None:
    df = build_leaderboard([runs], sub_metrics=True)
    assert f"{TOY}/per_type/yes/no" in df.columns
    cols = list(df.columns)
    # primary first within its task
    assert cols.index(f"{TOY}/accuracy") < cols.index(f"{TOY}/per_type/yes/no")
    assert cols.index("geneval[detector=mask2former]/overall") < cols.index(
        "geneval[detector=mask2former]/per_tag/counting"
    )
    assert _row(df, "janus-pro-1b", "ckpt/a")[f"{TOY}/per_type/yes/no"] == 70.0
    assert build_leaderboard([runs]).columns.size < df.columns.size


def test_task_versions_get_their_own_columns(tmp_path: Path) -> None:
    write_run(tmp_path, "v1", metrics={"accuracy": 50.0})
    write_run(tmp_path, "v2", version="2", model="other", metrics={"accuracy": 52.0})
    df = build_leaderboard([tmp_path])
    assert {f"{TOY}@v1/accuracy", f"{TOY}@v2/accuracy"} <= set(df.columns)


def _parse_markdown(text: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    split = [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]
    header, rule, *body = split
    assert all(set(c) <= {"-", ":"} for c in rule)
    return [dict(zip(header, row, strict=True)) for row in body]


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_every_format_parses_back(runs: Path) -> None:
    df = build_leaderboard([runs])
    col = f"{TOY}/accuracy"

    md = render_leaderboard(df, "md")
    rows = {(r["model"], r["checkpoint"]): r for r in _parse_markdown(md)}
    assert rows[("janus-pro-1b", "ckpt/a")][col] == "60.00"
    assert rows[("janus-pro-1b", "ckpt/b")][col] == "70.00*"  # partial marked
    assert rows[("janus-1.3b", "deepseek-ai/Janus-1.3B")][col] == "45.50*"
    assert rows[("janus-1.3b", "deepseek-ai/Janus-1.3B")]["geneval[detector=owlv2]/overall"] == "—"
    assert "* partial run" in md

    back = pd.read_csv(io.StringIO(render_leaderboard(df, "csv")))
    assert list(back.columns) == list(df.columns)
    pd.testing.assert_series_equal(back[col], df[col])

    data = json.loads(render_leaderboard(df, "json"))
    by_ckpt = {r["checkpoint"]: r for r in data}
    assert by_ckpt["ckpt/a"][col] == 60.0 and by_ckpt["ckpt/a"]["partial"] == []
    assert by_ckpt["ckpt/b"]["partial"] == [col]
    assert by_ckpt["deepseek-ai/Janus-1.3B"]["geneval[detector=owlv2]/overall"] is None

    parser = _Tables()
    parser.feed(render_leaderboard(df, "html"))
    header, *body = parser.rows
    assert header == list(df.columns)
    html_rows = {(r[0], r[1]): dict(zip(header, r, strict=True)) for r in body}
    assert html_rows[("janus-pro-1b", "ckpt/b")][col] == "70.00*"

    with pytest.raises(UserError, match="unknown leaderboard format"):
        render_leaderboard(df, "xlsx")


def test_markdown_escapes_pipes(tmp_path: Path) -> None:
    write_run(tmp_path, "r", model="a|b", metrics={"accuracy": 1.0})
    md = render_leaderboard(build_leaderboard([tmp_path]), "md")
    assert "a\\|b" in md


def test_bad_inputs_raise_user_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no run.json found"):
        build_leaderboard([tmp_path / "empty"])
    with pytest.raises(UserError, match="no such file"):
        build_leaderboard([tmp_path / "nope"])
    with pytest.raises(UserError, match="not a run directory"):
        load_record(tmp_path / "empty")

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text('{"run_id": "x",\n "task": ')
    with pytest.raises(UserError, match=r"bad/run\.json: malformed JSON at line 2"):
        build_leaderboard([tmp_path / "bad"])
    (bad / "run.json").write_text('{"run_id": "x"}')
    with pytest.raises(UserError, match=r"bad/run\.json: not a run record"):
        build_leaderboard([bad])
    (bad / "run.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="expected a JSON object"):
        build_leaderboard([bad])


def test_samples_reader_tolerates_a_cut_tail_only(tmp_path: Path) -> None:
    run = write_run(tmp_path, "r", samples=correct_samples([1, 0, 1]))
    path = run / "samples.jsonl"
    with open(path, "a") as fh:
        # a re-scored sample appended later wins; arrays are not loaded
        fh.write(json.dumps({"key": "k", "id": "s001", "index": 1,
                             "scores": {"correct": 1, "feat": {"__ndarray__": "arrays/x.npz",
                                                               "name": "0.feat"}}}) + "\n")  # fmt: skip
        fh.write('{"key": "k2", "id": "s003", "sco')  # crash mid-line
    scores = load_sample_scores(run)
    assert scores == {"s000": {"correct": 1}, "s001": {"correct": 1}, "s002": {"correct": 1}}

    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    with pytest.raises(UserError, match="line 2 is not valid JSON"):
        list(iter_samples(run))
