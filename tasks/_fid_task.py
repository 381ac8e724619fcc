"""What the FID tasks (coco30k, mjhq30k) share: options, per-sample features, aggregation.

Generated images reach the engine in memory (`score_batch` gets the PIL images the adapter
returned); their features are stored per sample ({"features": float32 (n_images, dim)}), so an
interrupted run resumes without recomputing them. `aggregate` compares all stored features with
the reference statistics, computed once and cached (janus_eval.metrics.fid.reference_stats).
The CLIP score of the same in-memory images is stored beside the features (tasks/_clip_score.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from janus_eval.tasks._clip_score import CLIP_RECORDED, CLIP_RUNTIME, ClipScoring, clip_options

from janus_eval.types import ImageRequest, Sample, Task, UserError

if TYPE_CHECKING:  # numpy loads when features are scored, not when the registry lists tasks
    import numpy as np

#: Options that change how fast features are computed, not their values: kept out of config()
#: (the run id), so a resumed run may use another batch size, device or cache folder. The CLIP
#: score options change no FID either: `identity()` drops the recorded ones from the run id
#: (tasks/_clip_score.py says how a run resumed with another CLIP setting is handled).
RUNTIME_OPTIONS = ("inception_path", "stats_cache", "feature_batch_size", "num_workers", "device",
                   "resize", "save_images", *CLIP_RUNTIME)  # fmt: skip


#: How every FID task's data_help ends: the Inception weights it needs and the CLIP score options.
FID_HELP = (
    " Needs clean-fid's Inception weights (inception-2015-12-05.pt; see docs/FID.md)."
    " CLIP score beside FID: clip_model=HUB_NAME_OR_DIR (default openai/clip-vit-large-"
    "patch14), clip_score=auto|on|off (auto: without the model the run goes on without it)."
)

#: The demos' feature extractor: random weights, no download (janus_eval.metrics.inception).
DEMO_EXTRACTOR = "random:0:16"


def fid_options(count_option: str) -> dict[str, Any]:
    return {
        count_option: 1,
        # Output side for the adapter; 0 = the model's native size (384 for Janus).
        "image_size": 0,
        # "inception" (clean-fid's TF-FID Inception), or "random:<seed>" (TESTING ONLY).
        "extractor": "inception",
        "inception_path": "",
        "stats_cache": "",
        "feature_batch_size": 64,
        # DataLoader workers for the reference images; -1 = min(8, CPU count).
        "num_workers": -1,
        # "" = cuda when available, else cpu.
        "device": "",
        # "auto" | "torch" | "pil": where the clean resize runs (same bits either way).
        "resize": "auto",
        # Write the generated PNGs under images/ (30,000 images at 384 px are ~9 GB); without
        # them the features alone are kept and a run resumes per sample.
        "save_images": True,
        **clip_options(),
    }


class FidTask(Task):
    """A generation task scored by FID/KID against a reference image set."""

    kind = "generation"
    primary_metric = "fid"
    metric_names: tuple[str, ...] = ("fid", "kid", "n_generated", "n_reference")
    #: protocol name -> engine preprocess ("clean" or "crop256").
    protocols: dict[str, str] = {}
    #: The option that says how many images to generate per prompt.
    count_option = "images_per_prompt"
    #: Per-sample field the CLIP score is also broken down by (MJHQ-30K: "category").
    clip_breakdown: str | None = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["protocol"] not in self.protocols:
            raise UserError(
                f"task {self.name!r}: unknown protocol {self.options['protocol']!r}; "
                f"choose one of {', '.join(self.protocols)}"
            )
        if int(self.options[self.count_option]) < 1:
            raise UserError(f"task {self.name!r}: {self.count_option} must be at least 1")
        self._extractor_model: Any = None
        self._data_dir: Path | None = None
        self._reference_stats: Any = None
        self.clip = ClipScoring(self.name, self.options, self.device)

    @classmethod
    def demo_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """The random-weight extractor (DEMO_EXTRACTOR), unless the user names one, with its
        reference statistics computed from the demo's reference images and cached apart from
        real statistics (under $JANUS_EVAL_CACHE/demo/); and, unless the user names a CLIP or
        turns the score off, a tiny random CLIP for the CLIP score."""
        from janus_eval.cache import cache_dir

        options: dict[str, Any] = {}
        if not {"extractor", "inception_path"} & set(given):
            options.update(extractor=DEMO_EXTRACTOR, stats_cache=cache_dir("demo", "fid-stats"))
        if not {"clip_model", "clip_score"} & set(given):
            from ._clip_score_demo import demo_clip_score_model

            options["clip_model"] = demo_clip_score_model()
        return options

    # -- identity ---------------------------------------------------------------------------

    @property
    def preprocess(self) -> str:
        return self.protocols[self.options["protocol"]]

    def config(self) -> dict[str, Any]:
        options = {k: v for k, v in self.options.items() if k not in RUNTIME_OPTIONS}
        return {
            "name": self.name,
            "version": self.version,
            "options": options,
            "protocol": {
                "name": self.options["protocol"],
                "preprocess": self.preprocess,
                "resize": "clean-fid clean: PIL bicubic per channel, float, 299x299",
                "statistics": "float64 mean, np.cov(rowvar=False); clean-fid frechet_distance",
                "kid": "clean-fid kernel_distance, 100 subsets of <=1000, RandomState(0)",
                "reference": self.reference_description(),
            },
        }

    def identity(self) -> dict[str, Any]:
        """config() without the CLIP score options: recorded, but not part of the run id."""
        identity = super().identity()
        kept = {k: v for k, v in identity["options"].items() if k not in CLIP_RECORDED}
        return {**identity, "options": kept}

    def reference_description(self) -> str:
        raise NotImplementedError

    def saves_images(self) -> bool:
        return bool(self.options["save_images"])

    # -- requests and scores ----------------------------------------------------------------

    def request(self, sample: Sample) -> ImageRequest:
        size = int(self.options["image_size"])
        return ImageRequest(
            prompt=sample.data["prompt"],
            request_id=sample.id,
            n=int(self.options[self.count_option]),
            size=size or None,
        )

    def device(self) -> str:
        from janus_eval.metrics.fid import resolve_device

        return resolve_device(self.options["device"] or None)

    def extractor(self) -> Any:
        if self._extractor_model is None:
            from janus_eval.metrics.inception import load_extractor

            self._extractor_model = load_extractor(
                self.options["extractor"],
                inception_path=self.options["inception_path"] or None,
                device=self.device(),
            )
        return self._extractor_model

    def check_ready(self) -> None:
        """Fail before generating anything when the weights are missing."""
        if self.options["extractor"] in ("", "inception"):
            from janus_eval.metrics.inception import find_weights

            find_weights(self.options["inception_path"] or None)
        self.clip.scorer()  # "on": fails here; "auto": says once that it goes on without

    def score(self, sample: Sample, response: Any) -> dict[str, Any]:
        return self.score_batch([sample], [response])[0]

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Any]) -> list[dict]:
        from janus_eval.metrics.fid import image_features

        model = self.extractor()
        flat = [image for images in responses for image in images]
        feats = image_features(
            flat,
            extractor=model,
            preprocess=self.preprocess,
            device=self.device(),
            batch_size=int(self.options["feature_batch_size"]),
            resize=self.options["resize"],
            what=f"{self.name}: generated image",
        )
        clip = self.clip.score([s.data["prompt"] for s in samples], responses)
        out, start = [], 0
        for sample, images, clip_part in zip(samples, responses, clip):
            part = feats[start : start + len(images)]
            start += len(images)
            out.append(
                {"features": part, "extractor": model.id, "category": sample.category, **clip_part}
            )
        return out

    # -- aggregation --------------------------------------------------------------------------

    def generated_features(self, scored: Sequence[dict]) -> np.ndarray:
        """All stored features, after checking they came from the extractor in use now."""
        model_id = self.extractor().id
        for i, s in enumerate(scored):
            if s.get("extractor") != model_id:
                raise UserError(
                    f"{self.name}: stored features of sample #{i} were computed with extractor "
                    f"{s.get('extractor')!r}, but this run uses {model_id!r} (weights changed?). "
                    "Re-run with --no-resume to recompute them."
                )
        import numpy as np

        parts = [np.asarray(s["features"], dtype=np.float32) for s in scored]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

    def reference(self):
        """(ImageSet, cache name) of the reference images."""
        raise NotImplementedError

    def reference_stats(self):
        """Computed (or loaded from the cache) once per task object."""
        from janus_eval.metrics.fid import reference_stats

        if self._reference_stats is not None:
            return self._reference_stats
        images, name = self.reference()
        workers = int(self.options["num_workers"])
        self._reference_stats = reference_stats(
            images,
            name=name,
            extractor=self.extractor(),
            preprocess=self.preprocess,
            cache_dir=self.options["stats_cache"] or None,
            device=self.device(),
            batch_size=int(self.options["feature_batch_size"]),
            num_workers=None if workers < 0 else workers,
            resize=self.options["resize"],
            progress=True,
        )
        return self._reference_stats

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
        from janus_eval.metrics.fid import feature_stats, frechet_distance, kernel_distance

        gen = self.generated_features(scored)
        ref = self.reference_stats()
        mu, sigma = feature_stats(gen, what=f"{self.name} generated images")
        return {
            "fid": frechet_distance(mu, sigma, ref.mu, ref.sigma),
            "kid": kernel_distance(ref.feats, gen),
            "n_generated": int(gen.shape[0]),
            "n_reference": int(ref.feats.shape[0]),
            **self.clip.aggregate(scored, by=self.clip_breakdown),
        }

    def data_root(self) -> Path:
        """The data dir given to samples(), else the task's default source (a merge of shards
        may aggregate without calling samples())."""
        if self._data_dir is None:
            self._data_dir = self.default_data_dir()
        return self._data_dir

    def default_data_dir(self) -> Path:
        raise UserError(f"{self.name} needs --data-dir. {self.data_help}")
