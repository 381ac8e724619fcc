"""The detector's 80 class names in GenEval's spelling, without a download.

GenEval's `evaluation/object_names.txt` is COCO's 80 instance categories in category-id order
with three names spelled for prompts: "mouse", "remote" and "keyboard" become "computer mouse",
"tv remote" and "computer keyboard". Written out from COCO's list below, the names are byte for
byte the official file (its SHA-256 is checked), so GenEval needs no network for them.
"""

from __future__ import annotations

import hashlib

from janus_eval.types import UserError

#: COCO 2014/2017 instance categories, in category-id order (ids 1..90 with gaps).
COCO_CATEGORIES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
GENEVAL_SPELLINGS = {
    "mouse": "computer mouse",
    "remote": "tv remote",
    "keyboard": "computer keyboard",
}
#: SHA-256 of djghosh13/geneval evaluation/object_names.txt (commit af4902f2).
OBJECT_NAMES_SHA256 = "608f6a0e5c8ca1c7a92b818430141fe268c85b7930b50f4160f1d65893b5bacd"


def geneval_object_names() -> list[str]:
    """The names of the official file, in order, after checking that file's SHA-256."""
    names = [GENEVAL_SPELLINGS.get(name, name) for name in COCO_CATEGORIES]
    text = "".join(name + "\n" for name in names)
    if hashlib.sha256(text.encode()).hexdigest() != OBJECT_NAMES_SHA256:  # pragma: no cover
        raise UserError("janus-eval's GenEval object names differ from the official file (a bug)")
    return names
