"""The Janus papers' evaluation tables as suites (janus_eval.suites): `janus-understanding`,
`janus-generation` and `janus-paper` (both, understanding first), in the papers' column order.

The papers: Janus (arXiv 2410.13848; understanding in Table 2), Janus-Pro (arXiv 2501.17811)
and JanusFlow (arXiv 2411.07975) report the same understanding columns; Janus reports
GenEval, MSCOCO-30K FID and MJHQ-30K FID for generation. The papers give the benchmarks, not
every setting: where they are silent, the setting is what the code they name for their numbers
does (the Janus README points at VLMEvalKit, PR #541, for understanding), and the source below
says so. Every task's own defaults already follow its paper recipe (prompts, scorers: see
docs/UNDERSTANDING.md, docs/GENEVAL.md, docs/FID.md); a suite writes the settings down anyway,
so a change of a task default can never change what a suite measures unnoticed.
"""

from __future__ import annotations

from janus_eval.registry import register_suite
from janus_eval.suites import Suite, SuiteTask

JANUS = "Janus (arXiv 2410.13848)"
VLMEVALKIT = "VLMEvalKit vlmeval/vlm/janus.py (PR #541, the code the Janus README names)"

UNDERSTANDING = (
    SuiteTask("pope", {"split": "all"}, "POPE",
              f"{JANUS} Table 2: F1 over the three COCO splits (random, popular, adversarial) "
              f"pooled, as {VLMEVALKIT} scores POPE"),
    SuiteTask("mme", {"split": "test", "subtasks": "all"}, "MME-P",
              f"{JANUS} Table 2: MME perception (sum of the 10 perception subtasks' "
              "acc + acc+), the MME authors' calculation.py"),
    SuiteTask("mmbench", {"split": "dev", "lang": "en"}, "MMB",
              f"{JANUS} Table 2 (the split is not named in the paper): MMBench dev, English, the "
              f"split {VLMEVALKIT} scores locally (MMBench_DEV_EN); test needs the OpenCompass "
              "server"),
    SuiteTask("seedbench", {"split": "test"}, "SEED",
              f"{JANUS} Table 2: SEED-Bench image questions (9 dimensions), overall accuracy"),
    SuiteTask("vqav2", {"split": "testdev"}, "VQAv2",
              f"{JANUS} Table 2: VQAv2 test-dev; answers go to EvalAI as vqav2_testdev_"
              "submission.json (no local accuracy: test-dev answers are not public)"),
    SuiteTask("gqa", {"split": "testdev"}, "GQA",
              f"{JANUS} Table 2: GQA testdev-balanced, accuracy after the answer normalisation "
              f"of {VLMEVALKIT}'s GQA scorer"),
    SuiteTask("mmmu", {"split": "validation"}, "MMMU",
              f"{JANUS} Table 2: MMMU validation, the MMMU-Benchmark evaluation code's rules"),
    SuiteTask("mmvet", {"split": "test"}, "MM-Vet",
              f"{JANUS} Table 2: MM-Vet with the official GPT grader (mm-vet_evaluator.py); the "
              "judge endpoint is yours: -O mmvet.judge_url=URL -O mmvet.judge_model=NAME"),
)  # fmt: skip

GENERATION = (
    SuiteTask("geneval", {"images_per_prompt": 4}, "GenEval",
              f"{JANUS} GenEval table: the 553 GenEval prompts, 4 images each (the GenEval "
              "protocol, djghosh13/geneval generation/diffusers_generate.py --n_samples 4), "
              "the official detector"),
    SuiteTask("coco30k", {"protocol": "gigagan", "num_samples": 30000, "images_per_caption": 1},
              "COCO FID",
              f"{JANUS} FID table, MSCOCO-30K: 30,000 val2014 captions, one image each, FID "
              "against val2014 as GigaGAN's / LlamaGen's evaluation (the paper names no draw: "
              "ours is in tasks/coco30k.py)"),
    SuiteTask("mjhq30k", {"protocol": "clean", "images_per_prompt": 1}, "MJHQ FID",
              f"{JANUS} FID table, MJHQ-30K: all 30,000 prompts, one image each, clean-fid "
              "FID against all MJHQ images (playgroundai/MJHQ-30K)"),
)  # fmt: skip

register_suite(
    Suite(
        "janus-understanding",
        "The Janus papers' understanding table: POPE, MME-P, MMB, SEED, VQAv2, GQA, MMMU, MM-Vet",
        UNDERSTANDING,
    )
)
register_suite(
    Suite(
        "janus-generation",
        "The Janus paper's generation columns: GenEval, MSCOCO-30K FID, MJHQ-30K FID",
        GENERATION,
    )
)
register_suite(
    Suite(
        "janus-paper",
        "janus-understanding | janus-generation: the whole table, in the paper's column order",
        UNDERSTANDING + GENERATION,
    )
)
