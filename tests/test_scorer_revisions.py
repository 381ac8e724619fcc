"""janus_eval.metrics.revisions: what a run record stores about its scorer, and the error that
names every choice (written for the mutants of metrics/revisions.py the metric tests leave
untouched, docs/TESTING.md)."""

from __future__ import annotations

import pytest

from janus_eval.metrics.revisions import ScorerRevision, pick, revisions

NEW = ScorerRevision("x-new", "Org/Repo", "0123456789abcdef", "2021-03-11", ("a.py", "b/c.py"))
OLD = ScorerRevision("x-old", "Org/Repo", "fedcba9876543210", "2017-01-02", ("a.py",))


def test_describe_is_what_the_run_record_stores() -> None:
    assert NEW.describe() == {
        "name": "x-new",
        "reference": "Org/Repo@0123456 (2021-03-11: a.py, b/c.py)",
        "commit": "0123456789abcdef",
    }


def test_an_unknown_name_lists_every_choice() -> None:
    available = revisions(NEW, OLD)
    assert list(available) == ["x-new", "x-old"] and pick(available, "x-old") is OLD
    with pytest.raises(ValueError) as err:
        pick(available, "x-mid")
    assert str(err.value) == (
        "unknown scorer 'x-mid'; choose one of: x-new (Org/Repo@0123456 (2021-03-11: a.py, "
        "b/c.py)), x-old (Org/Repo@fedcba9 (2017-01-02: a.py))"
    )
