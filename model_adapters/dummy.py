"""A model with no weights, for tests and dry runs: answers and images are deterministic
functions of the request, so two runs (or a resumed one) agree exactly."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UnderstandRequest

from ._base import Adapter


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


@register_adapter
class DummyAdapter(Adapter):
    """Answers "yes"/"no"/"A".. or a number from a hash of the prompt; images are flat colours
    drawn from a hash of (seed, request id, k)."""

    name = "dummy"
    # Test hooks: `delay_s` slows each call (to interrupt a run midway); `fail_after` raises on
    # the call after that many (to check nothing stored is lost); `exit_after` kills the
    # process outright, as a crashed rank would (with `exit_on_rank`: only that rank dies).
    OPTIONS = {"delay_s": 0.0, "fail_after": -1, "exit_after": -1, "exit_on_rank": -1}

    def configure(self, opts: dict[str, Any]) -> None:
        self.delay_s = float(opts["delay_s"])
        self.fail_after = int(opts["fail_after"])
        self.exit_after = int(opts["exit_after"])
        exit_rank = int(opts["exit_on_rank"])
        if exit_rank >= 0 and int(os.environ.get("RANK", "0")) != exit_rank:
            self.exit_after = -1
        self.calls = 0

    def _tick(self) -> None:
        import time

        if self.calls == self.exit_after:
            os._exit(17)
        if self.calls == self.fail_after:
            raise RuntimeError(f"dummy adapter: failing on call {self.calls} as asked")
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)

    def describe(self) -> dict[str, Any]:
        return self.description(None, checkpoint=self.model_path or "none")

    def understand(self, reqs: Sequence[UnderstandRequest]) -> list[str]:
        self._tick()
        answers = []
        for req in reqs:
            h = _digest(req.prompt, len(req.images))
            if "option's letter" in req.prompt or "\nA." in req.prompt:
                answers.append("ABCD"[h[0] % 4])
            elif "how many" in req.prompt.lower():
                answers.append(str(h[0] % 5))
            else:
                answers.append("Yes" if h[0] % 2 else "No")
        return answers

    def generate_images(self, reqs: Sequence[ImageRequest]) -> list[list[Any]]:
        from PIL import Image

        self._tick()
        out = []
        for req in reqs:
            images = []
            for k in req.indices:
                h = _digest(req.seed, req.request_id, k)
                images.append(
                    Image.new("RGB", (req.size or 384, req.size or 384), (h[0], h[1], h[2]))
                )
            out.append(images)
        return out
