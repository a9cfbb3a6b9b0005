"""The README's "Errors and retries" table, proven per adapter and call form on the offline server.

Each row is one test parametrized over the driver table in ``drivers`` (ChatNovita, Novita,
NovitaAI chat and complete, both embedding classes; sync, async, stream and astream where the
adapter has them). Faults that are not about ``Retry-After`` carry ``retry-after-ms: 5`` so the
retries are quick, and the exponential backoff (used after resets and timeouts, which have no
header) is shortened by the drivers' ``QUICK_RETRIES`` policy.
"""

from __future__ import annotations

import time
import traceback
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
from novita_core.testing import Fault, OfflineNovitaServer
from tests.reliability.drivers import (
    ALL_DRIVERS,
    LLM_DRIVERS,
    NON_STREAM_DRIVERS,
    QUICK_BACKOFF,
    STREAM_DRIVERS,
    Driver,
)

pytestmark = pytest.mark.timeout(60)  # "no hang": every row is bounded

PROMPT = "alpha bravo charlie delta echo foxtrot golf hotel"
FAST = 5  # retry-after-ms on faults whose row is not about Retry-After
EMBEDDING_DIMENSIONS = 1024
BACKOFF = QUICK_BACKOFF


def ids(drivers: list[Driver]) -> list[str]:
    return [d.id for d in drivers]


def each(drivers: list[Driver]) -> Any:
    return pytest.mark.parametrize("driver", drivers, ids=ids(drivers))


def assert_correct(driver: Driver, answer: Any, prompt: str = PROMPT) -> None:
    if driver.embedding:
        assert isinstance(answer, list)
        assert len(answer) == EMBEDDING_DIMENSIONS
        assert all(isinstance(x, float) for x in answer)
    else:
        assert answer.strip() == driver.expected(prompt)


def assert_requests(server: OfflineNovitaServer, driver: Driver, count: int) -> None:
    sent = server.requests
    assert len(sent) == count, [r.path for r in sent]
    assert all(r.path.endswith(driver.path) for r in sent)
    if sent and not driver.embedding:
        assert all(r.json.get("stream", False) is driver.streaming for r in sent)


def rendered(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


# -- 429 with Retry-After: 1 -------------------------------------------------------------------


@each(ALL_DRIVERS)
def test_429_waits_for_retry_after_then_succeeds(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.status(429, retry_after=1), times=1)
    started = time.monotonic()
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 2})
    elapsed = time.monotonic() - started
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 2)
    assert 0.95 <= elapsed < 2.5, elapsed


# -- 500 / 502 / 503, then success --------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
@each(ALL_DRIVERS)
def test_transient_5xx_is_retried_then_succeeds(
    novita_server: OfflineNovitaServer, driver: Driver, status: int
) -> None:
    novita_server.inject(Fault.status(status, retry_after_ms=FAST), times=2)
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 3})
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 3)


@each(ALL_DRIVERS)
def test_5xx_without_retry_after_uses_backoff(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.status(502), times=2)
    started = time.monotonic()
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 2})
    elapsed = time.monotonic() - started
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 3)
    # Full jitter in [ceiling / 2, ceiling]: at least BACKOFF/2 + BACKOFF, at most 3 * BACKOFF.
    assert elapsed >= 1.5 * BACKOFF


# -- persistent 503 with max_retries=N ----------------------------------------------------------


@pytest.mark.parametrize("max_retries", [1, 3])
@each(ALL_DRIVERS)
def test_persistent_503_costs_n_plus_one_requests_then_typed_error(
    novita_server: OfflineNovitaServer, driver: Driver, max_retries: int
) -> None:
    message = "upstream pool exhausted (offline 503)"
    novita_server.inject(Fault.status(503, retry_after_ms=FAST, message=message), times=20)
    sink: list[str] = []
    with pytest.raises(openai.InternalServerError) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": max_retries}, sink=sink)
    assert info.value.status_code == 503
    assert message in str(info.value)
    assert "SERVICE_NOT_AVAILABLE" in str(info.value)
    assert_requests(novita_server, driver, max_retries + 1)
    assert sink == []


# -- connection reset before any response -------------------------------------------------------


@each(ALL_DRIVERS)
def test_connection_reset_is_retried_then_succeeds(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.reset(), times=2)
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 2})
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 3)


@each(ALL_DRIVERS)
def test_connection_reset_exhausting_retries_is_a_connection_error(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.reset(), times=10)
    with pytest.raises(openai.APIConnectionError) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": 1})
    assert not isinstance(info.value, openai.APITimeoutError)
    assert_requests(novita_server, driver, 2)


# -- a stream drops ------------------------------------------------------------------------------


@each(STREAM_DRIVERS)
def test_stream_cut_after_chunks_reached_caller_is_a_truncation_error(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.drop_stream(after_chunks=4), times=5)
    sink: list[str] = []
    result: list[Any] = []
    with pytest.raises(NovitaStreamError) as info:
        result.append(driver.run(novita_server, PROMPT, init={"max_retries": 3}, sink=sink))
    assert result == []  # no partial text returned as a success
    assert "".join(sink).strip(), "chunks had reached the caller before the cut"
    assert "".join(sink).strip() != driver.expected(PROMPT)
    assert "truncated" in str(info.value)
    assert "truncated" in rendered(info.value)
    assert_requests(novita_server, driver, 1)  # never retried once the caller had chunks


@each(STREAM_DRIVERS)
def test_stream_cut_before_first_chunk_is_retried(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.drop_stream(after_chunks=0), times=1)
    sink: list[str] = []
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 1}, sink=sink)
    assert_correct(driver, answer)
    assert "".join(sink).strip() == driver.expected(PROMPT)  # no duplicated text from attempt 1
    assert_requests(novita_server, driver, 2)


@each(NON_STREAM_DRIVERS)
def test_json_body_cut_short_is_retried(novita_server: OfflineNovitaServer, driver: Driver) -> None:
    novita_server.inject(Fault.drop_stream(), times=1)  # Content-Length promises more than sent
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 1})
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 2)


# -- stall past the timeout ---------------------------------------------------------------------


TIMEOUT = 0.3
SLACK = 0.6


@each(ALL_DRIVERS)
def test_stall_past_timeout_fails_within_timeout_times_attempts(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    max_retries = 1
    attempts = max_retries + 1
    novita_server.inject(Fault.stall(5.0), times=attempts + 2)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        driver.run(novita_server, PROMPT, init={"max_retries": max_retries, "timeout": TIMEOUT})
    elapsed = time.monotonic() - started
    assert_requests(novita_server, driver, attempts)
    assert TIMEOUT * attempts * 0.9 <= elapsed <= TIMEOUT * attempts + SLACK, elapsed


@each(ALL_DRIVERS)
def test_stall_shorter_than_timeout_is_just_slow(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.stall(0.1), times=1)
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 0, "timeout": 2.0})
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 1)


# -- malformed JSON body / malformed SSE line ---------------------------------------------------


@each(NON_STREAM_DRIVERS)
def test_malformed_json_body_is_a_clear_error_not_retried(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.malformed_json(), times=1)  # a retry would succeed
    with pytest.raises(NovitaResponseError) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": 3})
    assert "not a JSON object" in str(info.value)
    assert "chatcmpl-broken" in str(info.value)  # shows what arrived
    assert_requests(novita_server, driver, 1)
    # The process is fine: the next call on the same server works.
    assert_correct(driver, driver.run(novita_server, PROMPT, init={"max_retries": 0}))
    assert len(novita_server.requests) == 2


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        (Fault.malformed_sse(), "malformed SSE data line"),
        (Fault.malformed_json(), "ended before it was complete"),  # 200 JSON garbage, no SSE
    ],
    ids=["malformed_sse", "json_garbage_on_stream"],
)
@each(STREAM_DRIVERS)
def test_malformed_stream_is_a_clear_error_not_retried(
    novita_server: OfflineNovitaServer, driver: Driver, fault: Fault, needle: str
) -> None:
    novita_server.inject(fault, times=1)  # a retry would succeed
    result: list[Any] = []
    with pytest.raises(NovitaStreamError) as info:
        result.append(driver.run(novita_server, PROMPT, init={"max_retries": 3}))
    assert result == []
    assert needle in str(info.value)
    assert_requests(novita_server, driver, 1)
    assert_correct(driver, driver.run(novita_server, PROMPT, init={"max_retries": 0}))
    assert len(novita_server.requests) == 2


# -- 400 / 401 / 403 / 404 / 422 ----------------------------------------------------------------

CLIENT_ERRORS = [
    (400, openai.BadRequestError, "INVALID_REQUEST_BODY"),
    (401, openai.AuthenticationError, "FAILED_TO_AUTH"),
    (403, openai.PermissionDeniedError, "ACCESS_DENY"),
    (404, openai.NotFoundError, "MODEL_NOT_FOUND"),
    (422, openai.UnprocessableEntityError, None),
]


@pytest.mark.parametrize(
    ("status", "error", "reason"), CLIENT_ERRORS, ids=[str(c[0]) for c in CLIENT_ERRORS]
)
@each(ALL_DRIVERS)
def test_client_error_is_one_request_and_typed_with_novitas_message(
    novita_server: OfflineNovitaServer,
    driver: Driver,
    status: int,
    error: type[openai.APIStatusError],
    reason: str | None,
) -> None:
    message = f"novita refuses this ({status})"
    novita_server.inject(Fault.status(status, retry_after_ms=FAST, message=message), times=5)
    sink: list[str] = []
    with pytest.raises(error) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": 3}, sink=sink)
    assert info.value.status_code == status
    assert message in str(info.value)
    assert str(info.value).startswith(f"Error code: {status}")
    if reason:
        assert reason in str(info.value)
    assert_requests(novita_server, driver, 1)
    assert sink == []


@each(ALL_DRIVERS)
def test_wrong_key_is_401_from_the_server_one_request(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        driver.run(novita_server, PROMPT, init={"api_key": "sk-not-this-one", "max_retries": 3})
    assert "FAILED_TO_AUTH: failed to authenticate API key" in str(info.value)
    assert_requests(novita_server, driver, 1)
    assert not novita_server.requests[0].authorized


@each(LLM_DRIVERS)
def test_unknown_model_is_404_from_the_server(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    with pytest.raises(openai.NotFoundError, match="MODEL_NOT_FOUND"):
        driver.run(novita_server, PROMPT, init={"model": "nobody/no-such-model", "max_retries": 3})
    assert_requests(novita_server, driver, 1)


# -- invalid parameters: error before any request -----------------------------------------------


@each(LLM_DRIVERS)
def test_invalid_call_parameter_fails_before_any_request(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    with pytest.raises(InvalidParameterError, match="temperature"):
        driver.run(novita_server, PROMPT, call={"temperature": 9})
    with pytest.raises(InvalidParameterError, match="top_k"):
        driver.run(novita_server, PROMPT, call={"top_k": -3})
    assert novita_server.requests == []


INVALID_INIT: dict[str, dict[str, Any]] = {
    "ChatNovita": {"top_k": 0},
    "Novita": {"top_k": 0},
    "NovitaAI.chat": {"top_k": 0},
    "NovitaAI.complete": {"top_k": 0},
    "NovitaEmbeddings": {"dimensions": 0},
    "NovitaEmbedding": {"additional_kwargs": {"encoding_format": "base64"}},
}


@each([d for d in ALL_DRIVERS if d.mode in ("sync", "async")])
def test_invalid_constructor_parameter_fails_before_any_request(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    bad = INVALID_INIT[driver.adapter]
    (name,) = bad.get("additional_kwargs", bad)
    # InvalidParameterError, or pydantic's ValidationError wrapping it: both are ValueErrors
    # that name the parameter.
    with pytest.raises(ValueError, match=name):
        driver.run(novita_server, PROMPT, init=bad)
    assert novita_server.requests == []


# -- max_retries=0 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.status(503, retry_after_ms=FAST), openai.InternalServerError),
        (Fault.status(429, retry_after_ms=FAST), openai.RateLimitError),
        (Fault.reset(), openai.APIConnectionError),
    ],
    ids=["503", "429", "reset"],
)
@each(ALL_DRIVERS)
def test_max_retries_zero_is_exactly_one_request(
    novita_server: OfflineNovitaServer,
    driver: Driver,
    fault: Fault,
    error: type[Exception],
) -> None:
    novita_server.inject(fault, times=1)
    with pytest.raises(error):
        driver.run(novita_server, PROMPT, init={"max_retries": 0})
    assert_requests(novita_server, driver, 1)
    # The fault was transient: the very next call succeeds, still with one request.
    assert_correct(driver, driver.run(novita_server, PROMPT, init={"max_retries": 0}))
    assert len(novita_server.requests) == 2


# -- an error inside a 200 stream ---------------------------------------------------------------

STREAM_ERROR = "upstream model crashed (offline stream error)"


def answer_chunks(driver: Driver, count: int) -> list[dict[str, Any]]:
    """``count`` good chunks of the stream of ``driver``'s endpoint (chat or text completions)."""
    chat = driver.path.endswith("chat/completions")
    chunks = []
    for position in range(count):
        piece = f" word{position}"
        choice: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
        choice.update({"index": 0, "finish_reason": None})
        chunks.append({"id": "scripted", "created": 1, "model": "m", "choices": [choice]})
    return chunks


def error_event(code: int | str) -> dict[str, Any]:
    """The error event a provider sends inside a 200 stream."""
    choice = {"index": 0, "delta": {}, "finish_reason": "error"}
    error = {"message": STREAM_ERROR, "code": code}
    return {"id": "scripted", "model": "m", "error": error, "choices": [choice]}


@pytest.mark.parametrize("close", [False, True], ids=["then_done", "then_close"])
@each(STREAM_DRIVERS)
def test_error_inside_stream_after_chunks_is_a_typed_error_not_retried(
    novita_server: OfflineNovitaServer, driver: Driver, close: bool
) -> None:
    events = [*answer_chunks(driver, 3), error_event(503)]
    novita_server.script(stream=events, path=driver.path, done=not close, times=5)
    sink: list[str] = []
    result: list[Any] = []
    with pytest.raises(NovitaStreamServerError) as info:
        result.append(driver.run(novita_server, PROMPT, init={"max_retries": 3}, sink=sink))
    assert result == []
    assert "".join(sink).strip(), "chunks had reached the caller before the error"
    assert STREAM_ERROR in str(info.value)
    assert info.value.code == 503
    assert_requests(novita_server, driver, 1)  # never retried once the caller had chunks


@pytest.mark.parametrize(
    ("code", "requests"), [("content_filter", 1), (503, 2)], ids=["final", "retryable"]
)
@each(STREAM_DRIVERS)
def test_error_as_first_stream_event_is_typed_and_retried_only_for_a_retryable_code(
    novita_server: OfflineNovitaServer, driver: Driver, code: Any, requests: int
) -> None:
    novita_server.script(stream=[error_event(code)], path=driver.path)
    sink: list[str] = []
    if requests == 1:
        with pytest.raises(NovitaStreamServerError, match="before any chunk") as info:
            driver.run(novita_server, PROMPT, init={"max_retries": 3}, sink=sink)
        assert STREAM_ERROR in str(info.value)
        assert info.value.code == code
    else:
        answer = driver.run(novita_server, PROMPT, init={"max_retries": 3}, sink=sink)
        assert_correct(driver, answer)
    assert_requests(novita_server, driver, requests)


# -- a 200 whose body is an error object, or has no choices --------------------------------------


def script_error_body(
    server: OfflineNovitaServer,
    driver: Driver,
    message: str,
    code: int | str,
    *,
    flat: bool = False,
    times: int = 1,
) -> None:
    """Answer ``driver``'s next requests with HTTP 200 and an error object as the JSON body."""
    body: dict[str, Any] = {"error": {"message": message, "code": code, "type": "server_error"}}
    if flat:  # Novita's own flat error body
        body = {"code": code, "reason": code, "message": message}
    server.script(json=body, path=driver.path, times=times)


@pytest.mark.parametrize("flat", [False, True], ids=["envelope", "novita_flat"])
@each(ALL_DRIVERS)
def test_200_error_body_is_a_typed_error(
    novita_server: OfflineNovitaServer, driver: Driver, flat: bool
) -> None:
    # For a stream the one JSON body holds no SSE event: it must not read as "ended early".
    message = "quota of this key is used up (offline 200 error)"
    script_error_body(novita_server, driver, message, "QUOTA_EXCEEDED", flat=flat, times=5)
    with pytest.raises(NovitaServerError) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": 3})
    assert message in str(info.value)
    assert info.value.code == "QUOTA_EXCEEDED"
    assert_requests(novita_server, driver, 1)


@each(ALL_DRIVERS)
def test_200_error_body_with_a_retryable_code_is_retried(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    script_error_body(novita_server, driver, "busy", 503)
    assert_correct(driver, driver.run(novita_server, PROMPT, init={"max_retries": 1}))
    assert_requests(novita_server, driver, 2)


@each(LLM_DRIVERS)
def test_empty_choices_is_a_typed_error_not_an_empty_answer(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    empty = {"id": "scripted", "created": 1, "model": "m", "choices": []}
    if driver.streaming:
        novita_server.script(stream=[empty], path=driver.path, times=5)
    else:
        novita_server.script(json=empty, path=driver.path, times=5)
    error = NovitaStreamError if driver.streaming else NovitaResponseError
    result: list[Any] = []
    with pytest.raises(error, match="choice"):
        result.append(driver.run(novita_server, PROMPT, init={"max_retries": 3}))
    assert result == []
    assert_requests(novita_server, driver, 1)


# -- Retry-After that is garbage, or longer than max_retry_wait ----------------------------------


@each(ALL_DRIVERS)
def test_garbage_retry_after_falls_back_to_backoff(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.status(429, retry_after="soon, maybe"), times=2)
    answer = driver.run(novita_server, PROMPT, init={"max_retries": 2})
    assert_correct(driver, answer)
    assert_requests(novita_server, driver, 3)


@each(ALL_DRIVERS)
def test_retry_after_longer_than_max_retry_wait_raises_at_once(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    novita_server.inject(Fault.status(429, retry_after=86400), times=5)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": 3})
    assert time.monotonic() - started < 5
    assert info.value.retry_after == 86400  # type: ignore[attr-defined]
    assert_requests(novita_server, driver, 1)
    # The setting decides: a 1 s Retry-After is too long for max_retry_wait=0.5.
    novita_server.reset()
    novita_server.inject(Fault.status(429, retry_after=1), times=5)
    with pytest.raises(openai.RateLimitError) as info:
        driver.run(novita_server, PROMPT, init={"max_retries": 3, "max_retry_wait": 0.5})
    assert info.value.retry_after == 1  # type: ignore[attr-defined]
    assert_requests(novita_server, driver, 1)


# -- slow-loris: one byte at a time --------------------------------------------------------------

DRIP = 0.02  # seconds per byte: the answer would take several seconds, each read is quick


@each(ALL_DRIVERS)
def test_drip_fed_answer_is_cut_by_the_timeout_of_each_attempt(
    novita_server: OfflineNovitaServer, driver: Driver
) -> None:
    max_retries = 1
    attempts = max_retries + 1
    novita_server.inject(Fault.drip(DRIP), times=attempts + 2)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        driver.run(novita_server, PROMPT, init={"max_retries": max_retries, "timeout": TIMEOUT})
    elapsed = time.monotonic() - started
    assert_requests(novita_server, driver, attempts)
    assert elapsed <= TIMEOUT * attempts + SLACK + 0.5, elapsed
