"""CI gates of `janus-eval compare` (`--max-drop METRIC=VALUE`).

METRIC is `metric`, `metric/sub` for a breakdown entry, or `task:metric` to pick one task when
comparing folders of runs. Higher is better, so a gate fails when `candidate < baseline - VALUE`;
for metrics where lower is better, those whose name starts with `fid` or `kid`
(case-insensitive), it fails when `candidate > baseline + VALUE`. A drop of exactly VALUE passes
(a relative tolerance of 1e-9 absorbs float rounding). A gated metric missing from the
candidate fails its gate; one missing from both runs is a UserError listing the metrics there
are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from janus_eval.types import UserError

LOWER_IS_BETTER_PREFIXES = ("fid", "kid")


def lower_is_better(metric: str) -> bool:
    return metric.split("/")[0].lower().startswith(LOWER_IS_BETTER_PREFIXES)


def _task_matches(row_task: str, wanted: str) -> bool:
    """'geneval' picks every GenEval row; 'geneval[detector=x]' only that detector's."""
    return row_task == wanted or row_task.startswith(wanted + "[")


def apply_gates(rows: Sequence[Any], gates: Mapping[str, float]) -> None:
    """Mark every row a gate names with the gate and its verdict (UserError for a gate naming
    no metric of the compared runs)."""
    for name, allowed in gates.items():
        task, sep, metric = name.partition(":")
        if not (sep and any(_task_matches(r.task, task) for r in rows)):
            task, metric = "", name  # no task prefix (or a ':' inside a breakdown key)
        chosen = [
            r for r in rows if r.metric == metric and (not task or _task_matches(r.task, task))
        ]
        if not chosen:
            available = sorted({f"{r.task}:{r.metric}" for r in rows})
            raise UserError(
                f"--max-drop {name}: no metric {name!r} in the compared runs; available: "
                + ", ".join(available)
            )
        for row in chosen:
            row.gate = allowed
            row.passed = gate_passes(row.metric, row.baseline, row.candidate, allowed)


def gate_passes(
    metric: str, baseline: float | None, candidate: float | None, allowed: float
) -> bool:
    """The gate rule (see the module docstring); a missing number fails."""
    if (
        baseline is None
        or candidate is None
        or not (math.isfinite(baseline) and math.isfinite(candidate))
    ):
        return False
    slack = 1e-9 * max(1.0, abs(baseline))
    if lower_is_better(metric):
        return candidate <= baseline + allowed + slack
    return candidate >= baseline - allowed - slack
