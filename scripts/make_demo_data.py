"""Regenerate the built-in demo samples under janus_eval/demo_data/ (every task but POPE, whose
sample predates this script and is kept as it is).

Usage: `python scripts/make_demo_data.py [--out janus_eval/demo_data]`.

Every picture is drawn here (flat shapes on a flat background, a pure function of its index),
and every question is written about what was drawn, so the answers are right for the picture;
nothing is downloaded. Only the GenEval prompts are real: twelve lines copied verbatim from the
official prompts/evaluation_metadata.jsonl (djghosh13/geneval@af4902f), two per tag. Each task's
files are in its official format (see that task's README.md), small on purpose: the whole
demo_data/ folder stays well under 2 MB.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import random
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

from janus_eval.metrics.seedbench import QUESTION_TYPES

COLORS = {"red": (215, 40, 40), "green": (50, 160, 70), "blue": (40, 80, 210),
          "yellow": (235, 215, 50), "purple": (130, 50, 170), "orange": (240, 140, 30)}  # fmt: skip
BACKGROUNDS = [(235, 235, 225), (200, 220, 240), (225, 240, 210), (60, 60, 70)]
SHAPES = ("circle", "square", "triangle")
NUMBERS = ("zero", "one", "two", "three")
ROOT = Path(__file__).resolve().parents[1] / "janus_eval" / "demo_data"


# -- pictures -------------------------------------------------------------------------------------


def scene(index: int) -> list[tuple[str, str]]:
    """The (shape, colour) pairs drawn in picture `index`, left to right: one to three, distinct."""
    rng = random.Random(1000 + index)
    count = 1 + index % 3
    pairs = rng.sample([(s, c) for s in SHAPES for c in COLORS], count)
    return sorted(pairs, key=lambda p: (SHAPES.index(p[0]), p[1]))


def picture(index: int, size: int = 64) -> Image.Image:
    """Picture `index`: its scene's shapes side by side, left to right."""
    image = Image.new("RGB", (size, size), BACKGROUNDS[index % len(BACKGROUNDS)])
    draw = ImageDraw.Draw(image)
    items = scene(index)
    step = size / len(items)
    for k, (shape, colour) in enumerate(items):
        r = min(step, size) * 0.35
        cx, cy = step * (k + 0.5), size / 2
        box = (cx - r, cy - r, cx + r, cy + r)
        if shape == "circle":
            draw.ellipse(box, fill=COLORS[colour])
        elif shape == "square":
            draw.rectangle(box, fill=COLORS[colour])
        else:
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLORS[colour])
    return image


def describe(index: int) -> str:
    items = scene(index)
    return " and ".join(f"a {c} {s}" for s, c in items)


def save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        image.save(path, optimize=True)
    else:
        image.save(path, quality=85)


def encoded(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, quality=85)
    return buf.getvalue()


def write_json(path: Path, doc, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, **kwargs) + "\n", encoding="utf-8")


def color_question(index: int) -> tuple[str, str]:
    shape, colour = scene(index)[0]
    return f"What color is the {shape}?", colour


def count_question(index: int) -> tuple[str, str]:
    return "How many shapes are there?", str(len(scene(index)))


# -- understanding tasks --------------------------------------------------------------------------


def vqav2(out: Path) -> None:
    """val split: questions/ and annotations/ JSON, val2014/COCO_val2014_<id:012d>.jpg."""
    questions, annotations = [], []
    for i in range(6):
        image_id = 900001 + i
        save(picture(i), out / "val2014" / f"COCO_val2014_{image_id:012d}.jpg")
        shape = scene(i)[0][0]
        has = "yes" if any(s == "circle" for s, _ in scene(i)) else "no"
        asked = [
            (*color_question(i), "what color is the", "other"),
            (*count_question(i), "how many", "number"),
            ("Is there a circle?", has, "is there a", "yes/no"),
        ]
        for k, (question, answer, qtype, atype) in enumerate(asked[: 2 + i % 2]):
            qid = image_id * 10 + k
            questions.append({"image_id": image_id, "question": question, "question_id": qid})
            answers = [answer] * 9 + [shape if atype == "other" else answer]
            annotations.append({
                "question_type": qtype, "multiple_choice_answer": answer, "image_id": image_id,
                "answer_type": atype, "question_id": qid,
                "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": n + 1}
                            for n, a in enumerate(answers)],
            })  # fmt: skip
    write_json(out / "questions" / "v2_OpenEnded_mscoco_val2014_questions.json",
               {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {},
                "data_subtype": "val2014", "questions": questions})  # fmt: skip
    write_json(out / "annotations" / "v2_mscoco_val2014_annotations.json",
               {"info": {}, "license": {}, "data_subtype": "val2014", "data_type": "mscoco",
                "annotations": annotations})  # fmt: skip


def mmbench(out: Path) -> None:
    """MMBench_DEV_EN.tsv as VLMEvalKit ships it: every question with its CircularEval copies
    (index + k*1000000, options rotated, the image given once and referenced by row index)."""
    import pandas as pd

    rows = []
    for q in range(6):
        i = 10 + q
        if q % 2:
            question, right = count_question(i)
            options = [right, *[str(n) for n in range(1, 5) if str(n) != right]][:4]
            category, l2 = "object_localization", "finegrained_perception (instance-level)"
        else:
            question, right = color_question(i)
            options = [right, *[c for c in COLORS if c != right]][:4]
            category, l2 = "attribute_recognition", "finegrained_perception (instance-level)"
        options = random.Random(q).sample(options, len(options))
        image = base64.b64encode(encoded(picture(i))).decode()
        for k in range(len(options)):
            opts = options[k:] + options[:k]
            rows.append({
                "index": q + k * 1_000_000, "question": question,
                "hint": "The shapes are drawn on a plain background." if q == 0 else None,
                **dict(zip("ABCD", opts)), "answer": "ABCD"[opts.index(right)],
                "category": category, "image": image if k == 0 else str(q),
                "source": "janus-eval demo", "l2-category": l2, "comment": None, "split": "dev",
            })  # fmt: skip
    columns = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image",
               "source", "l2-category", "comment", "split"]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=columns).to_csv(out / "MMBench_DEV_EN.tsv", sep="\t", index=False)


MME_NESTED = ("artwork", "celebrity", "landmark", "posters", "scene")


def mme(out: Path) -> None:
    """MME_Benchmark_release_version/<subtask>/: one picture per subtask, two questions about it
    (the first answered Yes, the second No, as every MME image is asked)."""
    from janus_eval.metrics.mme import SUBTASKS

    root = out / "MME_Benchmark_release_version"
    for n, name in enumerate(SUBTASKS):
        i = 20 + n
        images = root / name / ("images" if name in MME_NESTED else "")
        texts = root / name / ("questions_answers_YN" if name in MME_NESTED else "")
        stem = f"demo_{n:02d}"
        save(picture(i), images / f"{stem}{'.png' if name == 'OCR' else '.jpg'}")
        shape, colour = scene(i)[0]
        wrong = next(c for c in COLORS if c != colour)
        texts.mkdir(parents=True, exist_ok=True)
        (texts / f"{stem}.txt").write_text(
            f"Is there a {colour} {shape} in this image? Please answer yes or no.\tYes\n"
            f"Is there a {wrong} {shape} in this image? Please answer yes or no.\tNo\n",
            encoding="utf-8",
        )


def seedbench(out: Path) -> None:
    """SEED-Bench.json (question_type map and questions) with SEED-Bench-image/<data_id>: one
    image question per image dimension 1-9."""
    questions = []
    for dim in range(1, 10):
        i = 40 + dim
        question, right = count_question(i) if dim == 5 else color_question(i)
        pool = [str(n) for n in range(1, 6)] if dim == 5 else list(COLORS)
        options = random.Random(dim).sample([right, *[p for p in pool if p != right][:3]], 4)
        data_id = f"demo_{dim}.jpg"
        save(picture(i), out / "SEED-Bench-image" / data_id)
        questions.append({
            "answer": "ABCD"[options.index(right)], **{f"choice_{c}": o for c, o in
                                                       zip("abcd", options)},
            "data_id": data_id, "data_type": "image", "question": question,
            "question_id": str(90000 + dim), "question_type_id": dim,
        })  # fmt: skip
    write_json(out / "SEED-Bench.json", {"question_type": QUESTION_TYPES, "questions": questions})


def gqa(out: Path) -> None:
    """testdev_balanced_questions.json (question id -> record) with images/<imageId>.jpg."""
    questions = {}
    for n in range(10):
        i = 60 + n
        image_id = f"n9{n:05d}"
        save(picture(i), out / "images" / f"{image_id}.jpg")
        shape, colour = scene(i)[0]
        if n % 2:
            q, a, types = f"Is the {shape} {colour}?", "yes", ("verify", "attr", "verifyAttr")
        else:
            q, a, types = f"What color is the {shape}?", colour, ("query", "attr", "queryAttr")
        qid = str(30000000 + n)
        questions[qid] = {
            "imageId": image_id, "question": q, "answer": a,
            "fullAnswer": f"The {shape} is {colour}." if n % 2 == 0 else f"Yes, the {shape} is {colour}.",
            "isBalanced": True,
            "types": dict(zip(("structural", "semantic", "detailed"), types)),
            "semantic": [{"operation": "select", "argument": shape, "dependencies": []}],
            "groups": {"global": None if n % 2 else "color", "local": f"demo-{shape}"},
            "entailed": [], "equivalent": [qid], "annotations": {},
        }  # fmt: skip
    write_json(out / "testdev_balanced_questions.json", questions)


def mmmu(out: Path) -> None:
    """A local copy of MMMU/MMMU: <Subject>/validation-00000-of-00001.parquet, written by the
    `datasets` library as the hub's files are (image_1..image_7 as {bytes, path})."""
    import datasets

    rows = []
    for n, subject in enumerate(("Art", "Math", "Physics")):
        for k in range(2):
            i = 80 + 2 * n + k
            sid = f"validation_{subject}_{k + 1}"
            row = {"id": sid, "explanation": "", "img_type": "['Diagrams']",
                   "topic_difficulty": "Easy", "subfield": "Shapes"}  # fmt: skip
            if k == 0:
                question, right = color_question(i)
                options = random.Random(i).sample(
                    [right, *[c for c in COLORS if c != right][:3]], 4
                )
                row.update(question=f"<image 1> {question}", options=str(options),
                           answer="ABCD"[options.index(right)], question_type="multiple-choice")  # fmt: skip
            else:
                question, right = count_question(i)
                row.update(question=f"{question} <image 1>", options="[]", answer=right,
                           question_type="open")  # fmt: skip
            for m in range(1, 8):
                row[f"image_{m}"] = (
                    {"bytes": encoded(picture(i), "PNG"), "path": None} if m == 1 else None
                )
            rows.append(row)
    features = datasets.Features({
        **{k: datasets.Value("string") for k in rows[0] if not k.startswith("image_")},
        **{f"image_{m}": datasets.Image() for m in range(1, 8)},
    })  # fmt: skip
    for subject in ("Art", "Math", "Physics"):
        mine = [r for r in rows if r["id"].split("_")[1] == subject]
        (out / subject).mkdir(parents=True, exist_ok=True)
        table = datasets.Dataset.from_list(mine, features=features)
        table.to_parquet(str(out / subject / "validation-00000-of-00001.parquet"))


def mmvet(out: Path) -> None:
    """mm-vet.json (id -> imagename, capability, question, answer) with images/; answers use
    MM-Vet's <AND> / <OR> syntax."""
    doc = {}
    for n in range(8):
        i = 100 + n
        name = f"v1_{n}.{'png' if n % 4 == 3 else 'jpg'}"
        save(picture(i), out / "images" / name)
        items = scene(i)
        count = len(items)
        q, a, cap = [
            (
                "Which colors do you see? List all of them.",
                "<AND>".join(c for _, c in items),
                ["rec"],
            ),
            ("How many shapes are there?", f"{count}<OR>{NUMBERS[count]}", ["rec", "math"]),
            ("Which shape is on the left?", items[0][0], ["rec", "spat"]),
        ][n % 3]
        doc[f"v1_{n}"] = {"imagename": name, "capability": cap, "question": q, "answer": a}
    write_json(out / "mm-vet.json", doc, indent=2)


# -- generation tasks -----------------------------------------------------------------------------

#: Two lines per tag, verbatim from GenEval's prompts/evaluation_metadata.jsonl (af4902f).
GENEVAL_LINES = [
    '{"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a photo of a bench"}',
    '{"tag": "single_object", "include": [{"class": "cow", "count": 1}], "prompt": "a photo of a cow"}',
    '{"tag": "two_object", "include": [{"class": "bench", "count": 1}, {"class": "sports ball", "count": 1}], "prompt": "a photo of a bench and a sports ball"}',
    '{"tag": "two_object", "include": [{"class": "toaster", "count": 1}, {"class": "oven", "count": 1}], "prompt": "a photo of a toaster and an oven"}',
    '{"tag": "counting", "include": [{"class": "clock", "count": 2}], "exclude": [{"class": "clock", "count": 3}], "prompt": "a photo of two clocks"}',
    '{"tag": "counting", "include": [{"class": "handbag", "count": 4}], "exclude": [{"class": "handbag", "count": 5}], "prompt": "a photo of four handbags"}',
    '{"tag": "colors", "include": [{"class": "fire hydrant", "count": 1, "color": "blue"}], "prompt": "a photo of a blue fire hydrant"}',
    '{"tag": "colors", "include": [{"class": "car", "count": 1, "color": "pink"}], "prompt": "a photo of a pink car"}',
    '{"tag": "position", "include": [{"class": "teddy bear", "count": 1}, {"class": "dog", "count": 1, "position": ["right of", 0]}], "prompt": "a photo of a dog right of a teddy bear"}',
    '{"tag": "position", "include": [{"class": "kite", "count": 1}, {"class": "wine glass", "count": 1, "position": ["above", 0]}], "prompt": "a photo of a wine glass above a kite"}',
    '{"tag": "color_attr", "include": [{"class": "wine glass", "count": 1, "color": "purple"}, {"class": "apple", "count": 1, "color": "black"}], "prompt": "a photo of a purple wine glass and a black apple"}',
    '{"tag": "color_attr", "include": [{"class": "bus", "count": 1, "color": "green"}, {"class": "microwave", "count": 1, "color": "purple"}], "prompt": "a photo of a green bus and a purple microwave"}',
]  # fmt: skip


def geneval(out: Path) -> None:
    """prompts/evaluation_metadata.jsonl (the detector's class names are built in)."""
    (out / "prompts").mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in GENEVAL_LINES)
    (out / "prompts" / "evaluation_metadata.jsonl").write_text(text, encoding="utf-8")


#: How many captions (and reference images) the coco30k demo has: its num_samples.
COCO_DEMO_IMAGES = 12


def coco30k(out: Path) -> None:
    """annotations/captions_val2014.json (COCO's captions format, two captions per image) with
    the reference images val2014/COCO_val2014_<id:012d>.jpg."""
    images, anns = [], []
    for n in range(COCO_DEMO_IMAGES):
        i = 120 + n
        image_id = 800001 + n
        name = f"COCO_val2014_{image_id:012d}.jpg"
        save(picture(i, 96), out / "val2014" / name)
        images.append({"id": image_id, "file_name": name, "width": 96, "height": 96,
                       "license": 0, "coco_url": "", "flickr_url": "",
                       "date_captured": "2026-01-01 00:00:00"})  # fmt: skip
        background = ("a white", "a pale blue", "a pale green", "a dark")[i % len(BACKGROUNDS)]
        for k, caption in enumerate((f"{describe(i)} on {background} background",
                                     f"A simple drawing of {describe(i)}.")):  # fmt: skip
            anns.append({"id": image_id * 10 + k, "image_id": image_id, "caption": caption})
    write_json(out / "annotations" / "captions_val2014.json",
               {"info": {"description": "janus-eval demo captions"}, "licenses": [],
                "images": images, "annotations": anns})  # fmt: skip


MJHQ_CATEGORIES = ("animals", "art", "fashion", "food", "indoor", "landscape", "logo", "people",
                   "plants", "vehicles")  # fmt: skip


def mjhq30k(out: Path) -> None:
    """meta_data.json (id -> category, prompt) with mjhq30k_imgs/<category>/<id>.jpg: two
    prompts and two reference images in each of the ten categories."""
    meta = {}
    for c, category in enumerate(MJHQ_CATEGORIES):
        for k in range(2):
            i = 140 + 2 * c + k
            prompt = f"{category}: {describe(i)}, flat colours, minimal"
            key = hashlib.sha1(prompt.encode()).hexdigest()
            meta[key] = {"category": category, "prompt": prompt}
            save(picture(i, 96), out / "mjhq30k_imgs" / category / f"{key}.jpg")
    write_json(out / "meta_data.json", dict(sorted(meta.items())), indent=1)


WRITERS = {"vqav2": vqav2, "mmbench": mmbench, "mme": mme, "seedbench": seedbench, "gqa": gqa,
           "mmmu": mmmu, "mmvet": mmvet, "geneval": geneval, "coco30k": coco30k,
           "mjhq30k": mjhq30k}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT)
    parser.add_argument("tasks", nargs="*", default=list(WRITERS), help="default: all")
    args = parser.parse_args()
    for name in args.tasks:
        target = args.out / name
        keep = target / "README.md"
        readme = keep.read_text(encoding="utf-8") if keep.is_file() else None
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        WRITERS[name](target)
        if readme is not None:
            keep.write_text(readme, encoding="utf-8")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
