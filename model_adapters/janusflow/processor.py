"""Text and images into JanusFlow inputs: Janus's processor with JanusFlow's two differences.

JanusFlow's VLChatProcessor is Janus's (same tokenizer, template, image preprocessing, image
token expansion, left padding), except:

* Understanding: its `images_seq_mask` marks `<begin_of_image>` as well as the
  `<image_placeholder>` tokens, because its model writes `beg_of_und_embed` there.
* Generation: the prompt is the chat text with no system prompt plus
  `<｜begin▁of▁generation｜>`, whose embedding is then cut off (the time embedding takes its
  place). The LLM therefore sees exactly the tokens of the chat text, which is what
  `generation_ids` returns (the tag is an added token, so it never merges with the text).

Chat format: upstream takes the role text from the conversation, and JanusFlow's README and
demo write `User` / `Assistant` (the format JanusFlow-1.3B was released with, b010135, before
Janus-Pro's `<|User|>`). As for Janus, `chat_format=auto` takes what the checkpoint states (a
chat template, `sft_format: deepseek_old`, a name such as JanusFlow-1.3B) and never guesses.
"""

from __future__ import annotations

from janus_eval.types import ImageLike

from ..janus.processor import JanusProcessor, UnderstandBatch


class JanusFlowProcessor(JanusProcessor):
    def generation_ids(self, prompt: str) -> list[int]:
        return self.encode(self.chat(prompt, ""))

    def understanding_batch(
        self, items: list[tuple[str, tuple[ImageLike, ...], str | None]]
    ) -> UnderstandBatch:
        batch = super().understanding_batch(items)
        batch.image_mask |= (batch.ids == self.ids.boi) & batch.valid
        return batch
