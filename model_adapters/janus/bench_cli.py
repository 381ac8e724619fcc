"""`janus-eval bench generate` and `bench understand`: the Janus model's speed against the
bandwidth floor and the transformers / upstream baselines, contributed to the CLI through the
registry (the core knows no model)."""

from __future__ import annotations

from typing import Annotated

import typer

from janus_eval.cliutil import print_json
from janus_eval.registry import register_command

# Options every model benchmark takes.
BenchSize = Annotated[str, typer.Option(help="janus-1.3b, janus-pro-7b or tiny.")]
RandomWeights = Annotated[
    bool,
    typer.Option("--random-weights/--no-random-weights", help="Random weights at real shapes."),
]
BenchDevice = Annotated[str, typer.Option(help="cuda, cuda:N or cpu.")]
BenchDtype = Annotated[str, typer.Option(help="bf16, fp32 or fp16.")]


@register_command("generate", group="bench")
def bench_generate(
    size: BenchSize = "janus-1.3b",
    images_per_prompt: Annotated[int, typer.Option()] = 16,
    prompts: Annotated[int, typer.Option()] = 1,
    random_weights: RandomWeights = True,
    baselines: Annotated[
        bool,
        typer.Option(help="Also time transformers' generate and an upstream-style eager loop."),
    ] = False,
    device: BenchDevice = "cuda",
    dtype: BenchDtype = "bf16",
    steps: Annotated[int | None, typer.Option(help="Fewer decode steps (smoke runs).")] = None,
    model_path: Annotated[
        str | None, typer.Option(help="A real checkpoint (with --no-random-weights).")
    ] = None,
    compile: Annotated[
        bool | None,
        typer.Option(
            "--compile/--no-compile", help="torch.compile the decode step (default: on for CUDA)."
        ),
    ] = None,
) -> None:
    """Image-generation throughput of the CFG sampler against the bandwidth floor."""
    from .bench.generate import run as run_bench

    print_json(
        run_bench(
            size=size,
            images_per_prompt=images_per_prompt,
            prompts=prompts,
            random_weights=random_weights,
            baselines=baselines,
            device=device,
            dtype=dtype,
            steps=steps,
            model_path=model_path,
            compile=compile,
        )
    )


@register_command("understand", group="bench")
def bench_understand(
    size: BenchSize = "janus-1.3b",
    questions: Annotated[int, typer.Option()] = 256,
    batch_size: Annotated[int, typer.Option()] = 64,
    random_weights: RandomWeights = True,
    baselines: Annotated[
        bool, typer.Option(help="Also time transformers one question at a time.")
    ] = False,
    device: BenchDevice = "cuda",
    dtype: BenchDtype = "bf16",
) -> None:
    """Understanding throughput (questions/s) of the batched path."""
    from .bench.understand import run as run_bench

    print_json(
        run_bench(
            size=size,
            questions=questions,
            batch_size=batch_size,
            random_weights=random_weights,
            baselines=baselines,
            device=device,
            dtype=dtype,
        )
    )
