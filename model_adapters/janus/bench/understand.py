"""`janus-eval bench understand`: batched greedy understanding against its floor and against
transformers one question at a time, same random weights, same process.

Workload (VQAv2-shaped, as ../shared/anchors/anchor_und.py): each question is one image
(384 x 384 at the real sizes: 576 image tokens) and 34 to 46 text tokens (so a batch holds
prompts of different lengths and is left-padded), answered greedily with up to 10 new tokens,
stopping at EOS. Weights are random at the real shapes, made directly on the target device (no
host copy): janus-1.3b (24 layers, width 2048, 16 heads, FFN 5632, vocab 102400, SigLIP-L/16 at
384) or janus-pro-7b (30 layers, 4096 wide, 32 heads, FFN 11008); `tiny` is janus-tiny's shape
for CPU smoke runs.

Timed: every batch once untimed first (CUDA graphs captured, allocator warm), then every batch
again: prefill (images, SigLIP, LLM prefill) up to a device sync, then the decode loop. The
decode loop's first "all done?" check syncs anyway, so the split costs nothing. Pixels start on
the host in float32 as the processor makes them, so the host-to-device copy is counted.

Also reported: the same questions one at a time through our decoder (agreement of the batched
answers with them: in fp32 they are equal; in bf16 a batch runs other matmul shapes than a
single row, so near-ties in the logits can flip a token, and random weights have many more
near-ties than trained ones), and with `baselines=True` transformers'
JanusForConditionalGeneration.generate one question at a time (as VLMEvalKit and lmms-eval run
Janus) on the same weights, its questions/s, our speed-up over it and the answer agreement.

The floor: prefill and the vision tower at `PEAK_FLOPS`, each decode step reading the weights
once and every row's filled KV cache at `BANDWIDTH` (H100 SXM numbers, measured elsewhere at
about these). On another card the floor is still quoted at these rates.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from janus_eval.types import UserError

from ..layouts import BOI, BOS, EOI, EOS, IMAGE, PAD
from . import common
from .common import hf_config, model_config, sig, sync

#: bf16 dense matmul rate and memory bandwidth of an H100 SXM (both measured at about these).
PEAK_FLOPS = 790e12
BANDWIDTH = 3.0e12
NEW_TOKENS = 10
TEXT_TOKENS = (34, 46)
#: transformers one at a time, H100, bf16 (issue 8; ../shared/anchors): for orientation only,
#: the ratio that counts is the one measured in the same run (baselines=True).
ISSUE_ANCHOR_QPS = {"janus-1.3b": 3.75, "janus-pro-7b": 2.58}


def janus_config(size: str):
    """The dims of a benchmark size: the same table `bench generate` uses."""
    try:
        return model_config(size)
    except UserError as exc:
        raise UserError(f"bench understand: {exc}") from None


def random_model(cfg, device: str, dtype: str, seed: int = 0):
    """A JanusModel with random weights made in place on `device`, fan-in scaled as janus-tiny's
    are, so activations stay O(1) through every layer and the logits have real gaps (N(0, 0.02)
    weights, as `bench generate` uses, leave nearly flat logits whose argmax is a near-tie, which
    would make the agreement numbers meaningless)."""

    def fill(name, p, g) -> None:
        p.normal_(generator=g)
        if p.dim() == 1 and "norm" in name and name.endswith("weight"):
            p.mul_(0.1).add_(1.0)
        elif p.dim() == 1:
            p.mul_(0.02)
        elif "embed" in name and "patch" not in name:
            p.mul_(0.02 if name.endswith("pos_embed") else 1.0)
        else:
            p.div_(float(np.prod(p.shape[1:])) ** 0.5)

    return common.random_model(cfg, device, dtype, fill, seed=seed, in_name_order=True)


def make_questions(cfg, n: int, seed: int = 0) -> list[tuple[list[int], Any]]:
    """`n` (prompt ids, pixels [3, S, S] float32) pairs: BOS, a few words, the image block,
    the rest of the question; text lengths drawn from TEXT_TOKENS."""
    import torch

    rng = np.random.default_rng(seed)
    side, n_img = cfg.vision.image_size, cfg.vision.num_tokens
    out = []
    for _ in range(n):
        text = rng.integers(200, 90000, int(rng.integers(TEXT_TOKENS[0], TEXT_TOKENS[1] + 1)) - 3)
        ids = [BOS, *text[:3].tolist(), BOI, *[IMAGE] * n_img, EOI, *text[3:].tolist()]
        pixels = torch.from_numpy(rng.uniform(-1, 1, (3, side, side)).astype(np.float32))
        out.append((ids, pixels))
    return out


def make_batch(items: list[tuple[list[int], Any]]):
    import torch

    from ..processor import UnderstandBatch, left_pad

    ids, valid = left_pad([i for i, _ in items], PAD)
    return UnderstandBatch(ids, valid, torch.stack([p for _, p in items]), (ids == IMAGE) & valid)


def floor(cfg, prompt_len: float, rows: int, new_tokens: int = NEW_TOKENS, elem: int = 2):
    """Seconds per question at PEAK_FLOPS / BANDWIDTH: prefill and vision-tower FLOPs, and
    decode steps that each read the LLM weights once plus every row's filled KV cache."""
    c, v = cfg.llm, cfg.vision
    t, n = prompt_len, v.num_tokens
    llm = c.n_layers * (
        c.dim * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim
        + c.n_heads * c.head_dim * c.dim
        + 3 * c.dim * c.ffn_dim
    )
    head = c.dim * c.vocab_size
    prefill = 2 * llm * t + 2 * c.n_layers * t * t * c.dim + 2 * head  # causal attention
    mlp = int(v.width * v.mlp_ratio)
    vit = v.layers * (4 * v.width**2 + 2 * v.width * mlp) + 3 * v.patch_size**2 * v.width
    aligner = v.width * c.dim + (cfg.aligner_depth - 1) * c.dim**2
    vision = 2 * (vit + aligner) * n + 4 * v.layers * n * n * v.width
    kv_row = 2 * c.n_layers * c.n_kv_heads * c.head_dim * elem * (t + new_tokens / 2)
    step_bytes = (llm + head) * elem + rows * kv_row
    step_s = max(step_bytes / BANDWIDTH, rows * 2 * (llm + head) / PEAK_FLOPS)
    prefill_s = (prefill + vision) / PEAK_FLOPS
    decode_s = (new_tokens - 1) * step_s / rows
    return {
        "peak_flops": PEAK_FLOPS,
        "bandwidth_bytes_per_s": BANDWIDTH,
        "prefill_tflop_per_question": round((prefill + vision) / 1e12, 3),
        "decode_step_gb": round(step_bytes / 1e9, 2),
        "prefill_ms_per_question": round(1e3 * prefill_s, 3),
        "decode_ms_per_step": round(1e3 * step_s, 3),
        "questions_per_s": round(1 / (prefill_s + decode_s), 1),
    }


def agreement(ours: list[list[int]], theirs: list[list[int]]) -> float:
    return sum(a == b for a, b in zip(ours, theirs)) / max(len(theirs), 1)


def hf_model(cfg, model, dtype: str):
    """transformers' JanusForConditionalGeneration at `cfg`'s shapes on `model`'s device,
    holding `model`'s weights (mapped by the loader's own name plan)."""
    import torch
    from transformers import JanusForConditionalGeneration
    from transformers.utils import logging

    from ..layouts import plan
    from ..load import DTYPES

    logging.set_verbosity_error()
    hf_cfg = hf_config(cfg)
    with torch.device(model.device):
        hf = JanusForConditionalGeneration._from_config(hf_cfg, dtype=DTYPES[dtype]).eval()
    state = hf.state_dict()
    pieces = plan(
        model,
        "hf",
        {k: (tuple(t.shape), t.dtype) for k, t in state.items()},
        where="transformers JanusForConditionalGeneration",
    )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, plist in pieces.items():
            for p in plist:
                src = params[name].data
                src = src[p.start : p.start + p.shape[0]] if src.dim() else src
                state[p.key].copy_(src.reshape(state[p.key].shape))
    return hf


def run(
    size: str = "janus-1.3b",
    questions: int = 256,
    batch_size: int = 64,
    random_weights: bool = True,
    baselines: bool = False,
    device: str = "cuda",
    dtype: str = "bf16",
) -> dict[str, Any]:
    import torch
    import transformers
    from rich.console import Console
    from rich.progress import Progress

    if not random_weights:
        raise UserError(
            "bench understand runs random weights at the real shapes (it takes no checkpoint); "
            "pass --random-weights. For a real checkpoint, time `janus-eval run` instead."
        )
    if dtype not in ("bf16", "fp16", "fp32"):
        raise UserError(f"bench understand: dtype {dtype!r}: expected bf16, fp16 or fp32")
    if questions < 1 or batch_size < 1:
        raise UserError("bench understand: --questions and --batch-size must be at least 1")
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise UserError(
            "bench understand: no CUDA device here; pass --device cpu (and --size tiny)"
        )
    cfg = janus_config(size)
    threads = torch.get_num_threads()
    if not cuda and cfg.llm.dim < 512:  # toy ops: OpenMP barriers cost more than the work
        torch.set_num_threads(1)
    try:
        with Progress(console=Console(stderr=True), transient=True) as bar:
            phase = bar.add_task("building the model", total=None)
            model = random_model(cfg, device, dtype)
            items = make_questions(cfg, questions)
            out: dict[str, Any] = {
                "size": size,
                "device": device,
                "card": torch.cuda.get_device_name(torch.device(device)) if cuda else "cpu",
                "dtype": dtype,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "questions": questions,
                "batch_size": batch_size,
                "new_tokens": NEW_TOKENS,
            }
            batched = _batched(model, items, batch_size, bar, phase)
            out.update(batched)
            lengths = [len(ids) for ids, _ in items]
            mean_len = sum(lengths) / len(lengths)
            out["prompt_tokens"] = {
                "mean": round(mean_len, 1),
                "min": min(lengths),
                "max": max(lengths),
            }
            out["floor"] = floor(cfg, mean_len, min(batch_size, questions), elem=_elem(dtype))
            out["fraction_of_floor"] = sig(out["questions_per_s"] / out["floor"]["questions_per_s"])
            answers = out.pop("answers")

            from ..understand import GreedyDecoder

            solo = GreedyDecoder(model)
            n_solo = min(questions, 64)
            bar.update(phase, description="one at a time (ours)", total=n_solo, completed=0)
            solo_answers, solo_s = _one_at_a_time(
                lambda ids, px: solo.greedy(make_batch([(ids, px)]), [NEW_TOKENS], {EOS})[0],
                items[:n_solo],
                model.device,
                lambda: bar.advance(phase),
            )
            solo.release()
            out["ours_one_at_a_time_questions_per_s"] = round(n_solo / solo_s, 2)
            out["agreement_vs_ours_one_at_a_time"] = agreement(answers[:n_solo], solo_answers)
            out["agreement_questions"] = n_solo
            if size in ISSUE_ANCHOR_QPS:
                out["issue_anchor_transformers_questions_per_s"] = ISSUE_ANCHOR_QPS[size]
            if baselines:
                bar.update(phase, description="transformers: building", total=None)
                n_hf = min(questions, 32)
                hf_answers, hf_s = _transformers(cfg, model, dtype, items[:n_hf], bar, phase)
                hf_qps = n_hf / hf_s
                out["transformers_one_at_a_time_questions_per_s"] = round(hf_qps, 3)
                out["speedup_vs_transformers"] = round(out["questions_per_s"] / hf_qps, 1)
                out["agreement_vs_transformers"] = agreement(answers[:n_hf], hf_answers)
                out["transformers_questions"] = n_hf
    finally:
        torch.set_num_threads(threads)
    return out


def _batched(model, items, batch_size: int, bar, phase) -> dict[str, Any]:
    """Our batched path: one untimed pass, then a timed one split into prefill and decode."""
    import torch

    from ..understand import GreedyDecoder

    cuda = model.device.type == "cuda"
    batches = [make_batch(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]
    decoder = GreedyDecoder(model)
    budgets = [[NEW_TOKENS] * b.ids.shape[0] for b in batches]
    bar.update(phase, description="warm-up pass (CUDA graphs, allocator)")
    for b, n in zip(batches, budgets):
        decoder.greedy(b, n, {EOS})
    sync(model.device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    bar.update(phase, description="timed pass", total=len(batches), completed=0)
    answers: list[list[int]] = []
    prefill_s = decode_s = 0.0
    steps = 0
    for b, n in zip(batches, budgets):
        t0 = time.perf_counter()
        decoder.prefill(b, n, {EOS})
        sync(model.device)
        t1 = time.perf_counter()
        steps += decoder.decode()
        answers += decoder.answers()  # reads the tokens back: a sync
        t2 = time.perf_counter()
        prefill_s += t1 - t0
        decode_s += t2 - t1
        bar.advance(phase)
    peak = torch.cuda.max_memory_allocated(model.device) / 2**30 if cuda else None
    decoder.release()
    return {
        "cuda_graphs": decoder.cuda_graphs,
        "questions_per_s": round(len(items) / (prefill_s + decode_s), 2),
        "seconds": round(prefill_s + decode_s, 3),
        "prefill_ms_per_batch": round(1e3 * prefill_s / len(batches), 2),
        "prefill_ms_per_question": round(1e3 * prefill_s / len(items), 3),
        "decode_steps": steps,
        "decode_ms_per_step": round(1e3 * decode_s / max(steps, 1), 3),
        "peak_gpu_memory_gib": round(peak, 2) if peak is not None else None,
        "answers": answers,
    }


def _transformers(cfg, model, dtype: str, items, bar, phase) -> tuple[list[list[int]], float]:
    """transformers' generate, one question at a time, on `model`'s weights."""
    import torch

    hf = hf_model(cfg, model, dtype)
    bar.update(phase, description="transformers: one at a time", total=len(items), completed=0)

    def answer(ids: list[int], pixels) -> list[int]:
        x = torch.tensor([ids], device=model.device)
        gen = hf.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            pixel_values=pixels[None].to(model.device, model.dtype),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            generation_mode="text",
            eos_token_id=EOS,
            pad_token_id=PAD,
        )
        new = gen[0, x.shape[1] :].tolist()
        return new[: new.index(EOS)] if EOS in new else new

    with torch.inference_mode():
        return _one_at_a_time(answer, items, model.device, lambda: bar.advance(phase))


def _elem(dtype: str) -> int:
    return 4 if dtype == "fp32" else 2


def _one_at_a_time(fn, items, device, tick) -> tuple[list[list[int]], float]:
    """Answers of `fn(ids, pixels)` for each item in turn, and the seconds they took (the
    first item is run once more beforehand, untimed)."""
    fn(*items[0])
    sync(device)
    t0 = time.perf_counter()
    out = []
    for ids, pixels in items:
        out.append(fn(ids, pixels))
        tick()
    sync(device)
    return out, time.perf_counter() - t0
