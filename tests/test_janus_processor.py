"""Prompts, token ids and image preprocessing, as upstream's VLChatProcessor makes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from janus_eval.model_adapters.janus.layouts import read_config
from janus_eval.model_adapters.janus.processor import (
    DEFAULT_SYSTEM_PROMPT,
    JanusProcessor,
    detect_chat_format,
    resolve_chat_format,
)
from janus_eval.model_adapters.janus.tiny import SPECIAL_TOKENS
from janus_helpers import one_thread, random_image, tiny_dir, tiny_processor  # noqa: F401
from PIL import Image

from janus_eval.types import UserError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_special_tokens_sit_at_janus_ids():
    ids = tiny_processor().ids
    assert (ids.bos, ids.eos, ids.pad, ids.boi, ids.eoi, ids.image) == (
        100000,
        100001,
        100015,
        100016,
        100593,
        100581,
    )
    tok = tiny_processor().tokenizer
    assert tok.token_to_id("<|User|>") == 100588 and tok.token_to_id("<|Assistant|>") == 100589
    assert all(tok.token_to_id(text) == i for i, text in SPECIAL_TOKENS.items())


def test_generation_prompt_is_upstreams():
    proc = tiny_processor()
    text = proc.chat("  a photo of a cat ", "") + "<begin_of_image>"
    assert text == "<|User|>: a photo of a cat\n\n<|Assistant|>:<begin_of_image>"
    ids = proc.generation_ids(" a photo of a cat ")
    assert ids[0] == proc.ids.bos and ids[1] == 100588 and ids[-1] == proc.ids.boi
    assert proc.decode(ids) == ": a photo of a cat\n\n:"  # special tokens are skipped


def test_understanding_prompt_formats():
    proc = tiny_processor()
    text = proc.understanding_text("What is it?", 1, None)
    assert (
        text
        == f"{DEFAULT_SYSTEM_PROMPT}\n\n<|User|>: <image_placeholder>\nWhat is it?\n\n<|Assistant|>:"
    )
    assert proc.understanding_text("Is <image> like <image>?", 2, "") == (
        "<|User|>: Is <image_placeholder> like <image_placeholder>?\n\n<|Assistant|>:"
    )
    assert proc.understanding_text("Q", 2, "Be brief.").startswith(
        "Be brief.\n\n<|User|>: <image_placeholder>\n<image_placeholder>\nQ"
    )
    with pytest.raises(UserError, match="1 <image> placeholder"):
        proc.understanding_text("Look at <image>", 2, None)
    old = JanusProcessor(tiny_dir(), read_config(tiny_dir()), chat_format="janus")
    assert old.understanding_text("Q", 0, "") == "User: Q\n\nAssistant:"


def test_each_image_expands_to_boi_tokens_eoi():
    proc = tiny_processor()
    ids = proc.understanding_ids(proc.understanding_text("Q", 2, ""))
    n = proc.num_image_tokens
    assert n == 16 and ids.count(proc.ids.image) == 2 * n
    first = ids.index(proc.ids.boi)
    assert (
        ids[first + 1 : first + 1 + n] == [proc.ids.image] * n
        and ids[first + 1 + n] == proc.ids.eoi
    )


def test_batches_are_left_padded():
    proc = tiny_processor()
    batch = proc.understanding_batch([("a much longer question here", (), ""), ("short", (), "")])
    short = batch.valid[1]
    assert not short[0] and short[-1] and batch.ids[1, 0] == proc.ids.pad
    assert batch.valid[0].all() and batch.pixels is None


def test_image_preprocessing_matches_upstream():
    proc = tiny_processor()  # native size 32
    # 7 x 3 -> long side 32, short side int(3 / 7 * 32) = int(13.71) = 13 (transformers: 14),
    # then max(13, min_size=14) = 14
    img = random_image(0, 7, 3)
    x = proc.image_tensor(img)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    pad_value = float((np.float32(127 / 255) - np.float32(0.5)) / np.float32(0.5))
    resized = np.asarray(img.resize((32, 14), Image.Resampling.BICUBIC, reducing_gap=None))
    top = (32 - 14) // 2
    assert torch.all(x[:, :top] == pad_value) and torch.all(x[:, top + 14 :] == pad_value)
    want = (resized.transpose(2, 0, 1).astype(np.float64) / 255).astype(np.float32)
    assert torch.allclose(x[:, top : top + 14], torch.from_numpy((want - 0.5) / 0.5), atol=1e-6)
    # truncation, not rounding: 100 x 59 -> int(59 / 100 * 32) = int(18.88) = 18 rows of image
    y = proc.image_tensor(Image.new("RGB", (100, 59), (255, 255, 255)))
    assert int((y[0, :, 16] == 1.0).sum()) == 18
    # a tall image is padded left and right
    z = proc.image_tensor(Image.new("RGB", (10, 40), (0, 0, 0)))
    assert torch.all(z[:, :, 0] == pad_value) and torch.all(z[:, 16, 12:20] == -1.0)


def _statementless(tmp_path: Path, name: str = "step-5000") -> Path:
    """A copy of janus-tiny that states no chat format: no chat template, a neutral name."""
    ckpt = tmp_path / "ckpt" / name
    shutil.copytree(tiny_dir(), ckpt)
    tok = json.loads((ckpt / "tokenizer_config.json").read_text())
    del tok["chat_template"]
    (ckpt / "tokenizer_config.json").write_text(json.dumps(tok))
    return ckpt


def test_chat_format_detection(tmp_path):
    assert detect_chat_format(tiny_dir()) == "pro"  # janus-tiny's own chat template says so
    ckpt = _statementless(tmp_path)
    with pytest.raises(UserError) as err:  # a fine-tuned checkpoint: nothing to go by
        detect_chat_format(ckpt)
    assert "cannot tell the chat format" in str(err.value)
    assert "--model-option chat_format=pro" in str(err.value) and "step-5000" in str(err.value)
    assert detect_chat_format(ckpt, "deepseek-ai/Janus-1.3B") == "janus"
    assert detect_chat_format(ckpt, "/ckpt/JANUS_PRO_7B-sft") == "pro"
    assert detect_chat_format(_statementless(tmp_path, "janus 1.3b ft"), "") == "janus"
    with pytest.raises(UserError, match="cannot tell"):
        detect_chat_format(ckpt, "/work/janus-eval/ckpt/step-5000")  # "janus" alone says nothing
    proc = json.loads((ckpt / "processor_config.json").read_text())
    (ckpt / "processor_config.json").write_text(json.dumps({**proc, "sft_format": "deepseek_old"}))
    assert detect_chat_format(ckpt) == "janus"  # upstream's name for the 1.3B template
    (ckpt / "processor_config.json").write_text(json.dumps(proc))
    (ckpt / "chat_template.jinja").write_text("{{'<|User|>: ' + m}}")
    assert detect_chat_format(ckpt) == "pro"
    # statements that disagree are not resolved by precedence: the run stops
    with pytest.raises(
        UserError, match=r"conflicting evidence.*janus: the name 'deepseek-ai/Janus-1.3B'"
    ):
        detect_chat_format(ckpt, "deepseek-ai/Janus-1.3B")
    with pytest.raises(UserError, match="conflicting"):
        detect_chat_format(_statementless(tmp_path, "janus-pro-from-janus-1.3b"))
    # an explicit choice needs no evidence, and is checked
    assert resolve_chat_format("janus", ckpt, "deepseek-ai/Janus-Pro-7B") == "janus"
    with pytest.raises(UserError, match="chat_format"):
        JanusProcessor(tiny_dir(), read_config(tiny_dir()), chat_format="chatml")
