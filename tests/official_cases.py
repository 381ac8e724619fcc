"""The stored outputs of the benchmarks' own scorers (tests/fixtures/official/*.json).

Each file holds the inputs given to the official code, what it returned, and a `provenance`
block naming the repository, commit, file and how it was run (outside this project). Tests
compare janus_eval's metrics with these values; nothing here imports upstream code."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

OFFICIAL = Path(__file__).resolve().parent / "fixtures" / "official"


@cache
def load(name: str) -> dict[str, Any]:
    doc = json.loads((OFFICIAL / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["provenance"], f"{name}.json has no provenance"
    return doc
