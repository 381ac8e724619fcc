"""GenEval (djghosh13/geneval): 553 compositional prompts, images judged by a detector + CLIP.

Data: `prompts/evaluation_metadata.jsonl` (one JSON object a line: tag, include, optional
exclude, prompt) and `evaluation/object_names.txt` (the detector's 80 class names, by index:
COCO's order, GenEval's spellings such as "computer mouse"). Found through
`--task-option metadata=FILE / object_names=FILE`, in `--data-dir` (flat, or a geneval checkout
with prompts/ and evaluation/). Otherwise the object names are the official ones built in
(janus_eval.detection.object_names, no network) and the metadata is downloaded once from the
official repository when a network is there, checked against its SHA-256 and cached in
$JANUS_EVAL_CACHE/geneval/.

Generation writes GenEval's own layout under the run's images/ folder,
`<index:05d>/metadata.jsonl` (the prompt's JSON object, as `json.dump` writes it) and
`<index:05d>/samples/<k:05d>.png`, so the official `evaluate_images.py` reads it unchanged.

Scoring runs the detector (`janus_eval.detection`; GenEval's own, converted, by default) and
the CLIP colour classifier batched on the task's device, then the official rules. The run's
identity holds the detector (e.g. "mask2former-swin-s (official GenEval)") and the detector and
CLIP weight hashes; the leaderboard keeps detectors apart (`leaderboard_keys`). After a run,
`geneval_results.jsonl` (official format, one line per image) and `geneval_grid.html` (images
per tag with their verdicts) are written beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from janus_eval.cache import CACHE_HINT, cache_dir
from janus_eval.detection.object_names import geneval_object_names
from janus_eval.detection.official import DETECTOR_HELP
from janus_eval.images import load_image
from janus_eval.metrics import geneval as rules
from janus_eval.registry import register_task
from janus_eval.store import atomic_write_text
from janus_eval.types import ImageRequest, Sample, Task, UserError

REPO = "https://github.com/djghosh13/geneval"
RAW = "https://raw.githubusercontent.com/djghosh13/geneval/main"
METADATA = (
    "evaluation_metadata.jsonl",
    f"{RAW}/prompts/evaluation_metadata.jsonl",
    "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13",
)
OBJECT_NAMES = "object_names.txt"


def _cfg_weight(value: Any) -> float | str:
    """The cfg_weight option as a number, or "auto" (the model's own default guidance weight:
    5 for Janus, 2 for JanusFlow, as each upstream generates)."""
    if value is None or str(value).strip().lower() in ("", "auto"):
        return "auto"
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(
            f"GenEval: cfg_weight={value!r}: expected a number, or auto for the model's default"
        ) from None


#: Options that change how fast scoring runs or where files are read from, not the verdicts.
RUNTIME_OPTIONS = ("device", "detection_batch_size", "metadata", "object_names")
IDENTITY_ONLY = ("detector_weights", "clip_weights")  # added by config(), not options


def _offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in {"1", "true", "yes"}
        for v in ("HF_HUB_OFFLINE", "JANUS_EVAL_OFFLINE")
    )


def _cache_dir() -> Path:
    return cache_dir("geneval")


def download(url: str, dest: Path, sha256: str) -> Path:
    """Fetch an official file once into the cache; refuse content that differs from it."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (fixed https URL)
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UserError(
            f"{url} does not match the official GenEval file (SHA-256 differs); "
            f"download it from {REPO} yourself and pass its path"
        )
    atomic_write_text(dest, data.decode("utf-8"), hint=CACHE_HINT)
    return dest


def locate(
    spec: tuple[str, str, str], explicit: str, search: Iterable[Path], *, option: str
) -> Path:
    """An official file: the explicit option, else the first hit in `search`, else the cache,
    else a download; a UserError saying where to get it when all fail."""
    name, url, sha256 = spec
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"GenEval: --task-option {option}={explicit}: file not found")
        return path
    candidates = [*search, _cache_dir() / name]
    for path in candidates:
        if path.is_file():
            return path
    why = "offline (HF_HUB_OFFLINE / JANUS_EVAL_OFFLINE set)"
    if not _offline():
        try:
            return download(url, _cache_dir() / name, sha256)
        except UserError:
            raise
        except Exception as exc:
            why = f"download failed: {type(exc).__name__}"
    raise UserError(
        f"GenEval needs {name} ({why}); looked in: {', '.join(str(p) for p in candidates)}. "
        f"Get it from {REPO} ({url.removeprefix(RAW + '/')}) and pass --data-dir DIR (the "
        f"folder holding it) or --task-option {option}=FILE."
    )


def read_object_names(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or any(not n for n in names):
        raise UserError(f"{path}: expected one class name per line, no blank lines")
    return names


def _check_record(record: Any, where: str, class_names: set[str] | None) -> None:
    """Everything the rules rely on, checked up front so a bad line fails before generation."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for key, kind in (("tag", str), ("include", list), ("prompt", str)):
        if not isinstance(record.get(key), kind):
            raise UserError(
                f"{where}: missing or invalid {key!r} (expected a "
                f"{kind.__name__}); every line needs tag, include and prompt"
            )
    clauses = [("include", i, c) for i, c in enumerate(record["include"])]
    if not isinstance(record.get("exclude", []), list):
        raise UserError(f"{where}: 'exclude' must be a list")
    clauses += [("exclude", i, c) for i, c in enumerate(record.get("exclude", []))]
    for part, i, clause in clauses:
        what = f"{where}: {part}[{i}]"
        if not (
            isinstance(clause, dict)
            and isinstance(clause.get("class"), str)
            and isinstance(clause.get("count"), int)
            and clause["count"] >= 1
        ):
            raise UserError(f"{what} needs a 'class' name and an integer 'count' >= 1")
        if class_names is not None and clause["class"] not in class_names:
            raise UserError(
                f"{what}: class {clause['class']!r} is not one of the detector's "
                "classes (object_names.txt)"
            )
        if "color" in clause and clause["color"] not in rules.COLORS:
            raise UserError(
                f"{what}: colour {clause['color']!r} is not one of {', '.join(rules.COLORS)}"
            )
        if "position" in clause:
            pos = clause["position"]
            if not (
                isinstance(pos, list)
                and len(pos) == 2
                and pos[0] in rules.RELATIONS
                and isinstance(pos[1], int)
                and 0 <= pos[1] < i
            ):
                raise UserError(
                    f"{what}: position must be [relation, index of an earlier "
                    f"include], relation one of {', '.join(rules.RELATIONS)}"
                )


def read_metadata(path: Path, class_names: Sequence[str] | None = None) -> list[dict]:
    """The prompts, one JSON object a line (blank lines skipped); errors name file and line."""
    names = set(class_names) if class_names is not None else None
    records = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{where}: not valid JSON ({exc.msg})") from None
            _check_record(record, where, names)
            records.append(record)
    return records


@register_task
class GenEval(Task):
    name = "geneval"
    kind = "generation"
    version = "2"  # 2: detection exactly as mmdet 2.x; GenEval's own detector by default
    primary_metric = "overall"
    metric_names = (
        "overall",
        "per_tag",
        "correct_images",
        "correct_prompts",
        "n_images",
        "n_prompts",
        "per_tag_images",
    )
    sample_metrics = {"correct_images": ("accuracy", 1.0), "correct_prompts": ("any_correct", 1.0)}
    leaderboard_keys = ("detector", "detector_weights")
    data_help = (
        "GenEval reads evaluation_metadata.jsonl (553 prompts) from --data-dir or --task-option "
        f"metadata=FILE ({REPO}, prompts/); the detector's class names are built in (or "
        "object_names.txt beside the data, or --task-option object_names=FILE). "
        f"{DETECTOR_HELP} CLIP ViT-L-14 openai weights: clip_path."
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**{k: v for k, v in options.items() if k not in IDENTITY_ONLY})
        from janus_eval.detection import check_backend

        self.options["detector"] = check_backend(self.options["detector"])
        self.options["cfg_weight"] = _cfg_weight(self.options["cfg_weight"])
        self._identity: dict[str, Any] | None = None
        self._object_names: list[str] | None = None
        self._models: tuple[Any, Any] | None = None

    @classmethod
    def default_options(cls) -> dict[str, Any]:
        from janus_eval.detection.clip_color import DEFAULT_MODEL, DEFAULT_PRETRAINED

        return {
            "metadata": "",
            "object_names": "",
            "images_per_prompt": 4,
            "cfg_weight": "auto",
            "detector": "official",
            "detector_path": "",
            "mmdet_config": "",
            "clip_model": DEFAULT_MODEL,
            "clip_path": DEFAULT_PRETRAINED,
            "device": "auto",
            "detection_batch_size": 8,
        }

    @classmethod
    def demo_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """A tiny random Mask2Former (through the transformers backend) and a tiny random CLIP,
        cached on first use (janus_eval.demo_models), unless the user names a detector or CLIP;
        two images per prompt keep the demo short."""
        from janus_eval.demo_models import DEMO_CLIP_NAME, demo_clip, demo_detector

        options: dict[str, Any] = {"images_per_prompt": 2}
        if not {"detector", "detector_path", "mmdet_config"} & set(given):
            options.update(detector="mask2former-hf", detector_path=demo_detector())
        if not {"clip_model", "clip_path"} & set(given):
            options.update(clip_model=DEMO_CLIP_NAME, clip_path=demo_clip())
        return options

    # -- identity ------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Options that change verdicts, plus the detector's and CLIP's weight hashes (so the
        weights are located, and fetched if need be, before any image is generated)."""
        if self._identity is None:
            from janus_eval.detection import label, weights_file
            from janus_eval.detection.clip_color import resolve_clip
            from janus_eval.detection.weights import sha256_file

            o = self.options
            options = {k: v for k, v in o.items() if k not in RUNTIME_OPTIONS}
            options["detector"] = label(o["detector"])
            detector = weights_file(o["detector"], o["detector_path"])
            options["detector_weights"] = sha256_file(detector)[:16]
            clip = resolve_clip(o["clip_model"], o["clip_path"])
            options["clip_weights"] = sha256_file(clip.weights)[:16]
            self._identity = {"name": self.name, "version": self.version, "options": options}
        return self._identity

    # -- data ----------------------------------------------------------------------------------

    def object_names(self, data_dir: Path | None = None, metadata: Path | None = None) -> list[str]:
        """The detector's class names, by index (read once): the object_names option, else an
        object_names.txt beside the data, else the official names built in (no download)."""
        if self._object_names is None:
            explicit = self.options["object_names"]
            dirs = (
                []
                if data_dir is None or data_dir.is_file()
                else [data_dir, data_dir / "evaluation"]
            )
            if metadata is not None:
                dirs += [metadata.parent, metadata.parent.parent / "evaluation"]
            found = [d / OBJECT_NAMES for d in dirs if (d / OBJECT_NAMES).is_file()]
            if explicit and not Path(explicit).expanduser().is_file():
                raise UserError(f"GenEval: --task-option object_names={explicit}: file not found")
            path = Path(explicit).expanduser() if explicit else (found[0] if found else None)
            self._object_names = read_object_names(path) if path else geneval_object_names()
        return self._object_names

    def samples(self, data_dir: Path | None, limit: int | None) -> Iterable[Sample]:
        if data_dir is None:
            search = []
        elif data_dir.is_file():
            search = [data_dir]
        else:
            search = [data_dir / METADATA[0], data_dir / "prompts" / METADATA[0]]
        path = locate(METADATA, self.options["metadata"], search, option="metadata")
        records = read_metadata(path, self.object_names(data_dir, path))
        for index, record in enumerate(records[:limit] if limit else records):
            yield Sample(id=f"{index:05d}", data={"metadata": record}, category=record["tag"])

    def request(self, sample: Sample) -> ImageRequest:
        n = int(self.options["images_per_prompt"])
        if n < 1:
            raise UserError("GenEval: images_per_prompt must be at least 1")
        return ImageRequest(
            prompt=sample.data["metadata"]["prompt"],
            request_id=sample.id,
            n=n,
            cfg_weight=None if self.options["cfg_weight"] == "auto" else self.options["cfg_weight"],
        )

    def image_relpath(self, sample: Sample, index: int) -> str:
        return f"{sample.id}/samples/{index:05d}.png"

    def on_images_saved(self, sample: Sample, images_dir: Path) -> None:
        path = images_dir / sample.id / "metadata.jsonl"
        text = json.dumps(sample.data["metadata"])
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)

    # -- scoring -------------------------------------------------------------------------------

    def models(self) -> tuple[Any, Any]:
        """(detector, colour classifier), loaded once on the task's device."""
        if self._models is None:
            from janus_eval.detection import load_detector, resolve_device
            from janus_eval.detection.clip_color import load_clip_classifier, resolve_clip

            o = self.options
            device = resolve_device(o["device"])
            detector = load_detector(
                o["detector"],
                o["detector_path"],
                self.object_names(),
                device=device,
                batch_size=int(o["detection_batch_size"]),
                mmdet_config=o["mmdet_config"],
                min_score=min(rules.THRESHOLD, rules.COUNTING_THRESHOLD),
            )
            clip = load_clip_classifier(
                resolve_clip(o["clip_model"], o["clip_path"]), device=device
            )
            self._models = (detector, clip)
        return self._models

    def score_batch(self, samples: Sequence[Sample], responses: Sequence[Any]) -> list[dict]:
        detector, clip = self.models()
        images, metas = [], []
        for sample, response in zip(samples, responses):
            for k, image in enumerate(response):
                images.append(load_image(image, what=f"GenEval image {sample.id}/{k}"))
                metas.append(sample.data["metadata"])
        verdicts = iter(rules.judge_images(metas, detector.detect(images), images, clip.classify))
        scored = []
        for sample, response in zip(samples, responses):
            mine = [next(verdicts) for _ in response]
            meta = sample.data["metadata"]
            correct = [v.correct for v in mine]
            scored.append(
                {
                    "tag": meta["tag"],
                    "prompt": meta["prompt"],
                    "metadata": rules.metadata_key(meta),
                    "correct": correct,
                    "reasons": [v.reason for v in mine],
                    "accuracy": sum(correct) / len(correct) if correct else 0.0,
                    "any_correct": any(correct),
                    "details": [
                        {name: [[*d.box, d.score] for d in dets] for name, dets in v.kept.items()}
                        for v in mine
                    ],
                }
            )
        return scored

    def aggregate(self, scored: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return rules.summarize(_per_image(scored))

    def finalize(self, run_dir: Path, samples: Sequence[Sample], scored: Sequence[dict]) -> None:
        paths = [
            [f"images/{self.image_relpath(sample, k)}" for k in range(len(score["correct"]))]
            for sample, score in zip(samples, scored)
        ]
        write_outputs(run_dir, scored, paths, title=f"GenEval: {run_dir.name}")


def write_outputs(
    out_dir: Path, scored: Sequence[dict], paths: Sequence[Sequence[str]], *, title: str
) -> None:
    """geneval_results.jsonl (the official results format, one line per image) and
    geneval_grid.html (images per tag with verdicts); image paths are relative to out_dir."""
    from janus_eval.report.image_grid import GridCell, GridRow, write_image_grid

    lines, sections = [], {tag: [] for tag in rules.TAGS}
    for score, images in zip(scored, paths):
        cells = []
        for k, (rel, ok, reason) in enumerate(zip(images, score["correct"], score["reasons"])):
            official = {
                "filename": rel,
                "tag": score["tag"],
                "prompt": score["prompt"],
                "correct": ok,
                "reason": reason,
                "metadata": score["metadata"],
                "details": json.dumps(score["details"][k]),
            }
            lines.append(json.dumps(official) + "\n")
            cells.append(GridCell(rel, ok, reason))
        sections.setdefault(score["tag"], []).append(GridRow(score["prompt"], cells))
    atomic_write_text(out_dir / "geneval_results.jsonl", "".join(lines))
    write_image_grid(
        out_dir / "geneval_grid.html",
        {t: rows for t, rows in sections.items() if rows},
        title=title,
    )


def score_folder(
    folder: str | Path,
    *,
    output_dir: str | Path | None = None,
    progress: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Score images already in GenEval's layout (a run's images/, or the official generation
    script's output) without generating anything: e.g. to score one set of images with another
    detector. Reads `<NNNNN>/metadata.jsonl` and `<NNNNN>/samples/<k>.png` the way the official
    evaluate_images.py does (numeric folders only; file names matching `\\d+\\.png` at their
    start), writes geneval_results.jsonl and geneval_grid.html to `output_dir` (default: the
    folder) and returns the summary. `options` are the task's options."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"GenEval: {folder} is not a directory")
    task = GenEval(**options)
    names = set(task.object_names(folder))
    prompts: list[tuple[Sample, list[Path]]] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        meta_path = sub / "metadata.jsonl"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{meta_path}: cannot read the prompt's metadata ({exc})") from None
        _check_record(meta, str(meta_path), names)
        samples_dir = sub / "samples"
        images = sorted(
            p
            for p in (samples_dir.iterdir() if samples_dir.is_dir() else [])
            if p.is_file() and re.match(r"\d+\.png", p.name)
        )
        prompts.append((Sample(sub.name, {"metadata": meta}, meta["tag"]), images))
    if not prompts:
        raise UserError(f"GenEval: no prompt folders (00000/metadata.jsonl, ...) in {folder}")
    scored: list[dict] = []
    step = max(1, int(task.options["detection_batch_size"]))
    with _progress(progress, len(prompts), f"GenEval scoring {folder.name}") as advance:
        for start in range(0, len(prompts), step):
            chunk = prompts[start : start + step]
            images = [[load_image(p) for p in paths] for _, paths in chunk]
            scored += task.score_batch([s for s, _ in chunk], images)
            advance(len(chunk))
    out = Path(output_dir).expanduser() if output_dir else folder
    paths = [[os.path.relpath(p, out) for p in paths] for _, paths in prompts]
    write_outputs(out, scored, paths, title=f"GenEval: {folder}")
    return task.aggregate(scored)


@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str):
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress() as bar:
        task_id = bar.add_task(description, total=total)
        yield lambda n: bar.update(task_id, advance=n)


def _per_image(scored: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-sample scores -> the official per-image records (tag, correct, metadata)."""
    return [
        {"tag": s["tag"], "correct": ok, "metadata": s["metadata"]}
        for s in scored
        for ok in s["correct"]
    ]
