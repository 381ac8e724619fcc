"""`janus-eval bench fid` on CPU with tiny synthesised folders: both engines run, agree, and
report rates (the numbers themselves are not asserted: a 2-core CI box says nothing of a GPU)."""

from __future__ import annotations

import pytest

from janus_eval.metrics.fid.bench import run, synthesize_folder
from janus_eval.types import UserError


def test_bench_smoke_synthesised_folders():
    out = run(None, None, n_images=6, device="cpu", batch_size=4, num_workers=0,
              random_extractor=True)  # fmt: skip
    assert out["n_images"] == 12 and out["extractor"] == "random:0:64"
    assert out["cleanfid_images_per_s"] > 0 and out["ours_images_per_s"] > 0
    assert out["speedup"] == pytest.approx(
        out["ours_images_per_s"] / out["cleanfid_images_per_s"], rel=1e-2
    )
    assert out["fid_abs_diff"] <= 1e-3 and out["fid_ours"] > 0


def test_bench_given_folders(tmp_path):
    a = synthesize_folder(tmp_path / "a", 4, seed=1, sizes=((50, 40),))
    b = synthesize_folder(tmp_path / "b", 5, seed=2, sizes=((40, 50),), ext="png")
    out = run(str(a), str(b), device="cpu", batch_size=3, num_workers=1, random_extractor=True)
    assert out["n_images"] == 9 and out["fid_abs_diff"] <= 1e-3


def test_bench_without_cuda_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the no-CUDA message cannot be checked")
    with pytest.raises(UserError, match="--device cpu"):
        run(None, None, n_images=2, device="cuda", random_extractor=True)


def test_bench_cli_prints_json(cli, tmp_path):
    import json

    proc = cli("bench", "fid", "--device", "cpu", "--random-extractor", "--n-images", "3",
               "--num-workers", "0", "--batch-size", "4", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_images"] == 6 and out["fid_abs_diff"] <= 1e-3
