"""How long `janus-eval report` takes, and how large the page gets, at leaderboard scale.

    python scripts/bench_report.py [--checkpoints 10] [--samples 300] [--keep DIR]

Builds 10 checkpoints x 10 tasks = 100 runs of 300 samples (30,000 samples) in the runner's
on-disk format, with every score field the report reads: POPE (splits), MMBench (categories),
SEED (dimensions), VQAv2 (answer and question types), GQA, MMMU, MM-Vet, GenEval (4 images a
prompt, tags, verdicts, reasons), MSCOCO-30K and MJHQ-30K (one image a prompt, categories).
Images are 512-px JPEGs, symlinked from a pool of 64 distinct files so that setup is quick
while every thumbnail the report makes still decodes a real image. Then writes the report
(every other checkpoint compared with the first, 1000 bootstrap resamples, galleries on) and
prints the time and the size. The issue's target: under 30 s and under 20 MB on a developer's
machine. Not a test: timings belong in benchmarks.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

from janus_eval.report.html import write_html_report
from janus_eval.types import RunRecord

UNDERSTANDING = {
    # task: (primary metric, per-sample score fields, breakdown name, categories)
    "pope": ("f1", ("correct", "pred_yes"), None, ("random", "popular", "adversarial")),
    "mmbench": ("accuracy", ("correct",), "per_category", tuple(f"cat{i}" for i in range(20))),
    "seedbench": ("accuracy", ("hit",), "per_dimension", tuple(f"dim{i}" for i in range(9))),
    "vqav2": ("accuracy", ("accuracy",), "per_answer_type", ("yes/no", "number", "other")),
    "gqa": ("accuracy", ("correct",), None, ()),
    "mmmu": ("accuracy", ("correct",), "per_subject", tuple(f"subject{i}" for i in range(30))),
    "mmvet": ("total", ("score",), "per_capability", ("rec", "ocr", "know", "gen", "spat")),
}
GENERATION = {
    "geneval": ("overall", ("counting", "colors", "position", "single_object", "two_object",
                            "color_attr")),
    "coco30k": ("fid", ()),
    "mjhq30k": ("fid", ("animals", "art", "fashion", "food", "indoor", "landscape", "logo",
                        "people", "plants", "vehicles")),
}  # fmt: skip


def image_pool(folder: Path, n: int = 64) -> list[Path]:
    folder.mkdir(parents=True)
    rng = random.Random(0)
    pool = []
    for i in range(n):
        image = Image.radial_gradient("L").resize((512, 512)).convert("RGB")
        image = Image.merge("RGB", [c.point(lambda v, s=rng.random(): int(v * s))
                                    for c in image.split()])  # fmt: skip
        path = folder / f"{i:03d}.jpg"
        image.save(path, quality=90)
        pool.append(path)
    return pool


def write_run(root: Path, task: str, kind: str, ckpt: int, primary: str, metrics: dict,
              samples: list[dict], options: dict | None = None) -> Path:  # fmt: skip
    run_id = f"{task}-ckpt{ckpt:02d}"
    record = RunRecord(
        run_id=run_id, task=task, task_version="1", task_kind=kind,
        model={"name": "janus-pro", "checkpoint": f"/ckpt/step-{ckpt * 1000}",
               "weights_sha256": f"{ckpt:064x}", "dtype": "bf16", "device": "cuda"},
        metrics=metrics, primary_metric=primary,
        config={"task": {"name": task, "version": "1", "options": options or {}}, "seed": 0,
                "limit": None, "batch_size": 16},
        n_samples=len(samples), n_computed=len(samples), n_reused=0,
        versions={"janus-eval": "0.1.0", "torch": "2.14.1", "transformers": "5.0"},
        timings={"total_s": 1234.5, "model_s": 1100.0, "score_s": 34.5},
        started_at="2026-01-01T00:00:00+00:00", finished_at="2026-01-01T01:00:00+00:00",
        extra={"complete": True, "leaderboard_keys": sorted(options or {})},
    )  # fmt: skip
    run = root / run_id
    run.mkdir(parents=True, exist_ok=True)  # generation runs hold their images already
    (run / "run.json").write_text(json.dumps(record.to_dict(), indent=2))
    with open(run / "samples.jsonl", "w") as fh:
        for index, sample in enumerate(samples):
            fh.write(json.dumps({"key": f"{run_id}-{index}", "index": index, **sample}) + "\n")
    return run


def build(root: Path, pool: list[Path], checkpoints: int, n: int) -> int:
    rng = random.Random(1)
    runs = 0
    for ckpt in range(checkpoints):
        skill = 0.5 + 0.03 * ckpt
        for task, (primary, fields, breakdown, cats) in UNDERSTANDING.items():
            samples = []
            for i in range(n):
                ok = rng.random() < skill
                scores = {f: float(ok) if f != "pred_yes" else rng.random() < 0.5 for f in fields}
                samples.append({"id": f"{task}-{i:05d}", "category": cats[i % len(cats)] if cats
                                else None, "request": {"prompt": f"Question {i} about image?"},
                                "response": "yes" if ok else "no", "scores": scores})  # fmt: skip
            # the recorded means match the samples, as a real run's do (compare checks)
            mean = {f: 100 * sum(float(x["scores"][f]) for x in samples) / n for f in fields}
            metrics = {"accuracy": mean[fields[0]], primary: mean[fields[0]]}
            if "pred_yes" in fields:
                metrics["yes_ratio"] = mean["pred_yes"]
            if task == "pope":
                metrics |= {c: {"accuracy": 100 * skill, "f1": 100 * skill - j} for j, c in
                            enumerate(cats)}  # fmt: skip
            elif breakdown:
                metrics[breakdown] = {c: 100 * rng.random() for c in cats}
            if task == "vqav2":
                metrics["per_question_type"] = {
                    f"what is {q}": 100 * rng.random() for q in range(65)
                }
            write_run(root, task, "understanding", ckpt, primary, metrics, samples,
                      {"scorer": "vqa-a013f00"} if task == "vqav2" else None)  # fmt: skip
            runs += 1
        for task, (primary, cats) in GENERATION.items():
            per_prompt = 4 if task == "geneval" else 1
            run = root / f"{task}-ckpt{ckpt:02d}"
            samples = []
            for i in range(n):
                images = [f"images/{i:05d}/{k}.jpg" for k in range(per_prompt)]
                for rel in images:
                    (run / rel).parent.mkdir(parents=True, exist_ok=True)
                    (run / rel).symlink_to(pool[rng.randrange(len(pool))])
                ok = [rng.random() < skill for _ in images]
                scores = ({"correct": ok, "tag": cats[i % len(cats)], "accuracy": sum(ok) / 4,
                           "any_correct": float(any(ok)),
                           "reasons": ["" if o else "expected 2 dogs, found 1" for o in ok]}
                          if task == "geneval" else {})  # fmt: skip
                samples.append({"id": f"{task}-{i:05d}", "request": {"prompt": f"a photo of {i}"},
                                "images": images, "scores": scores})  # fmt: skip
            metrics = {primary: skill if task == "geneval" else 30 - 10 * skill}
            if cats:
                name = "per_tag" if task == "geneval" else "fid_per_category"
                metrics[name] = {c: rng.random() for c in cats}
            write_run(root, task, "generation", ckpt, primary, metrics, samples,
                      {"detector": "mask2former"} if task == "geneval" else None)  # fmt: skip
            runs += 1
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--samples", type=int, default=300, help="per run")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        start = time.perf_counter()
        runs = build(root / "runs", image_pool(root / "pool"), args.checkpoints, args.samples)
        built = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        out = write_html_report([root / "runs"], root / "report.html")
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        size = out.stat().st_size
        print(f"{runs} runs, {runs * args.samples} samples (built in {built:.1f} s)")
        # CPU time too: on a shared machine the wall time mostly measures the other jobs
        print(f"report: {took:.1f} s wall, {cpu:.1f} s CPU, {size / 1e6:.1f} MB ({out})")
    finally:
        if not args.keep:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
