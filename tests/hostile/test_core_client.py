"""The same wire cases through the core ``NovitaClient`` directly (sync, async, stream, astream)."""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import Callable
from typing import Any

import openai
import pytest

from novita_core import (
    InvalidParameterError,
    NovitaClient,
    NovitaResponseError,
    NovitaServerError,
    NovitaSettings,
    NovitaStreamServerError,
    build_request,
)
from novita_core.retry import retry_after_seconds
from tests.hostile.server import (
    API_KEY,
    Conn,
    HostileServer,
    Seen,
    chunk,
    data,
    head,
    json_answer,
    normal,
    sse_answer,
)

pytestmark = pytest.mark.timeout(60)

MODEL = "meta-llama/llama-3.3-70b-instruct"
Start = Callable[..., HostileServer]
MODES = ["create", "acreate", "stream", "astream"]


def client(server: HostileServer, **settings: Any) -> NovitaClient:
    options = {"max_retries": 0, "timeout": 5.0, **settings}
    resolved = NovitaSettings.resolve(api_key=API_KEY, base_url=server.base_url, **options)
    return NovitaClient(resolved)


def call(novita: NovitaClient, mode: str, content: str = "hi", endpoint: str = "chat") -> str:
    """One call in ``mode``; the answer text."""
    stream = mode in ("stream", "astream")
    if endpoint == "chat":
        params: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
    else:
        params = {"prompt": content}
    request = build_request(endpoint, {"model": MODEL, **params, "stream": stream})
    if mode == "create":
        return _text(novita.create(request))
    if mode == "acreate":
        return _text(asyncio.run(novita.acreate(request)))
    if mode == "stream":
        return "".join(d.content for d in novita.stream(request))

    async def collect() -> str:
        return "".join([d.content async for d in novita.astream(request)])

    return asyncio.run(collect())


def _text(answer: dict[str, Any]) -> str:
    choice = answer["choices"][0]
    return str(choice["message"]["content"] if "message" in choice else choice["text"])


def each_mode(modes: list[str] = MODES) -> Any:
    return pytest.mark.parametrize("mode", modes)


@each_mode(["stream", "astream"])
def test_error_event_after_chunks(hostile: Start, mode: str) -> None:
    events = data(chunk("Hi")) + data({"error": {"message": "model exploded", "code": 500}})
    server = hostile(lambda conn, seen: conn.send(sse_answer(events + data(b"[DONE]"))))
    with pytest.raises(NovitaStreamServerError, match="model exploded") as info:
        call(client(server, max_retries=2), mode)
    assert info.value.code == 500
    assert "after 1 chunk(s)" in str(info.value)
    assert len(server.requests) == 1


@each_mode(["create", "acreate"])
def test_200_error_body_and_empty_choices(hostile: Start, mode: str) -> None:
    flat = {"code": 400, "reason": "INVALID_REQUEST", "message": "nope"}
    server = hostile(lambda conn, seen: conn.send(json_answer(flat)))
    with pytest.raises(NovitaServerError, match="nope"):
        call(client(server), mode)
    empty = {"id": "cmpl-1", "object": "text_completion", "choices": []}
    server = hostile(lambda conn, seen: conn.send(json_answer(empty)))
    with pytest.raises(NovitaResponseError, match="without any choice"):
        call(client(server), mode, endpoint="completions")


@each_mode()
def test_retry_after_is_an_attribute_and_garbage_is_ignored(hostile: Start, mode: str) -> None:
    limited = json_answer({"message": "later"}, 429, [("Retry-After", "120")])
    server = hostile(lambda conn, seen: conn.send(limited))
    with pytest.raises(openai.RateLimitError) as info:
        call(client(server, max_retries=5, max_retry_wait=60), mode)
    assert info.value.retry_after == 120  # type: ignore[attr-defined]
    assert len(server.requests) == 1
    garbage = json_answer({"message": "later"}, 429, [("Retry-After", "soon, maybe")])
    server = hostile(lambda conn, seen: conn.send(garbage))
    with pytest.raises(openai.RateLimitError) as info:
        call(client(server), mode)
    assert info.value.retry_after is None  # type: ignore[attr-defined]
    assert retry_after_seconds(info.value) is None


def _drip_headers(conn: Conn, seen: Seen) -> None:
    conn.drip(normal(seen), 0.05)


def _drip_first_event(conn: Conn, seen: Seen) -> None:
    conn.send(head(content_type="text/event-stream"))
    conn.drip(data(chunk("Hello")), 0.05)


def _drip_json_body(conn: Conn, seen: Seen) -> None:
    # A stream request answered with one JSON error object, whose bytes come slowly.
    body = json.dumps({"code": 503, "reason": "BUSY", "message": "upstream busy"}).encode()
    conn.send(head(length=len(body)))
    conn.drip(body, 0.05)


@pytest.mark.parametrize("script", [_drip_headers, _drip_first_event, _drip_json_body])
@each_mode()
def test_timeout_bounds_the_whole_attempt(
    hostile: Start, mode: str, script: Callable[[Conn, Seen], None]
) -> None:
    server = hostile(script)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        call(client(server, timeout=0.6), mode)
    assert time.monotonic() - started < 2.1


@pytest.mark.parametrize(
    ("mode", "transport"), [("stream", "httpx"), ("astream", "aiohttp"), ("astream", "httpx")]
)
def test_a_json_answer_to_a_stream_cut_short_is_a_retried_connection_error(
    hostile: Start, mode: str, transport: str
) -> None:
    body = json.dumps({"code": 503, "reason": "BUSY", "message": "upstream busy"}).encode()
    server = hostile(lambda conn, seen: conn.send(head(length=len(body) + 50) + body))
    with pytest.raises(openai.APIConnectionError) as info:
        call(client(server, max_retries=1, async_transport=transport), mode)
    assert type(info.value) is openai.APIConnectionError  # not its APITimeoutError subclass
    assert len(server.requests) == 2


@each_mode()
def test_key_not_in_locals_of_a_connection_error(hostile: Start, mode: str) -> None:
    server = hostile(lambda conn, seen: conn.reset())
    with pytest.raises(openai.APIConnectionError) as info:
        call(client(server, max_retries=1), mode)
    rendered = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    assert API_KEY not in "".join(rendered.format())


@each_mode()
def test_lone_surrogate_in_a_message_is_refused_before_sending(hostile: Start, mode: str) -> None:
    server = hostile(lambda conn, seen: conn.send(normal(seen)))
    with pytest.raises(InvalidParameterError, match=r"messages\[0\]\['content'\]"):
        call(client(server), mode, content="bad \udc80 text")
    with pytest.raises(InvalidParameterError, match="prompt"):
        call(client(server), mode, content="bad \udc80 text", endpoint="completions")
    assert server.requests == []
