"""The LLM judge (tasks/_judge.py) against a real HTTP server on 127.0.0.1: the request it sends, retries on
transient failures, one clear UserError for everything else, and the verdict cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from janus_eval.tasks import _judge as judge_module
from janus_eval.tasks._judge import ChatJudge, VerdictCache, chat_endpoint
from judge_server import FakeJudge

from janus_eval.types import UserError


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch) -> None:
    monkeypatch.setattr(judge_module, "BACKOFF_S", 0.0)


def test_endpoint_from_base_or_full_url() -> None:
    assert (
        chat_endpoint("https://api.openai.com/v1") == "https://api.openai.com/v1/chat/completions"
    )
    assert (
        chat_endpoint("http://h:8000/v1/chat/completions/") == "http://h:8000/v1/chat/completions"
    )
    with pytest.raises(UserError, match="not an http"):
        chat_endpoint("api.openai.com/v1")


def test_request_body_headers_and_reply(monkeypatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-123")
    with FakeJudge(lambda body, n: "0.7") as server:
        judge = ChatJudge(server.url, "gpt-4-0613", key_env="MY_JUDGE_KEY")
        assert judge.complete("grade this", 0.5, 3) == ("0.7", "judge-that-answered")
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-123"
    assert req["body"] == {
        "model": "gpt-4-0613",
        "messages": [{"role": "user", "content": "grade this"}],
        "max_tokens": 3,
        "temperature": 0.5,
    }


def test_no_key_no_header_and_transient_failures_are_retried(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    replies = {0: (503, "busy"), 1: (429, "slow down"), 2: "1.0"}
    with FakeJudge(lambda body, n: replies[n]) as server:
        judge = ChatJudge(server.url, "m", retries=2)
        assert judge.complete("x", 0.0, 3)[0] == "1.0"
    assert len(server.requests) == 3 and judge.calls == 3
    assert "Authorization" not in server.requests[0]["headers"]


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ((401, '{"error": "bad key"}'), r"refused the request \(HTTP 401.*\$OPENAI_API_KEY is not set"),
        ((404, "no such model"), r"rejected the request \(HTTP 404: no such model\).*judge_model='m'"),
        ((500, "boom"), r"did not answer after 2 attempts \(last: HTTP 500: boom\)"),
        ((200, "<html>hello</html>"), "not a chat completion: <html>hello</html>"),
    ],
)  # fmt: skip
def test_failures_are_one_clear_user_error(monkeypatch, reply, needle) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeJudge(lambda body, n: reply) as server, pytest.raises(UserError, match=needle):
        ChatJudge(server.url, "m", retries=1).complete("x", 0.0, 3)


def test_timeouts_are_retried_then_reported() -> None:
    with FakeJudge(lambda body, n: ("sleep", 1.0)) as server:
        judge = ChatJudge(server.url, "m", timeout_s=0.2, retries=1)
        with pytest.raises(UserError, match="did not answer after 2 attempts.*timed out"):
            judge.complete("x", 0.0, 3)
    assert len(server.requests) == 2


def test_unreachable_endpoint() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match="did not answer after 1 attempts"):
        ChatJudge(f"http://127.0.0.1:{port}/v1", "m", retries=0).complete("x", 0.0, 3)


def test_verdict_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JANUS_EVAL_CACHE", str(tmp_path))
    cache = VerdictCache("mmvet")
    key = cache.key(model="m", prediction="p")
    assert (
        key == VerdictCache.key(prediction="p", model="m") != cache.key(model="m2", prediction="p")
    )
    assert cache.get(key) is None
    cache.put(key, {"score": 0.5})
    assert VerdictCache("mmvet").get(key) == {"score": 0.5}
    assert (tmp_path / "judge" / "mmvet" / f"{key}.json").is_file()
    (tmp_path / "judge" / "mmvet" / f"{key}.json").write_text("{torn")
    assert cache.get(key) is None  # a torn file is judged again, not trusted
