"""MSCOCO-30K FID: 30,000 COCO 2014 val captions, one per image, drawn with a fixed seed.

The draw (exact, so anyone can reproduce the prompt list):

1. `pycocotools.coco.COCO(captions_val2014.json)`; the images are the ids that have at least
   one caption, sorted ascending (40,504 in val2014).
2. `random.Random(draw_seed).shuffle(ids)`; the first `num_samples` (30,000) are drawn, in that
   shuffled order (so `--limit k` takes the first k of the same draw, a random subset).
3. For every image in shuffled order, one caption: its annotations sorted by annotation id,
   index `random.Random(draw_seed + 1).randrange(len(annotations))`, one draw per image in
   that order. Captions are used verbatim (COCO captions keep their trailing spaces).

Sample.id is the COCO image id (one caption per image, so it is unique); the annotation id is
kept in the sample data.

Protocols (both preprocess each side the same way: centre crop to the short side, LANCZOS to
256x256, then clean-fid's clean resize to 299; see janus_eval.metrics.fid):

- "gigagan" (default), as GigaGAN's and LlamaGen's evaluation.py: the reference is the whole
  val2014 image folder (all 40,504 images, clean-fid's folder listing).
- "drawn30k": the reference is the `num_samples` drawn images only.

The reference does not shrink with `--limit`: it is part of the protocol.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from janus_eval.tasks._fid_task import FID_HELP, FidTask, fid_options

from janus_eval.registry import register_task
from janus_eval.types import Sample, UserError

DOWNLOAD = (
    "Get them from https://cocodataset.org/#download: '2014 Val images' (val2014.zip, unpack to "
    "<data-dir>/val2014/) and '2014 Train/Val annotations' (annotations/captions_val2014.json)."
)

#: Captioned images in the built-in demo sample (janus_eval/demo_data/coco30k).
DEMO_NUM_SAMPLES = 12


def draw_captions(captions_file: Path, num_samples: int, seed: int) -> list[dict[str, Any]]:
    """The drawn (image, caption) pairs, in draw order (see the module docstring)."""
    from pycocotools.coco import COCO

    if not captions_file.is_file():
        raise UserError(f"coco30k: captions file not found: {captions_file}. {DOWNLOAD}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(captions_file))
    except Exception as exc:
        raise UserError(
            f"coco30k: cannot read {captions_file} as COCO annotations ({type(exc).__name__}: "
            f"{exc}). {DOWNLOAD}"
        ) from None
    for ann in coco.anns.values():
        if "caption" not in ann:
            raise UserError(
                f"coco30k: {captions_file} annotation {ann.get('id')} has no 'caption': this is "
                "not a captions file (captions_val2014.json is)."
            )
    ids = sorted(i for i in coco.imgs if coco.imgToAnns.get(i))
    if num_samples < 1:
        raise UserError(f"coco30k: num_samples must be at least 1 (got {num_samples})")
    if num_samples > len(ids):
        raise UserError(
            f"coco30k: num_samples={num_samples} but {captions_file} has captions for only "
            f"{len(ids)} images; pass --task-option num_samples={len(ids)} or fewer"
        )
    random.Random(seed).shuffle(ids)
    pick = random.Random(seed + 1)
    drawn = []
    for image_id in ids:
        anns = sorted(coco.imgToAnns[image_id], key=lambda a: a["id"])
        ann = anns[pick.randrange(len(anns))]
        drawn.append(
            {
                "image_id": image_id,
                "annotation_id": ann["id"],
                "caption": ann["caption"],
                "file_name": coco.imgs[image_id].get("file_name", ""),
            }
        )
    return drawn[:num_samples]


@register_task
class Coco30k(FidTask):
    name = "coco30k"
    version = "1"
    count_option = "images_per_caption"
    metric_names = ("fid", "kid", "n_generated", "n_reference", "clip_score")
    protocols = {"gigagan": "crop256", "drawn30k": "crop256"}
    data_help = (
        "coco30k reads <data-dir>/annotations/captions_val2014.json (or --task-option "
        "captions_file=...) and the real images in <data-dir>/val2014/ (or real_images_dir=...). "
        + DOWNLOAD
        + FID_HELP
    )

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        return {
            "protocol": "gigagan",
            "num_samples": 30000,
            "draw_seed": 0,
            "captions_file": "",
            "real_images_dir": "",
            **fid_options(cls.count_option),
        }

    @classmethod
    def demo_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """The FID stand-ins, and as many draws as the demo sample has captioned images."""
        return {**super().demo_options(given), "num_samples": DEMO_NUM_SAMPLES}

    def reference_description(self) -> str:
        if self.options["protocol"] == "gigagan":
            return "all images of COCO val2014 (GigaGAN/LlamaGen)"
        return (
            f"the {self.options['num_samples']} drawn val2014 images "
            f"(draw_seed={self.options['draw_seed']})"
        )

    def _paths(self) -> tuple[Path, Path]:
        root = self._data_dir
        captions = self.options["captions_file"]
        real = self.options["real_images_dir"]
        if root is None and not (captions and real):
            raise UserError(f"coco30k needs --data-dir. {self.data_help}")
        captions_path = Path(captions) if captions else root / "annotations/captions_val2014.json"
        real_path = Path(real) if real else root / "val2014"
        return captions_path.expanduser(), real_path.expanduser()

    def drawn(self) -> list[dict[str, Any]]:
        captions, _ = self._paths()
        return draw_captions(
            captions, int(self.options["num_samples"]), int(self.options["draw_seed"])
        )

    def samples(self, data_dir: Path | None, limit: int | None) -> Iterator[Sample]:
        self._data_dir = data_dir
        self.check_ready()
        drawn = self.drawn()
        _, real = self._paths()
        if not real.is_dir():
            raise UserError(f"coco30k: real images folder not found: {real}. {DOWNLOAD}")
        for item in drawn[:limit] if limit else drawn:
            yield Sample(
                id=str(item["image_id"]),
                data={
                    "prompt": item["caption"],
                    "image_id": item["image_id"],
                    "annotation_id": item["annotation_id"],
                    "file_name": item["file_name"],
                },
            )

    def reference(self):
        from janus_eval.metrics.fid import ImageSet

        _, real = self._paths()
        images = ImageSet.from_path(real, what="coco30k real images")
        if self.options["protocol"] == "gigagan":
            return images, "coco2014-val2014-all"
        names = [item["file_name"] for item in self.drawn()]
        subset = images.select(names, what="coco30k drawn real images")
        tag = f"coco2014-val2014-drawn-seed{self.options['draw_seed']}-n{len(names)}"
        return subset, tag
