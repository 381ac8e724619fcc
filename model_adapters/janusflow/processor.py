"""Text and images into JanusFlow inputs: Janus's processor with JanusFlow's two differences.

JanusFlow's VLChatProcessor is Janus's (same tokenizer, template, image preprocessing, image
token expansion, left padding), except:

* Understanding: its `images_seq_mask` marks `<begin_of_image>` as well as the
  `<image_placeholder>` tokens, because its model writes `beg_of_und_embed` there.
* Generation: the prompt is the chat text with no system prompt plus
  `<｜begin▁of▁generation｜>`, whose embedding is then cut off (the time embedding takes its
  place). The LLM therefore sees exactly the tokens of the chat text, which is what
  `generation_ids` returns (the tag is an added token, so it never merges with the text).

Chat format: JanusFlow-1.3B was released (deepseek-ai/Janus b010135, Nov 2024) when upstream's
"deepseek" template spelled the roles `User` / `Assistant`; Janus-Pro later renamed that
template `deepseek_old` and gave "deepseek" the `<|User|>` roles. So `chat_format=auto` means
"janus" here (the format the model was trained and published with); `pro` is what running
today's upstream code with `sft_format: deepseek` would send.
"""

from __future__ import annotations

from pathlib import Path

from janus_eval.types import ImageLike

from ..janus.processor import JanusProcessor, UnderstandBatch


def resolve_chat_format(chat_format: str) -> str:
    return "janus" if chat_format == "auto" else chat_format


class JanusFlowProcessor(JanusProcessor):
    def __init__(self, ckpt: Path, cfg, chat_format: str = "auto", model_name: str = "") -> None:
        super().__init__(ckpt, cfg, resolve_chat_format(chat_format), model_name)

    def generation_ids(self, prompt: str) -> list[int]:
        return self.encode(self.chat(prompt, ""))

    def understanding_batch(
        self, items: list[tuple[str, tuple[ImageLike, ...], str | None]]
    ) -> UnderstandBatch:
        batch = super().understanding_batch(items)
        batch.image_mask |= (batch.ids == self.ids.boi) & batch.valid
        return batch
