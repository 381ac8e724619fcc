"""A model with no weights, for tests and dry runs: answers and images are deterministic
functions of the request, so two runs (or a resumed one) agree exactly."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from janus_eval.registry import register_adapter
from janus_eval.types import ImageRequest, UnderstandRequest


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()


@register_adapter
class DummyAdapter:
    """Answers "yes"/"no"/"A".. or a number from a hash of the prompt; images are flat colours
    drawn from a hash of (seed, request id, k)."""

    name = "dummy"

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        dtype: str = "fp32",
        **options: Any,
    ) -> None:
        self.model_path = model_path
        self.device = device
        self.dtype = dtype
        # Test hooks: `delay_s` slows each call (to interrupt a run midway); `fail_after`
        # raises on the call after that many (to check nothing stored is lost);
        # `exit_after` kills the process outright, as a crashed rank would.
        self.delay_s = float(options.pop("delay_s", 0.0))
        self.fail_after = int(options.pop("fail_after", -1))
        self.exit_after = int(options.pop("exit_after", -1))
        exit_rank = int(options.pop("exit_on_rank", -1))  # with exit_after: only this rank dies
        if exit_rank >= 0 and int(os.environ.get("RANK", "0")) != exit_rank:
            self.exit_after = -1
        if options:
            from janus_eval.types import UserError

            raise UserError(
                f"dummy adapter: unknown option(s) {sorted(options)}; known: "
                "delay_s, fail_after, exit_after"
            )
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
        return {
            "name": self.name,
            "checkpoint": self.model_path or "none",
            "weights_sha256": None,
            "dtype": self.dtype,
            "device": self.device,
        }

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
