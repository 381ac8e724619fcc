"""MJHQ-30K FID: Playground's 30,000 Midjourney images in ten categories, overall and per category.

Data (the layout of the Hugging Face repo playgroundai/MJHQ-30K):

- `meta_data.json`: {"<id>": {"category": "animals", "prompt": "..."}, ...}
- the images `<category>/<id>.jpg`: a folder `mjhq30k_imgs/` (the unpacked zip), the zip
  `mjhq30k_imgs.zip` itself (read in place), or category folders directly under the data dir;
  `--task-option real_images=...` names the folder or zip explicitly.

Without --data-dir the repo is fetched through janus_eval.hub (huggingface_hub snapshot of
meta_data.json and mjhq30k_imgs.zip; honours HF_HUB_OFFLINE and the HF cache).

Samples are ordered by id (ids are hashes, so `--limit k` is an unbiased subset across
categories). Protocol "clean" (default): clean-fid's clean mode on the images as they are
(MJHQ's are 1024x1024, Janus's 384x384), reference = all MJHQ images; "crop256" applies the
COCO protocol's centre crop + LANCZOS 256 to both sides. Per-category FID compares the generated
images of a category with the reference images in that category folder; categories with fewer
than 2 generated images (small --limit) are left out of `fid_per_category`, never estimated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from janus_eval.tasks._fid_task import FID_HELP, FidTask, fid_options

from janus_eval.registry import register_task
from janus_eval.types import Sample, UserError

HUB_REPO = "playgroundai/MJHQ-30K"
CATEGORIES = ("animals", "art", "fashion", "food", "indoor", "landscape", "logo", "people",
              "plants", "vehicles")  # fmt: skip


def read_meta(path: Path) -> list[Sample]:
    """meta_data.json -> samples sorted by id, each record checked."""
    if not path.is_file():
        raise UserError(f"mjhq30k: {path} not found. Download meta_data.json from {HUB_REPO}.")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"mjhq30k: cannot parse {path} as JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise UserError(f"mjhq30k: {path} must hold an object id -> {{category, prompt}}")
    samples = []
    for key in sorted(meta):
        record = meta[key]
        if not (
            isinstance(record, dict)
            and isinstance(record.get("prompt"), str)
            and isinstance(record.get("category"), str)
        ):
            raise UserError(
                f"mjhq30k: {path} record {key!r} needs string fields 'category' and 'prompt'"
            )
        samples.append(
            Sample(
                id=key,
                data={"prompt": record["prompt"], "category": record["category"]},
                category=record["category"],
            )
        )
    return samples


def category_of(name: str) -> str:
    """The category of a reference image: the folder it sits in (`.../<category>/<id>.jpg`)."""
    parts = name.split("/")
    return parts[-2] if len(parts) >= 2 else ""


@register_task
class Mjhq30k(FidTask):
    name = "mjhq30k"
    version = "1"
    protocols = {"clean": "clean", "crop256": "crop256"}
    metric_names = ("fid", "kid", "n_generated", "n_reference", "fid_per_category", "clip_score",
                    "clip_score_per_category")  # fmt: skip
    clip_breakdown = "category"
    data_help = (
        f"mjhq30k reads <data-dir>/meta_data.json and the images <category>/<id>.jpg (from "
        f"mjhq30k_imgs/ or mjhq30k_imgs.zip) as in the Hugging Face repo {HUB_REPO}; without "
        "--data-dir that repo is fetched from the hub or its cache." + FID_HELP
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        return {
            "protocol": "clean",
            "hub_repo": HUB_REPO,
            "real_images": "",
            **fid_options(cls.count_option),
        }

    def reference_description(self) -> str:
        return "all MJHQ-30K images (per category: that category's folder)"

    def default_data_dir(self) -> Path:
        from janus_eval.hub import resolve_snapshot

        return resolve_snapshot(
            self.options["hub_repo"],
            what="mjhq30k data",
            allow_patterns=["meta_data.json", "mjhq30k_imgs.zip"],
        )

    def samples(self, data_dir: Path | None, limit: int | None) -> Iterator[Sample]:
        self.check_ready()
        self._data_dir = Path(data_dir) if data_dir is not None else None
        samples = read_meta(self.data_root() / "meta_data.json")
        yield from samples[:limit] if limit else samples

    def images_path(self) -> Path:
        if self.options["real_images"]:
            return Path(self.options["real_images"]).expanduser()
        root = self.data_root()
        for candidate in (root / "mjhq30k_imgs", root / "mjhq30k_imgs.zip"):
            if candidate.exists():
                return candidate
        if any((root / c).is_dir() for c in CATEGORIES):
            return root
        raise UserError(
            f"mjhq30k: no reference images under {root} (looked for mjhq30k_imgs/, "
            f"mjhq30k_imgs.zip, or category folders). Download mjhq30k_imgs.zip from {HUB_REPO}."
        )

    def reference(self):
        from janus_eval.metrics.fid import ImageSet

        images = ImageSet.from_path(self.images_path(), what="mjhq30k reference images")
        return images, f"mjhq30k-{self.options['hub_repo'].replace('/', '-')}-all"

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import numpy as np

        from janus_eval.metrics.fid import feature_stats, frechet_distance

        metrics = super().aggregate(scored)
        ref = self.reference_stats()
        ref_cats = np.array([category_of(n) for n in ref.names])
        per_category, counts = {}, {}
        for cat in sorted({s.get("category") for s in scored if s.get("category")}):
            gen = self.generated_features([s for s in scored if s.get("category") == cat])
            counts[cat] = int(gen.shape[0])
            ref_feats = ref.subset(ref_cats == cat)
            if gen.shape[0] < 2:
                continue
            if ref_feats.shape[0] < 2:
                raise UserError(
                    f"mjhq30k: category {cat!r} has {ref_feats.shape[0]} reference image(s) "
                    f"under {self.images_path()}; per-category FID needs the images in "
                    f"<category>/<id>.jpg folders"
                )
            per_category[cat] = frechet_distance(
                *feature_stats(gen, what=f"generated {cat}"),
                *feature_stats(ref_feats, what=f"reference {cat}"),
            )
        return {**metrics, "fid_per_category": per_category, "n_per_category": counts}
