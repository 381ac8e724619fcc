"""janus_eval.metrics.seedbench against VLMEvalKit's SEEDBench_IMG scoring (outputs stored in
tests/fixtures/official/seedbench.json with their provenance)."""

from __future__ import annotations

import pytest
from official_cases import load

from janus_eval.metrics.seedbench import DIMENSIONS, seedbench_letter, seedbench_scores

OFFICIAL = load("seedbench")
ROWS = OFFICIAL["rows"]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['index']}:{r['prediction']!r}")
def test_letters_match_vlmevalkit(row: dict) -> None:
    assert seedbench_letter(row["prediction"], row["choices"]) == row["official_letter"]


def test_scores_match_report_acc() -> None:
    got = seedbench_scores(ROWS)
    want = OFFICIAL["expected"]
    assert got["accuracy"] == pytest.approx(100 * want["overall"], abs=1e-12)
    assert got["per_dimension"] == pytest.approx(
        {k: 100 * v for k, v in want["per_dimension"].items()}, abs=1e-12
    )
    assert list(got["per_dimension"]) == sorted(DIMENSIONS.values())  # report_acc sorts
    assert 0 < got["accuracy"] < 100


def test_unresolved_answers_count_wrong() -> None:
    choices = {"A": "cat", "B": "dog"}
    assert seedbench_letter("no idea", choices) == "Z"
    got = seedbench_scores(
        [
            {
                "dimension": "Scene Understanding",
                "answer": "A",
                "prediction": "A",
                "choices": choices,
            },
            {
                "dimension": "Scene Understanding",
                "answer": "B",
                "prediction": "hm",
                "choices": choices,
            },
            {
                "dimension": "Instance Identity",
                "answer": "B",
                "prediction": "dog",
                "choices": choices,
            },
        ]
    )
    assert got == {
        "accuracy": pytest.approx(200 / 3),
        "per_dimension": {"Instance Identity": 100.0, "Scene Understanding": 50.0},
    }
    with pytest.raises(ValueError, match="no SEED-Bench rows"):
        seedbench_scores([])
