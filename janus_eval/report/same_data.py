"""Whether two runs scored the same data, and when not, how they differ.

Every run records a data fingerprint (config["data"]["fingerprint"]) and every stored result
its sample's data id (the "data" field of samples.jsonl): hashes of the samples' ids and
contents, images by content, never the model, the seed or a path (janus_eval.identity). So two
models run on the same data have equal fingerprints and `compare` says nothing about data;
when fingerprints differ it names what differs: samples only in one run, and samples whose
content (a label, a question, an image) differs, with examples.

Runs written before data ids existed fingerprinted their result keys, which hold the model:
for those the content cannot be checked, and the warning says so instead of claiming a
difference.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from janus_eval.report.records import Run, iter_samples

EXAMPLES = 3


def examples(ids: Sequence[str], n: int = EXAMPLES) -> str:
    """'a', 'b', 'c' and 4 more."""
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


def sample_data_ids(run: Run) -> dict[str, str | None]:
    """Sample id -> its stored data id (None for results written before data ids existed)."""
    return {str(line["id"]): line.get("data") for line in iter_samples(run.path)}


def _fingerprint(run: Run) -> str | None:
    data = run.record.config.get("data")
    if isinstance(data, dict) and data.get("scheme") and data.get("fingerprint"):
        return f"{data['scheme']}:{data['fingerprint']}"
    return None


def data_warnings(
    label: str, base: Run, cand: Run, base_ids: Collection[str], cand_ids: Collection[str]
) -> list[str]:
    """Warnings about the data of a compared pair (`*_ids`: the ids of the stored results);
    none when both runs scored the same samples with the same content."""
    common = sorted(set(base_ids) & set(cand_ids))
    found = [
        _set_warning(label, base_ids, cand_ids, common),
        _content_warning(label, base, cand, common),
    ]
    return [w for w in found if w]


def _set_warning(
    label: str, base_ids: Collection[str], cand_ids: Collection[str], common: Sequence[str]
) -> str | None:
    only = {
        "baseline": sorted(set(base_ids) - set(cand_ids)),
        "candidate": sorted(set(cand_ids) - set(base_ids)),
    }
    sides = [
        f"{len(ids)} only in the {side} ({examples(ids)})" for side, ids in only.items() if ids
    ]
    if not sides:
        return None
    return (
        f"{label}: sample sets differ (baseline {len(base_ids)}, candidate {len(cand_ids)}, "
        f"common {len(common)}): {'; '.join(sides)}; per-sample metrics are compared on the "
        "common samples, set-level metrics as recorded"
    )


def _content_warning(label: str, base: Run, cand: Run, common: Sequence[str]) -> str | None:
    fb, fc = _fingerprint(base), _fingerprint(cand)
    if fb is not None and fb == fc:
        return None
    old_same = base.record.config.get("data") == cand.record.config.get("data")
    if fb is None and fc is None and old_same:
        return None  # older runs that recorded the same data description
    ids = {"baseline": sample_data_ids(base), "candidate": sample_data_ids(cand)}
    unknown = [side for side, d in ids.items() if any(d.get(i) is None for i in common)]
    if unknown:
        return (
            f"{label}: cannot tell whether the samples' content is the same: the "
            f"{' and the '.join(unknown)} run(s) were written before janus-eval recorded data "
            "ids (their data fingerprint also covered the model). Re-run to check."
        )
    changed = [i for i in common if ids["baseline"][i] != ids["candidate"][i]]
    if not changed:
        return None
    return (
        f"{label}: data differ: {len(changed)} of the {len(common)} common samples have "
        f"different content ({examples(changed)}): a label, question or image changed between "
        "the runs; their scores are still paired by sample id"
    )
