"""GenEval's scoring rules, exactly as the official scorer applies them, with no model attached.

Reference: djghosh13/geneval, `evaluation/evaluate_images.py` (the per-image rules and their
constants) and `evaluation/summary_scores.py` (the summary). A detector and a colour classifier
are plugged in from outside (the GenEval task's, tasks/geneval/detection/), so the rules can be
tested and reused alone.

The pipeline for one image, in the official order:

1. Selection (`select_detections`, the loop in the official `evaluate_image`): per class, sort by
   score (descending, `np.argsort(scores)[::-1]`), keep scores strictly above 0.3 (0.9 when the
   prompt's tag is "counting"; this threshold applies to every class of that image, excludes
   included), cut to the first 16, then NMS with threshold 1.0, which the official code
   short-circuits (`NMS_THRESHOLD == 1 or ...`), i.e. no suppression at all.
2. Rules (`judge`, the official `evaluate`): includes are ANDed, excludes ORed.

Quirks reproduced on purpose (all listed in docs/GENEVAL.md):

* Scores and boxes are compared in float32, as mmdet's float32 arrays are: a score equal to
  float32(0.3) is *not* above 0.3, and 0.30000001 (which rounds to float32(0.3)) is not either.
* The 16-object cut happens *before* NMS, and exclude counts what survives the cut, so an exclude
  with count > 16 can never fire.
* Every include takes the *first* `count` kept detections of its class (the most confident
  ones); colour and position are judged on those alone. Two includes of the same class therefore
  look at the same objects.
* Colour: at least `count` of those first `count` objects must be classified as the colour, i.e.
  all of them. The colour check runs only when enough objects were found; the position check runs
  only when the colour check (if any) passed.
* Position: every (object, target) pair between this include's objects and the target include's
  objects must show the relation; the target is named by its index in `include` and must itself
  have matched, else "no target". Relations come from box centres with a margin of 0.1 x the sum
  of both boxes' sizes per axis, and the direction is normalised by the length of the *original*
  centre offset (not the revised one), so a diagonal placement can satisfy neither axis.
  Image y grows downwards: "above" means a smaller y.
* Exclude: fails when the number of kept detections of the class *reaches* the exclude count
  (`>=`). Counting prompts say "exactly n" as include n plus exclude n+1.
* Summary: per-tag accuracy is over images (not prompts); the overall score is the unweighted
  mean over the tags present; "correct prompts" groups images by the JSON text of their metadata,
  so identical metadata lines would count as one prompt.

One deliberate difference, in messages only: the official position reason joins a Python set,
whose order changes between processes; here relations are listed in a fixed order
(left of, right of, above, below). Verdicts are unaffected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Constants of the official scorer (evaluate_images.py `__main__` defaults).
THRESHOLD = 0.3
COUNTING_THRESHOLD = 0.9
MAX_OBJECTS = 16
NMS_THRESHOLD = 1.0
POSITION_THRESHOLD = 0.1

#: The colour classifier's classes and prompt templates, in the official order ({c} is a colour).
COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
COLOR_TEMPLATES = (
    "a photo of a {{c}} {classname}",
    "a photo of a {{c}}-colored {classname}",
    "a photo of a {{c}} object",
)
#: Background pasted outside an object's mask before its box is cropped for colour.
COLOR_BACKGROUND = "#999"

#: The six tags of the official prompts, in the order of evaluation_metadata.jsonl.
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
RELATIONS = ("left of", "right of", "above", "below")


@dataclass(frozen=True, eq=False)
class Detection:
    """One detected object: `box` is (x1, y1, x2, y2) in pixels, `mask` an optional boolean
    array of the image's (height, width). Compared by identity, since masks are arrays."""

    box: tuple[float, float, float, float]
    score: float
    mask: Any = None


#: classify_color(image, detection, class_name) -> one of COLORS.
ColorClassifier = Callable[[Any, Detection, str], str]


@dataclass
class ImageVerdict:
    correct: bool
    reason: str
    #: What the rules saw: the kept detections per class, most confident first.
    kept: dict[str, list[Detection]] = field(default_factory=dict)


def color_templates(class_name: str) -> list[str]:
    """The three templates for one class, still holding `{c}` for the colour."""
    return [t.format(classname=class_name) for t in COLOR_TEMPLATES]


def compute_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """The official IoU: inclusive pixel areas (+1), 0 when the union is empty. Only reached
    with an NMS threshold below 1."""

    def area(box: Sequence[float]) -> float:
        return max(box[2] - box[0] + 1, 0) * max(box[3] - box[1] + 1, 0)

    inter = area(
        [
            max(box_a[0], box_b[0]),
            max(box_a[1], box_b[1]),
            min(box_a[2], box_b[2]),
            min(box_a[3], box_b[3]),
        ]
    )
    union = area(box_a) + area(box_b) - inter
    return inter / union if union else 0


def select_detections(
    detections: Mapping[str, Sequence[Detection]],
    tag: str,
    *,
    threshold: float = THRESHOLD,
    counting_threshold: float = COUNTING_THRESHOLD,
    max_objects: int = MAX_OBJECTS,
    nms_threshold: float = NMS_THRESHOLD,
) -> dict[str, list[Detection]]:
    """Per class: sort by score, threshold, cut to `max_objects`, NMS (official order).

    Classes with nothing left are dropped, as in the official `del detected[classname]`.
    """
    confidence = np.float32(threshold if tag != "counting" else counting_threshold)
    kept: dict[str, list[Detection]] = {}
    for name, dets in detections.items():
        dets = list(dets)
        if not dets:
            continue
        scores = np.array([d.score for d in dets], dtype=np.float32)
        order = np.argsort(scores)[::-1]
        order = order[scores[order] > confidence]
        remaining = order[:max_objects].tolist()
        chosen = []
        while remaining:
            best = remaining.pop(0)
            chosen.append(dets[best])
            remaining = [
                i
                for i in remaining
                if nms_threshold == 1 or compute_iou(dets[best].box, dets[i].box) < nms_threshold
            ]
        if chosen:
            kept[name] = chosen
    return kept


def relative_position(
    obj: Detection, target: Detection, threshold: float = POSITION_THRESHOLD
) -> tuple[str, ...]:
    """Where `obj` lies relative to `target` (official `relative_position`, in float32).

    The centre offset is shrunk towards 0 per axis by threshold x (sum of both sizes on that
    axis), then divided by the length of the unshrunk offset; a component beyond +-0.5 names a
    relation. Nothing is returned when both shrunk components are below 1e-3.
    """
    boxes = np.array([obj.box[:4], target.box[:4]], dtype=np.float32).reshape(2, 2, 2)
    center_a, center_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = center_a - center_b
    revised = np.maximum(np.abs(offset) - np.float32(threshold) * (dim_a + dim_b), 0)
    revised = revised * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return ()
    dx, dy = revised / np.linalg.norm(offset)
    found = {"left of": dx < -0.5, "right of": dx > 0.5, "above": dy < -0.5, "below": dy > 0.5}
    return tuple(r for r in RELATIONS if found[r])


def judge(
    metadata: Mapping[str, Any],
    objects: Mapping[str, Sequence[Detection]],
    classify_color: ColorClassifier,
    image: Any = None,
    position_threshold: float = POSITION_THRESHOLD,
) -> tuple[bool, str]:
    """The official `evaluate(image, objects, metadata)` on already selected detections."""
    correct = True
    reasons: list[str] = []
    matched_groups: list[Sequence[Detection] | None] = []
    for req in metadata.get("include", []):
        name, count = req["class"], req["count"]
        matched = True
        found = list(objects.get(name, []))[:count]
        if len(found) < count:
            correct = matched = False
            reasons.append(f"expected {name}>={count}, found {len(found)}")
        else:
            if "color" in req:
                colors = [classify_color(image, obj, name) for obj in found]
                want = req["color"]
                if colors.count(want) < count:
                    correct = matched = False
                    reasons.append(
                        f"expected {want} {name}>={count}, found {colors.count(want)} {want}; "
                        "and " + ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors)
                    )
            if "position" in req and matched:
                expected, target_group = req["position"]
                if target_group >= len(matched_groups):
                    raise ValueError(
                        f"position target {target_group} of {name!r} must name an earlier include "
                        f"(prompt {metadata.get('prompt')!r})"
                    )
                targets = matched_groups[target_group]
                if targets is None:
                    correct = matched = False
                    reasons.append(f"no target for {name} to be {expected}")
                else:
                    for obj in found:
                        for target in targets:
                            rels = relative_position(obj, target, position_threshold)
                            if expected not in rels:
                                correct = matched = False
                                reasons.append(
                                    f"expected {name} {expected} target, found "
                                    f"{' and '.join(rels)} target"
                                )
                                break
                        if not matched:
                            break
        matched_groups.append(found if matched else None)
    for req in metadata.get("exclude", []):
        name, count = req["class"], req["count"]
        if len(objects.get(name, [])) >= count:
            correct = False
            reasons.append(f"expected {name}<{count}, found {len(objects[name])}")
    return correct, "\n".join(reasons)


def judge_image(
    metadata: Mapping[str, Any],
    detections: Mapping[str, Sequence[Detection]],
    classify_color: ColorClassifier,
    image_size: tuple[int, int] | None = None,
    *,
    image: Any = None,
) -> ImageVerdict:
    """Selection, then the rules; also returns the kept detections (for reports)."""
    kept = select_detections(detections, metadata["tag"])
    if image_size is not None:
        width, height = image_size
        for name, dets in kept.items():
            for det in dets:
                if det.mask is not None and tuple(np.shape(det.mask)) != (height, width):
                    raise ValueError(
                        f"mask of a {name!r} detection has shape "
                        f"{tuple(np.shape(det.mask))}, the image is {height}x{width}"
                    )
    correct, reason = judge(metadata, kept, classify_color, image)
    return ImageVerdict(correct, reason, kept)


def evaluate_image(
    metadata: dict,
    detections: Mapping[str, Sequence[Detection]],
    classify_color: Callable,
    image_size: tuple[int, int] | None,
    *,
    image: Any = None,
) -> tuple[bool, str]:
    """Is this image correct for its prompt, and if not, why (official messages, one a line).

    `detections` are the detector's raw detections per class name (any order, any score);
    selection by score happens here, as in the official `evaluate_image`. `image_size` is
    (width, height): masks must match it (the official code asserts the same). The image reaches
    `classify_color(image, detection, class_name)` as its first argument through the keyword
    `image` (a PIL image for the CLIP classifier); it is None when not given, which suits a
    classifier that already knows its image (a closure) or ignores it (tests).
    """
    verdict = judge_image(metadata, detections, classify_color, image_size, image=image)
    return verdict.correct, verdict.reason


def judge_images(
    metadatas: Sequence[Mapping[str, Any]],
    detections: Sequence[Mapping[str, Sequence[Detection]]],
    images: Sequence[Any],
    classify_colors: Callable[[list[tuple[Any, Detection, str]]], list[str]],
) -> list[ImageVerdict]:
    """`judge_image` for many images with ONE batched colour call.

    Which objects get a colour question depends only on the detections (an include with a
    colour asks about its first `count` objects whenever that many were found, whatever earlier
    clauses decided), so a first pass with a recorder collects every question, the classifier
    answers them together, and a second pass judges with the answers.
    """
    questions: list[tuple[Any, Detection, str]] = []

    def record(image: Any, detection: Detection, name: str) -> str:
        questions.append((image, detection, name))
        return ""

    for meta, dets, image in zip(metadatas, detections, images):
        judge_image(meta, dets, record, image.size, image=image)
    colors = classify_colors(questions) if questions else []
    answer = {(id(det), name): color for (_, det, name), color in zip(questions, colors)}
    return [
        judge_image(
            meta, dets, lambda _im, det, name: answer[(id(det), name)], image.size, image=image
        )
        for meta, dets, image in zip(metadatas, detections, images)
    ]


def metadata_key(metadata: Any) -> str:
    """How summary_scores.py tells prompts apart: the JSON text of the metadata."""
    return metadata if isinstance(metadata, str) else json.dumps(metadata)


def summarize(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The official summary (summary_scores.py) from per-image results.

    Each result needs `tag`, `correct` and `metadata` (the prompt's dict, or its JSON text as in
    the official results.jsonl, which can therefore be summarised directly). Fractions in [0, 1]:
    `overall` (unweighted mean of the per-tag accuracies, GenEval's headline number),
    `per_tag`, `correct_images`, `correct_prompts` (prompts with at least one correct image).
    """
    per_tag: dict[str, list[bool]] = {}
    per_prompt: dict[str, bool] = {}
    n_images = 0
    for r in results:
        ok = bool(r["correct"])
        per_tag.setdefault(r["tag"], []).append(ok)
        key = metadata_key(r["metadata"])
        per_prompt[key] = per_prompt.get(key, False) or ok
        n_images += 1
    if not n_images:
        raise ValueError("summarize: no results")
    tag_scores = {tag: float(np.mean(flags)) for tag, flags in per_tag.items()}
    return {
        "overall": float(np.mean(list(tag_scores.values()))),
        "per_tag": tag_scores,
        "correct_images": sum(sum(f) for f in per_tag.values()) / n_images,
        "correct_prompts": sum(per_prompt.values()) / len(per_prompt),
        "n_images": n_images,
        "n_prompts": len(per_prompt),
        "per_tag_images": {tag: len(flags) for tag, flags in per_tag.items()},
    }
