"""Named revisions of an official scorer.

Why: a benchmark's own scoring code changes over time (GT-Vision-Lab/VQA changed its answer
processing in 2021, VLMEvalKit its letter extraction in 2025-2026), and published numbers were made
with one revision or another. So every scorer that has changed upstream is reproduced at each
revision people used, each under a stable name; the default is the official code's current
revision. The name is a task option (`scorer=...`), so it is part of the run's identity, and the
revision's full reference goes into the run record and the leaderboard notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ScorerRevision:
    """One revision of an official scorer: which repository, commit and files it reproduces."""

    name: str
    repo: str
    commit: str
    date: str
    files: tuple[str, ...]

    @property
    def reference(self) -> str:
        """'GT-Vision-Lab/VQA@a013f00 (2021-03-11: PythonEvaluationTools/vqaEval.py)'."""
        return f"{self.repo}@{self.commit[:7]} ({self.date}: {', '.join(self.files)})"

    def describe(self) -> dict[str, str]:
        """What a run record stores about the scorer (JSON-able)."""
        return {"name": self.name, "reference": self.reference, "commit": self.commit}


def revisions(*items: ScorerRevision) -> dict[str, ScorerRevision]:
    """name -> revision, in the order given (the first is the default by convention)."""
    return {item.name: item for item in items}


def pick(available: Mapping[str, ScorerRevision], name: str) -> ScorerRevision:
    """The revision called `name`; ValueError naming every choice otherwise."""
    try:
        return available[name]
    except (KeyError, TypeError):
        choices = ", ".join(f"{n} ({r.reference})" for n, r in available.items())
        raise ValueError(f"unknown scorer {name!r}; choose one of: {choices}") from None
