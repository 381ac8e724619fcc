"""GenEval's summary table, and every official prompt judged by the rules (test_geneval_rules.py
holds the rules one by one)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from test_geneval_rules import det, meta

from janus_eval.metrics import geneval as g
from janus_eval.metrics.geneval import evaluate_image, summarize

# -- summary ------------------------------------------------------------------------------------


def test_summary_by_hand():
    a = meta("single_object", {"class": "cat", "count": 1})
    b = meta("colors", {"class": "car", "count": 1, "color": "red"})
    results = [{"tag": "single_object", "correct": c, "metadata": a} for c in (1, 1, 1, 0)] + [
        {"tag": "colors", "correct": c, "metadata": b} for c in (0, 0)
    ]
    s = summarize(results)
    assert s["per_tag"] == {"single_object": 0.75, "colors": 0.0}
    assert s["overall"] == pytest.approx(0.375)  # unweighted over tags, not 3/6 over images
    assert s["correct_images"] == pytest.approx(0.5)
    assert s["correct_prompts"] == pytest.approx(0.5)
    assert (s["n_images"], s["n_prompts"]) == (6, 2)
    with pytest.raises(ValueError):
        summarize([])


def test_summary_matches_official_pandas_computation():
    pd = pytest.importorskip("pandas")
    rng = random.Random(7)
    results = []
    for p in range(60):
        tag = g.TAGS[(p % 45) % 5]
        m = json.dumps(meta(tag, {"class": f"c{p % 45}", "count": 1}))  # some prompts repeat
        results += [{"tag": tag, "correct": rng.random() < 0.4, "metadata": m} for _ in range(4)]
    df = pd.DataFrame(results)
    ours = summarize(results)  # official results.jsonl carries metadata as JSON text
    tag_scores = [t["correct"].mean() for _, t in df.groupby("tag", sort=False)]
    assert ours["overall"] == pytest.approx(np.mean(tag_scores))
    assert ours["correct_images"] == pytest.approx(df["correct"].mean())
    assert ours["correct_prompts"] == pytest.approx(df.groupby("metadata")["correct"].any().mean())
    assert ours["n_prompts"] == len(df.groupby("metadata")) == 45
    assert list(ours["per_tag"]) == list(dict.fromkeys(df["tag"]))  # order of appearance


# -- the real prompts ---------------------------------------------------------------------------


def ideal_detections(m):
    """Detections that satisfy a prompt: targets in the middle, others placed by relation."""
    offsets = {"left of": (-40, 0), "right of": (40, 0), "above": (0, -40), "below": (0, 40)}
    out = {}
    for req in m["include"]:
        dx, dy = offsets[req["position"][0]] if "position" in req else (0, 0)
        out[req["class"]] = [
            det(40 + dx + i, 40 + dy, 60 + dx + i, 60 + dy) for i in range(req["count"])
        ]
    return out


def test_every_official_prompt_is_satisfiable_and_breakable(shared_data):
    path = shared_data / "geneval" / "evaluation_metadata.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for m in records:
        colours = {r["class"]: r.get("color") for r in m["include"]}

        def classify(_image, _det, name, colours=colours):
            return colours[name]

        right = ideal_detections(m)
        assert evaluate_image(m, right, classify, None) == (True, ""), m
        first = m["include"][0]["class"]
        wrong = {k: v for k, v in right.items() if k != first}
        assert not evaluate_image(m, wrong, classify, None)[0], m
