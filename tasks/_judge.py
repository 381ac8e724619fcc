"""An LLM judge behind any OpenAI-compatible chat-completions endpoint, and a disk cache of its
verdicts, for benchmarks graded by a language model (MM-Vet).

Why the standard library: one small POST per verdict needs no client package. Why a cache:
a task scores a batch (and so pays the judge) before the runner stores it; if the process dies
in between, the batch is answered again on resume, and the cache, written the moment a
verdict arrives, makes sure the same verdict is never bought twice.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from janus_eval.cache import cache_dir
from janus_eval.provenance import stable_hash
from janus_eval.store import atomic_write_json
from janus_eval.types import UserError

#: Seconds before the first retry; doubled each time, at most MAX_BACKOFF_S.
BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
#: Statuses worth retrying: rate limits, timeouts and server-side failures.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def chat_endpoint(url: str) -> str:
    """`url` as given if it ends in /chat/completions, else that path appended (so both
    https://api.openai.com/v1 and a full endpoint URL work)."""
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        raise UserError(
            f"judge_url {url!r} is not an http(s) URL; give the base URL of an OpenAI-compatible "
            "API, e.g. https://api.openai.com/v1 or http://localhost:8000/v1"
        )
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class ChatJudge:
    """`complete(prompt, temperature, max_tokens)` -> (reply, model the endpoint names).

    The key is read from the environment variable `key_env` (no Authorization header when it
    is unset, for local servers that need none). Timeouts, dropped connections, 408/409/425/
    429 and 5xx are retried with exponential backoff; any other failure is a UserError naming
    the endpoint and what to check."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        retries: int = 5,
    ) -> None:
        self.endpoint = chat_endpoint(url)
        self.model = model
        self.key_env = key_env
        self.timeout_s = timeout_s
        self.retries = retries
        self.calls = 0

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.key_env, "") if self.key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, prompt: str, temperature: float, max_tokens: int) -> tuple[str, str]:
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": temperature,
            }
        ).encode()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(BACKOFF_S * 2 ** (attempt - 1), MAX_BACKOFF_S))
            request = urllib.request.Request(
                self.endpoint, data=body, headers=self._headers(), method="POST"
            )
            self.calls += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    payload = response.read()
            except urllib.error.HTTPError as exc:
                detail = _excerpt(exc.read())
                if exc.code in RETRY_STATUSES:
                    last = f"HTTP {exc.code}: {detail}"
                    continue
                raise UserError(self._refused(exc.code, detail)) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                last = str(getattr(exc, "reason", exc)) or type(exc).__name__
                continue
            return self._reply(payload)
        raise UserError(
            f"the judge at {self.endpoint} did not answer after {self.retries + 1} attempts "
            f"(last: {last}). Check judge_url, or raise judge_timeout_s / judge_retries; "
            "verdicts already received are cached and answers already judged are stored, so "
            "re-running the same command resumes without paying for them again."
        )

    def _refused(self, code: int, detail: str) -> str:
        if code in (401, 403):
            where = (
                f"${self.key_env} is not set"
                if not os.environ.get(self.key_env, "")
                else f"the key in ${self.key_env} was refused"
            )
            return (
                f"the judge at {self.endpoint} refused the request (HTTP {code}: {detail}): "
                f"{where}. Put the API key in ${self.key_env}, or name another variable with "
                "--task-option judge_key_env=NAME."
            )
        return (
            f"the judge at {self.endpoint} rejected the request (HTTP {code}: {detail}). Check "
            f"judge_url and judge_model={self.model!r}."
        )

    def _reply(self, payload: bytes) -> tuple[str, str]:
        try:
            data = json.loads(payload)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UserError(
                f"the judge at {self.endpoint} answered with something that is not a chat "
                f"completion: {_excerpt(payload)}. Is judge_url an OpenAI-compatible API?"
            ) from None
        model = data.get("model") if isinstance(data, dict) else None
        return ("" if content is None else str(content)), str(model or self.model)


def _excerpt(payload: bytes, limit: int = 200) -> str:
    text = payload.decode("utf-8", "replace").strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


class VerdictCache:
    """One JSON file per verdict under $JANUS_EVAL_CACHE/judge/<namespace>/, named by a hash of
    everything that decides it (endpoint, model, grading rule, question, answer, prediction).
    Delete the folder to have every answer judged afresh."""

    def __init__(self, namespace: str) -> None:
        self.dir: Path = cache_dir("judge", namespace)

    @staticmethod
    def key(**parts: Any) -> str:
        return stable_hash(parts, 40)

    def get(self, key: str) -> dict[str, Any] | None:
        path = self.dir / f"{key}.json"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or unreadable: judge again
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        atomic_write_json(self.dir / f"{key}.json", value)
