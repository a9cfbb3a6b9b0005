"""What reaches the caller when the bytes on the wire are hostile, through both chat adapters.

Every test runs over the chat drivers of ``reliability.drivers`` (ChatNovita and NovitaAI;
sync, async, stream and astream) against :class:`hostile.server.HostileServer`, which scripts
every byte: split writes, chunked or EOF framing, resets, stalls and drip-feeds.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from typing import Any

import openai
import pytest

from novita_core import (
    InvalidParameterError,
    NovitaResponseError,
    NovitaServerError,
    NovitaStreamError,
    NovitaStreamServerError,
)
from tests.hostile.server import (
    API_KEY,
    Conn,
    HostileServer,
    Seen,
    chat_answer,
    chunk,
    data,
    head,
    hello_stream,
    json_answer,
    normal,
    sse_answer,
)
from tests.reliability.drivers import CHAT_PATH, LLM_DRIVERS, Driver

pytestmark = pytest.mark.timeout(60)

MODEL = "meta-llama/llama-3.3-70b-instruct"
CHAT = [d for d in LLM_DRIVERS if d.path == CHAT_PATH]
STREAMS = [d for d in CHAT if d.streaming]
CALLS = [d for d in CHAT if not d.streaming]
Start = Callable[..., HostileServer]


def each(drivers: list[Driver]) -> Any:
    return pytest.mark.parametrize("driver", drivers, ids=[d.id for d in drivers])


def run(
    driver: Driver,
    server: HostileServer,
    *,
    init: dict[str, Any] | None = None,
    call: dict[str, Any] | None = None,
    sink: list[str] | None = None,
    prompt: str = "Say hello",
) -> Any:
    settings = {"model": MODEL, "max_retries": 0, **(init or {})}
    return driver.run(server, prompt, init=settings, call=call, sink=sink)  # type: ignore[arg-type]


def send(payload: bytes, **options: Any) -> Callable[[Conn, Seen], None]:
    """Script: write ``payload`` (``pieces=``/``pause=`` as :meth:`Conn.send`)."""
    return lambda conn, seen: conn.send(payload, **options)


def rendered_with_locals(exc: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


# -- an error inside a 200 stream ---------------------------------------------------------------

ERROR = {"message": "the upstream model crashed", "code": "upstream_error"}
ERROR_EVENT = data({**chunk(finish="error"), "error": ERROR})


@pytest.mark.parametrize("ending", ["done", "close"])
@pytest.mark.parametrize("position", ["first", "after_chunks"])
@each(STREAMS)
def test_error_event_in_a_stream_is_a_typed_error_with_the_providers_message(
    hostile: Start, driver: Driver, position: str, ending: str
) -> None:
    before = data(chunk("Hel")) + data(chunk("lo")) if position == "after_chunks" else b""
    events = before + ERROR_EVENT
    answer = (
        sse_answer(events + data(b"[DONE]"))
        if ending == "done"
        else sse_answer(events, framing="eof")
    )
    server = hostile(send(answer, pieces=11))
    sink: list[str] = []
    result: list[Any] = []
    with pytest.raises(NovitaStreamServerError) as info:
        result.append(run(driver, server, sink=sink, init={"max_retries": 2}))
    assert result == []
    assert "the upstream model crashed" in str(info.value)
    assert info.value.code == "upstream_error"
    assert ("".join(sink) == "Hello") is (position == "after_chunks")
    assert len(server.requests) == 1  # the code is not a retryable status


@each(STREAMS)
def test_finish_reason_error_without_an_error_object_is_a_stream_error(
    hostile: Start, driver: Driver
) -> None:
    events = data(chunk("Hel")) + data(chunk(finish="error")) + data(b"[DONE]")
    server = hostile(send(sse_answer(events)))
    with pytest.raises(NovitaStreamError, match="error"):
        run(driver, server)


@each(STREAMS)
def test_first_event_error_with_a_retryable_code_is_retried(hostile: Start, driver: Driver) -> None:
    busy = data({"error": {"message": "overloaded", "code": 503}}) + data(b"[DONE]")
    server = hostile(send(sse_answer(busy)), lambda conn, seen: conn.send(normal(seen)))
    assert run(driver, server, init={"max_retries": 1}) == "Hello world"
    assert len(server.requests) == 2


# -- a 200 whose body is not an answer -----------------------------------------------------------

ERROR_BODIES = {
    "envelope": {"error": {"message": "key suspended", "code": "ACCOUNT_SUSPENDED"}},
    "novita_flat": {"code": "ACCOUNT_SUSPENDED", "reason": "SUSPENDED", "message": "key suspended"},
}


@pytest.mark.parametrize("shape", list(ERROR_BODIES))
@each(CALLS)
def test_200_error_body_is_a_typed_error(hostile: Start, driver: Driver, shape: str) -> None:
    server = hostile(send(json_answer(ERROR_BODIES[shape]), pieces=3))
    with pytest.raises(NovitaServerError) as info:
        run(driver, server, init={"max_retries": 2})
    assert "key suspended" in str(info.value)
    assert info.value.code == "ACCOUNT_SUSPENDED"
    assert len(server.requests) == 1


@pytest.mark.parametrize("choices", [[], None], ids=["empty", "missing"])
@each(CALLS)
def test_200_without_choices_is_a_typed_error(hostile: Start, driver: Driver, choices: Any) -> None:
    body = {**chat_answer(), "choices": choices}
    if choices is None:
        del body["choices"]
    server = hostile(send(json_answer(body)))
    with pytest.raises(NovitaResponseError, match="without any choice"):
        run(driver, server)


# -- SSE as the spec writes it -------------------------------------------------------------------


def _multi_line(obj: Any) -> bytes:
    lines = json.dumps(obj, indent=1).split("\n")
    return b"".join(b"data: " + line.encode() + b"\n" for line in lines) + b"\n"


def _variant(name: str) -> bytes:
    hello, world, stop = chunk("Hello"), chunk(" world"), chunk(finish="stop")
    if name == "blank_data_lines":
        return (
            b"data:\n\n"
            + b"data:\n"
            + data(hello)
            + b"data:\ndata:\n\n"
            + data(world)
            + (data(stop) + data(b"[DONE]"))
        )
    if name == "cr_only":
        return hello_stream().replace(b"\n", b"\r")
    if name == "multi_line_json":
        return _multi_line(hello) + _multi_line(world) + _multi_line(stop) + data(b"[DONE]")
    if name == "comments_event_id":
        return (
            b": keep-alive\n\nevent: message\nid: 7\nretry: 100\n"
            + data(hello)
            + (b"id: 8\n" + data(world) + b": ping\n" + data(stop) + data(b"[DONE]"))
        )
    if name == "crlf":
        return hello_stream().replace(b"\n", b"\r\n")
    if name == "no_space_after_colon":
        return hello_stream().replace(b"data: ", b"data:")
    raise AssertionError(name)


VARIANTS = [
    "blank_data_lines",
    "cr_only",
    "multi_line_json",
    "comments_event_id",
    "crlf",
    "no_space_after_colon",
]


@pytest.mark.parametrize("pieces", [1, 4, None], ids=["byte_writes", "4_byte_writes", "one_write"])
@pytest.mark.parametrize("framing", ["chunked", "eof"])
@pytest.mark.parametrize("variant", VARIANTS)
@each(STREAMS)
def test_valid_sse_is_read_whatever_its_line_endings_and_splits(
    hostile: Start, driver: Driver, variant: str, framing: str, pieces: int | None
) -> None:
    server = hostile(send(sse_answer(_variant(variant), framing=framing), pieces=pieces))
    assert run(driver, server) == "Hello world"


# -- Retry-After ---------------------------------------------------------------------------------

RATE_LIMITED = {"code": 429, "reason": "RATE_LIMIT_EXCEEDED", "message": "slow down"}


@each(CHAT)
def test_garbage_retry_after_is_ignored_and_backoff_used(hostile: Start, driver: Driver) -> None:
    limited = json_answer(RATE_LIMITED, 429, [("Retry-After", "soon, maybe")])
    server = hostile(send(limited), lambda conn, seen: conn.send(normal(seen)))
    assert run(driver, server, init={"max_retries": 1}) == "Hello world"
    assert len(server.requests) == 2


@each(CHAT)
def test_retry_after_beyond_max_retry_wait_raises_at_once_with_retry_after(
    hostile: Start, driver: Driver
) -> None:
    server = hostile(send(json_answer(RATE_LIMITED, 429, [("Retry-After", "86400")])))
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as info:
        run(driver, server, init={"max_retries": 3})
    assert time.monotonic() - started < 5
    assert info.value.retry_after == 86400  # type: ignore[attr-defined]
    assert "slow down" in str(info.value)
    assert len(server.requests) == 1


# -- timeout bounds a whole attempt --------------------------------------------------------------

TIMEOUT = 0.6
LATE = TIMEOUT + 1.5  # generous: two cores shared by the whole test run


def _drip_all(conn: Conn, seen: Seen) -> None:
    conn.drip(normal(seen), 0.05)


def _drip_body(conn: Conn, seen: Seen) -> None:
    whole = normal(seen)
    cut = whole.index(b"\r\n\r\n") + 4
    conn.send(whole[:cut])
    conn.drip(whole[cut:], 0.05)


@pytest.mark.parametrize("script", [_drip_all, _drip_body], ids=["headers_drip", "body_drip"])
@each(CHAT)
def test_drip_feed_cannot_keep_a_call_alive_past_its_timeout(
    hostile: Start, driver: Driver, script: Callable[[Conn, Seen], None]
) -> None:
    server = hostile(script)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        run(driver, server, init={"timeout": TIMEOUT})
    assert time.monotonic() - started < LATE


def _drip_after_first_event(conn: Conn, seen: Seen) -> None:
    events = hello_stream()
    first = events.index(b"\n\n") + 2
    conn.send(head(content_type="text/event-stream") + events[:first])
    conn.drip(events[first:], 0.05)


@each(STREAMS)
def test_drip_feed_between_events_ends_the_stream_by_its_timeout(
    hostile: Start, driver: Driver
) -> None:
    server = hostile(_drip_after_first_event)
    sink: list[str] = []
    started = time.monotonic()
    with pytest.raises(NovitaStreamError, match="truncated"):
        run(driver, server, init={"timeout": TIMEOUT}, sink=sink)
    assert time.monotonic() - started < LATE
    assert "".join(sink) == "Hello"


def _steady_slow_stream(conn: Conn, seen: Seen) -> None:
    conn.send(head(content_type="text/event-stream"))
    for word in ("One", " two", " three", " four"):
        conn.stall(TIMEOUT / 2)
        conn.send(data(chunk(word)))
    conn.send(data(chunk(finish="stop")) + data(b"[DONE]"))


@each(STREAMS)
def test_a_steady_slow_stream_longer_than_the_timeout_is_not_cut(
    hostile: Start, driver: Driver
) -> None:
    server = hostile(_steady_slow_stream)
    assert run(driver, server, init={"timeout": TIMEOUT}) == "One two three four"


# -- the API key never shows in the locals of a traceback ----------------------------------------


def _cut_stream(conn: Conn, seen: Seen) -> None:
    conn.send(head(content_type="text/event-stream") + data(chunk("Hel")))
    conn.reset()


FAILURES: dict[str, tuple[Callable[[Conn, Seen], None], type[Exception]]] = {
    "status_401": (send(json_answer({"message": "bad key"}, 401)), openai.AuthenticationError),
    "status_500": (send(json_answer({"message": "boom"}, 500)), openai.InternalServerError),
    "reset": (lambda conn, seen: conn.reset(), openai.APIConnectionError),
    "timeout": (lambda conn, seen: conn.stall(5), openai.APITimeoutError),
    "stream_error": (send(sse_answer(ERROR_EVENT)), openai.APIError),
    "stream_cut": (_cut_stream, openai.APIError),
}


@pytest.mark.parametrize("failure", list(FAILURES))
@each(CHAT)
def test_api_key_is_not_in_traceback_locals(hostile: Start, driver: Driver, failure: str) -> None:
    script, error = FAILURES[failure]
    if failure.startswith("stream") and not driver.streaming:
        pytest.skip("a stream failure needs a stream")
    server = hostile(script)
    with pytest.raises(error) as info:
        run(driver, server, init={"timeout": TIMEOUT, "max_retries": 1})
    text = rendered_with_locals(info.value)
    assert API_KEY not in text
    assert API_KEY not in "".join(traceback.format_exception(info.value))


# -- bad input fails before any request ----------------------------------------------------------


@each(CHAT)
def test_lone_surrogate_is_a_clear_error_before_any_request(hostile: Start, driver: Driver) -> None:
    server = hostile(lambda conn, seen: conn.send(normal(seen)))
    with pytest.raises(InvalidParameterError, match=r"U\+D800.*surrogate") as info:
        run(driver, server, prompt="broken \ud800 text")
    assert "messages" in str(info.value)
    assert server.requests == []


@each(CHAT)
def test_logit_bias_keys_must_be_token_ids(hostile: Start, driver: Driver) -> None:
    server = hostile(lambda conn, seen: conn.send(normal(seen)))
    with pytest.raises(InvalidParameterError, match="token ids"):
        run(driver, server, call={"logit_bias": {"hello": 5}})
    assert server.requests == []
    assert run(driver, server, call={"logit_bias": {"50256": -100, 13: 5}}) == "Hello world"
    assert server.requests[0].json["logit_bias"] == {"50256": -100, "13": 5}


@each(CHAT)
def test_drip_feed_is_cut_with_a_connect_read_timeout_pair(hostile: Start, driver: Driver) -> None:
    server = hostile(_drip_all)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        run(driver, server, init={"timeout": (0.3, TIMEOUT)})
    assert time.monotonic() - started < LATE + 0.3
