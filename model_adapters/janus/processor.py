"""Text and images into Janus inputs, as upstream's VLChatProcessor makes them.

Prompts. Upstream's conversation template "deepseek" renders
`{system}\\n\\n{User}: {content}\\n\\n{Assistant}:` (the system part only when non-empty), and the
tokenizer prepends `<｜begin▁of▁sentence｜>`. Two spellings of the roles exist: Janus-Pro's
`<|User|>`/`<|Assistant|>` and Janus-1.3B's `User`/`Assistant` (its README and
generation_inference.py). Both released processor configs say `sft_format: deepseek` (upstream
renamed the 1.3B template to "deepseek_old" when Janus-Pro came, 95bde08), so the files of an
original-layout checkpoint rarely tell. The spelling is never
guessed: see `detect_chat_format` for what counts as evidence; without any, the run stops and
asks for `--model-option chat_format=pro|janus`.

Understanding prompts get upstream's default system prompt (VLChatProcessor.system_prompt, used
whenever it formats a conversation) unless the request gives one ("" turns it off). Image
generation prompts have no system prompt and end with `<begin_of_image>`, as in
generation_inference.py. Each `<image_placeholder>` token becomes `<begin_of_image>`, one
`<image_placeholder>` per vision token (576), `<end_of_image>`.

Images (VLMImageProcessor): the long side is resized to 384 with PIL bicubic, the short side to
`max(int(short / long * 384), 14)` (truncated, where transformers' port rounds), the result is
pasted centred on a square of colour int(mean * 255) = (127, 127, 127), scaled by 1/255 and
normalised with mean = std = 0.5. Batches are left-padded with `<｜▁pad▁｜>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from janus_eval.images import load_image
from janus_eval.types import ImageLike, UserError

from .config import JanusConfig

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful language and vision assistant. "
    "You are able to understand the visual content that the user provides, "
    "and assist the user with a variety of tasks using natural language."
)
ROLES = {"pro": ("<|User|>", "<|Assistant|>"), "janus": ("User", "Assistant")}
SPECIAL = {
    "bos": "<｜begin▁of▁sentence｜>",
    "eos": "<｜end▁of▁sentence｜>",
    "pad": "<｜▁pad▁｜>",
    "boi": "<begin_of_image>",
    "eoi": "<end_of_image>",
    "image": "<image_placeholder>",
}


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int
    boi: int
    eoi: int
    image: int


@dataclass
class UnderstandBatch:
    ids: torch.Tensor  # [B, T] left-padded
    valid: torch.Tensor  # [B, T] bool, False on padding
    pixels: torch.Tensor | None  # [N, 3, S, S], the batch's images in placeholder order
    image_mask: torch.Tensor  # [B, T] bool, True on image placeholder tokens


class JanusProcessor:
    def __init__(
        self, ckpt: Path, cfg: JanusConfig, chat_format: str = "auto", model_name: str = ""
    ) -> None:
        from tokenizers import Tokenizer

        file = ckpt / "tokenizer.json"
        if not file.is_file():
            raise UserError(f"{ckpt}: no tokenizer.json (the Janus checkpoints ship one)")
        try:
            self.tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:
            raise UserError(f"{file}: cannot load tokenizer ({exc})") from None
        tok_cfg = _read_json(ckpt / "tokenizer_config.json")
        names = dict(SPECIAL)
        for role in ("bos", "eos"):
            value = tok_cfg.get(f"{role}_token")
            value = value.get("content") if isinstance(value, dict) else value
            if isinstance(value, str) and value:
                names[role] = value
        ids = {}
        for role, text in names.items():
            tid = self.tokenizer.token_to_id(text)
            if tid is None:
                raise UserError(
                    f"{file}: the tokenizer has no {text!r} token; not a Janus tokenizer?"
                )
            ids[role] = tid
        self.ids = SpecialIds(**ids)
        self.clean_up_spaces = bool(tok_cfg.get("clean_up_tokenization_spaces", False))
        self.cfg = cfg
        self.num_image_tokens = cfg.vision.num_tokens
        pre = _read_json(ckpt / "preprocessor_config.json")
        size = (
            pre.get("image_size") or (pre.get("size") or {}).get("height") or cfg.vision.image_size
        )
        if int(size) != cfg.vision.image_size:
            raise UserError(
                f"{ckpt}: preprocessor image size {size} != vision tower image size "
                f"{cfg.vision.image_size}"
            )
        self.image_size = int(size)
        self.min_size = int(pre.get("min_size", 14))
        self.mean = tuple(float(x) for x in pre.get("image_mean", (0.5, 0.5, 0.5)))
        self.std = tuple(float(x) for x in pre.get("image_std", (0.5, 0.5, 0.5)))
        self.background = tuple(int(x * 255) for x in self.mean)
        self.rescale = float(pre.get("rescale_factor", 1 / 255))
        self.chat_format = resolve_chat_format(chat_format, ckpt, model_name)
        proc = _read_json(ckpt / "processor_config.json")
        use_default = proc.get("use_default_system_prompt", True)
        self.default_system_prompt = DEFAULT_SYSTEM_PROMPT if use_default else ""

    # ---- text ----------------------------------------------------------------------------

    def chat(self, content: str, system_prompt: str) -> str:
        """Upstream's "deepseek" template for one user turn and an open assistant turn."""
        user, assistant = ROLES[self.chat_format]
        head = f"{system_prompt}\n\n" if system_prompt else ""
        return f"{head}{user}: {content.strip()}\n\n{assistant}:".strip()

    def encode(self, text: str) -> list[int]:
        return [self.ids.bos, *self.tokenizer.encode(text, add_special_tokens=False).ids]

    def decode(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        return _clean_up(text) if self.clean_up_spaces else text

    def generation_ids(self, prompt: str) -> list[int]:
        return self.encode(self.chat(prompt, "") + SPECIAL["boi"])

    def understanding_text(self, prompt: str, n_images: int, system_prompt: str | None) -> str:
        placeholders = prompt.count("<image>")
        if placeholders and placeholders != n_images:
            raise UserError(
                f"prompt has {placeholders} <image> placeholder(s) but the request has "
                f"{n_images} image(s): {prompt[:80]!r}"
            )
        tag = SPECIAL["image"]
        content = (
            prompt.replace("<image>", tag) if placeholders else (tag + "\n") * n_images + prompt
        )
        system = self.default_system_prompt if system_prompt is None else system_prompt
        return self.chat(content, system)

    def understanding_ids(self, text: str) -> list[int]:
        out = []
        for tid in self.encode(text):
            if tid == self.ids.image:
                out += [self.ids.boi, *[self.ids.image] * self.num_image_tokens, self.ids.eoi]
            else:
                out.append(tid)
        return out

    # ---- images --------------------------------------------------------------------------

    def image_tensor(self, image: ImageLike) -> torch.Tensor:
        """[3, S, S] float32, upstream's resize -> pad to square -> rescale -> normalise."""
        from PIL import Image

        img = load_image(image, what="understanding image")
        w, h = img.size
        long = max(w, h)
        size = (
            max(int(w / long * self.image_size), self.min_size),
            max(int(h / long * self.image_size), self.min_size),
        )
        img = img.resize(size, resample=Image.Resampling.BICUBIC, reducing_gap=None)
        img = _expand_to_square(img, self.background)
        x = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
        x = (x.astype(np.float64) * self.rescale).astype(np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        return torch.from_numpy(((x - mean) / std).astype(np.float32))

    # ---- batches -------------------------------------------------------------------------

    def understanding_batch(
        self, items: list[tuple[str, tuple[ImageLike, ...], str | None]]
    ) -> UnderstandBatch:
        """Left-padded ids for (prompt, images, system_prompt) items, and their pixels."""
        rows, pixels = [], []
        for prompt, images, system in items:
            rows.append(
                self.understanding_ids(self.understanding_text(prompt, len(images), system))
            )
            pixels += [self.image_tensor(im) for im in images]
        ids, valid = left_pad(rows, self.ids.pad)
        return UnderstandBatch(
            ids=ids,
            valid=valid,
            pixels=torch.stack(pixels) if pixels else None,
            image_mask=(ids == self.ids.image) & valid,
        )


def left_pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    valid = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            valid[i, width - len(r) :] = True
    return ids, valid


def resolve_chat_format(chat_format: str, ckpt: Path, model_name: str = "") -> str:
    """`chat_format` as given, or for "auto" the one the checkpoint's files or name say."""
    if chat_format not in ("auto", *ROLES):
        raise UserError(f"chat_format {chat_format!r}: expected auto, pro or janus")
    return chat_format if chat_format != "auto" else detect_chat_format(ckpt, model_name)


#: What a checkpoint name says: Janus-Pro (any size) or Janus-1.3B.
NAMES = {
    "pro": re.compile(r"janus[-_ ]?pro", re.I),
    "janus": re.compile(r"janus[-_ ]?(?:flow[-_ ]?)?1\.3b", re.I),  # JanusFlow-1.3B speaks it too
}


def detect_chat_format(ckpt: Path, model_name: str = "") -> str:
    """The chat format the checkpoint's files or name state, or a UserError asking for it.

    Evidence, all of which must agree: a chat template (transformers writes one into converted
    and fine-tuned checkpoints) naming `<|User|>` -> pro; `sft_format: deepseek_old` -> janus
    (upstream's name for the 1.3B template); the model name or path naming Janus-Pro -> pro, or
    Janus-1.3B -> janus. A fine-tuned checkpoint in a folder like `ckpt/step-5000` has none, and
    a wrong guess would change every prompt without a warning, so it is refused instead."""
    found: dict[str, list[str]] = {}
    for where, template in _chat_templates(ckpt):
        if "<|User|>" in template:
            found.setdefault("pro", []).append(f"the chat template in {where} names <|User|>")
    if _read_json(ckpt / "processor_config.json").get("sft_format") == "deepseek_old":
        found.setdefault("janus", []).append("processor_config.json has sft_format deepseek_old")
    for text in dict.fromkeys(t for t in (model_name, str(ckpt)) if t):
        for fmt, pattern in NAMES.items():
            match = pattern.search(text)
            if match:
                found.setdefault(fmt, []).append(f"the name {text!r} contains {match.group()!r}")
    how = (
        "pass --model-option chat_format=pro (Janus-Pro's <|User|>/<|Assistant|>) or "
        "chat_format=janus (Janus-1.3B's User/Assistant), whichever the checkpoint was trained with"
    )
    if len(found) > 1:
        said = "; ".join(f"{fmt}: {', '.join(why)}" for fmt, why in sorted(found.items()))
        raise UserError(f"{ckpt}: conflicting evidence of the chat format ({said}); {how}")
    if not found:
        raise UserError(
            f"{ckpt}: cannot tell the chat format: no chat template naming <|User|>, "
            "processor_config.json's sft_format does not tell (both Janus-1.3B and Janus-Pro "
            f"say 'deepseek'), and the name {model_name or str(ckpt)!r} names neither Janus-Pro "
            f"nor Janus-1.3B. A wrong format would silently change every prompt; {how}"
        )
    return next(iter(found))


def _chat_templates(ckpt: Path) -> list[tuple[str, str]]:
    """(file, template text) of every chat template the checkpoint ships."""
    out = []
    jinja = ckpt / "chat_template.jinja"
    if jinja.is_file():
        out.append((jinja.name, jinja.read_text(encoding="utf-8", errors="replace")))
    for name in ("chat_template.json", "processor_config.json", "tokenizer_config.json"):
        value = _read_json(ckpt / name).get("chat_template")
        if isinstance(value, str):
            out.append((name, value))
    return out


def _expand_to_square(img: Any, color: tuple[int, ...]) -> Any:
    """Upstream's expand2square: paste centred (offset floor((long - short) / 2)) on a square."""
    from PIL import Image

    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    out = Image.new(img.mode, (side, side), color)
    out.paste(img, (0, (w - h) // 2) if w > h else ((h - w) // 2, 0))
    return out


def _clean_up(text: str) -> str:
    """transformers' clean_up_tokenization (applied when the tokenizer config asks for it)."""
    for a, b in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(a, b)
    return text


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot parse JSON ({exc})") from None
    return data if isinstance(data, dict) else {}
