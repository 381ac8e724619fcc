"""One leaderboard over the reference model and the models compared with it: janus-tiny,
hf-vlm (tiny LLaVA) and diffusers (tiny Stable Diffusion), plus janusflow-tiny where that
adapter is installed; each row names its adapter, its checkpoint and its weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from hf_vlm_helpers import tiny_llava
from janus_helpers import one_thread  # noqa: F401  (a fixture)
from test_mjhq30k import make_mjhq
from test_mjhq30k import options as mjhq_options
from test_pope_task import rec, write_pope

from janus_eval import registry
from janus_eval.api import evaluate
from janus_eval.report.leaderboard import build_leaderboard, render_leaderboard

pytest.importorskip("diffusers", reason="the optional extra 'diffusers' is not installed")
from diffusers_helpers import tiny_sd  # noqa: E402


@pytest.mark.slow
def test_leaderboard_rows_side_by_side(tmp_path: Path, one_thread) -> None:  # noqa: F811
    pope = write_pope(
        tmp_path / "pope",
        {s: [rec(1, 1, "dog", "yes")] for s in ("random", "popular", "adversarial")},
    )
    mjhq = make_mjhq(tmp_path / "mjhq")
    runs = tmp_path / "runs"
    pope_opts = {"max_new_tokens": "2"}
    gen_opts = mjhq_options(tmp_path, image_size=16)
    native = mjhq_options(tmp_path, image_size=0)  # janus-tiny makes 32 px images only
    expected = {
        ("janus-tiny", "pope"): evaluate("pope", "janus-tiny", data_dir=pope, output_dir=runs,
                                         task_options=pope_opts),
        ("hf-vlm", "pope"): evaluate("pope", "hf-vlm", model_path=str(tiny_llava()),
                                     data_dir=pope, output_dir=runs, task_options=pope_opts),
        ("janus-tiny", "mjhq30k"): evaluate("mjhq30k", "janus-tiny", data_dir=mjhq, limit=4,
                                            output_dir=runs, task_options=native),
        ("diffusers", "mjhq30k"): evaluate("mjhq30k", "diffusers", model_path=str(tiny_sd()),
                                           model_options={"steps": "2"}, data_dir=mjhq, limit=4,
                                           output_dir=runs, task_options=gen_opts),
    }  # fmt: skip
    if "janusflow-tiny" in registry.adapter_names():
        expected["janusflow-tiny", "mjhq30k"] = evaluate(
            "mjhq30k", "janusflow-tiny", data_dir=mjhq, output_dir=runs, limit=4,
            task_options=native,
        )  # fmt: skip
    table = build_leaderboard([runs])
    rows = {row["model"]: row for row in table.to_dict("records")}
    assert set(rows) == {name for name, _ in expected}
    for (name, task), record in expected.items():
        row = rows[name]
        assert row["checkpoint"] == record.model["checkpoint"] != ""
        assert row["weights"] and str(record.model["weights_sha256"]).startswith(row["weights"])
        column = "pope/f1" if task == "pope" else "mjhq30k/fid"
        assert row[column] == pytest.approx(record.metrics[column.split("/")[1]])
    assert rows["hf-vlm"]["checkpoint"] == str(tiny_llava())
    assert rows["diffusers"]["checkpoint"] == str(tiny_sd())
    text = render_leaderboard(table, "md")
    assert all(name in text for name in rows)


def test_models_lists_and_describes_them(cli) -> None:
    shown = cli("models")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "AutoModelForImageTextToText" in text and "guidance_scale" in text
    assert "hf-vlm" in text and "diffusers" in text
