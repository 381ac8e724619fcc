"""`janus-eval bench fid`: the FID engine's speed against clean-fid. (The Janus benchmarks,
`bench generate` and `bench understand`, come from the Janus adapter through the registry.)"""

from __future__ import annotations

from typing import Annotated

import typer

from janus_eval.cliutil import print_json


def fid(
    folder: Annotated[str | None, typer.Option(help="Image folder (default: synthesised).")] = None,
    reference: Annotated[str | None, typer.Option(help="Reference folder.")] = None,
    n_images: Annotated[int, typer.Option()] = 2000,
    device: Annotated[str, typer.Option()] = "cuda",
    batch_size: Annotated[int, typer.Option()] = 64,
    num_workers: Annotated[int, typer.Option()] = 8,
    inception_path: Annotated[str | None, typer.Option()] = None,
    random_extractor: Annotated[
        bool, typer.Option(help="Random-weight extractor (testing).")
    ] = False,
) -> None:
    """Our streaming FID engine against clean-fid's compute_fid, same images and extractor."""
    from janus_eval.metrics.fid.bench import run as run_bench

    print_json(
        run_bench(
            folder=folder,
            reference=reference,
            n_images=n_images,
            device=device,
            batch_size=batch_size,
            num_workers=num_workers,
            inception_path=inception_path,
            random_extractor=random_extractor,
        )
    )
