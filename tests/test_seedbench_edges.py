"""SEED-Bench details test_seedbench_metric.py leaves open (found by the mutation run of
metrics/seedbench.py, docs/TESTING.md): rows given as a one-pass iterable, and the dimension
names keyed by SEED-Bench.json's question_type_id."""

from __future__ import annotations

from janus_eval.metrics.seedbench import DIMENSIONS, seedbench_scores


def test_rows_may_be_a_generator() -> None:
    rows = [
        {"dimension": "Scene Understanding", "answer": "A", "prediction": "A",
         "choices": {"A": "a cat", "B": "a dog"}},
        {"dimension": "Text Understanding", "answer": "B", "prediction": "A",
         "choices": {"A": "a cat", "B": "a dog"}},
    ]  # fmt: skip
    want = {"accuracy": 50.0, "per_dimension": {"Scene Understanding": 100.0,
                                                "Text Understanding": 0.0}}  # fmt: skip
    assert seedbench_scores(iter(rows)) == want
    assert seedbench_scores(rows) == want


def test_dimension_ids_are_seed_benchs() -> None:
    """SEED-Bench.json's "question_type" map (AILab-CVC/SEED-Bench), ids 1-9: the image
    dimensions (10-12, Action Recognition, Action Prediction and Procedure Understanding, are
    video questions, which the image benchmark leaves out)."""
    assert DIMENSIONS == {
        1: "Scene Understanding",
        2: "Instance Identity",
        3: "Instance Attributes",
        4: "Instance Location",
        5: "Instances Counting",
        6: "Spatial Relation",
        7: "Instance Interaction",
        8: "Visual Reasoning",
        9: "Text Understanding",
    }
