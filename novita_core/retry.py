"""The only retry layer (tenacity). The ``openai`` clients are built with ``max_retries=0``.

What is retried and how long to wait is the settings' :class:`~novita_core.retry_policy.RetryPolicy`
(by default: HTTP 408, 409, 429 and 5xx, connection errors and timeouts, and a 200 answer whose
body (or first stream event) is an error object with one of those statuses as its ``code``; never
400, 401, 403, 404 or 422, and never a stream once a chunk reached the caller). ``max_retries=N``
means at most ``N + 1`` HTTP requests. The wait honours ``retry-after-ms`` / ``Retry-After`` when
the server sends them (a value that is neither seconds nor a date is ignored), else the policy's
jittered exponential backoff. When the server asks for a longer wait than ``max_retry_wait`` the
error is raised at once, carrying the requested seconds as ``retry_after``. Each retry is logged
and, when the caller passes ``on_retry``, reported to it (before the sleep) with tenacity's
:class:`~tenacity.RetryCallState`.
"""

from __future__ import annotations

import email.utils
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from novita_core._sdk_errors import NovitaServerError, NovitaStreamError
from novita_core.retry_policy import DEFAULT_RETRY_POLICY, RetryPolicy

logger = logging.getLogger("novita_core")

T = TypeVar("T")

OnRetry = Callable[[RetryCallState], Any]
"""Told of each retry before its sleep; an async caller's may return an awaitable."""


def is_retryable_status(status: object, policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> bool:
    """Whether an HTTP status (or a provider error ``code`` that is one) is worth repeating."""
    return policy.retries_status(status)


def is_retryable(exc: BaseException, policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> bool:
    """Whether a failed attempt may be repeated under ``policy``."""
    if isinstance(exc, NovitaServerError):
        return exc.retryable and policy.retries_status(exc.code)
    if isinstance(exc, NovitaStreamError):
        return False
    if isinstance(exc, openai.APIStatusError):
        return policy.retries_status(exc.status_code)
    # includes APITimeoutError
    return policy.connection_errors and isinstance(exc, openai.APIConnectionError)


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The server's requested wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or date).

    None when there is no such header or its value is neither a number nor an HTTP date.
    """
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    seconds = _seconds(value)
    if seconds is not None or not value:
        return seconds
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # garbage: use the backoff
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return None  # NaN, negative or infinite: ignore the header
    return seconds


def backoff_seconds(state: RetryCallState, policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> float:
    """Wait before the next attempt: the server's Retry-After, else the policy's backoff."""
    exc = state.outcome.exception() if state.outcome else None
    requested = retry_after_seconds(exc)
    if requested is not None:
        return requested
    return policy.backoff(state.attempt_number)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "Novita request failed (%s); retry %d in %.2fs",
        describe_failure(exc),
        state.attempt_number,
        wait,
    )


def describe_failure(exc: BaseException | None) -> str:
    """A short, key-free name for a failed attempt (``HTTP 429``, ``APITimeoutError``)."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__ if exc else "unknown"


def _should_retry(exc: BaseException, policy: RetryPolicy) -> bool:
    if not is_retryable(exc, policy):
        return False
    requested = retry_after_seconds(exc)
    return requested is None or requested <= policy.max_retry_wait


def _tenacity_args(max_retries: int, policy: RetryPolicy, before_sleep: OnRetry) -> dict[str, Any]:
    def wait(state: RetryCallState) -> float:
        return backoff_seconds(state, policy)

    return {
        "stop": stop_after_attempt(max_retries + 1),
        "wait": wait,
        "retry": retry_if_exception(lambda exc: _should_retry(exc, policy)),
        "before_sleep": before_sleep,
        "reraise": True,
    }


# Most calls succeed on their first attempt, which therefore runs without tenacity: building and
# running its state machine costs about as much as all our request building. A retryable first
# failure is then replayed as tenacity's attempt 1, so that the attempt numbers, waits, logs and
# ``on_retry`` calls are those of running every attempt under tenacity.


def _replay(fn: Callable[[], T], failure: Exception) -> Callable[[], T]:
    """``fn`` whose first call raises ``failure`` (the attempt that already failed)."""
    pending = [failure]

    def attempt() -> T:
        if pending:
            raise pending.pop()
        return fn()

    return attempt


def _areplay(fn: Callable[[], Awaitable[T]], failure: Exception) -> Callable[[], Awaitable[T]]:
    """Async twin of :func:`_replay`."""
    pending = [failure]

    async def attempt() -> T:
        if pending:
            raise pending.pop()
        return await fn()

    return attempt


def call_with_retry(
    fn: Callable[[], T],
    max_retries: int,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    on_retry: OnRetry | None = None,
) -> T:
    """Run ``fn`` with at most ``max_retries`` retries under ``policy``.

    A retryable error whose server-requested wait exceeds the policy's ``max_retry_wait``
    seconds is raised at once. ``on_retry`` is called with tenacity's state before each sleep.
    """
    try:
        return fn()
    except Exception as exc:
        if max_retries == 0 or not _should_retry(exc, policy):
            raise
        replay = _replay(fn, exc)
    before_sleep: OnRetry = _log_retry
    if on_retry is not None:

        def before_sleep(state: RetryCallState) -> None:
            _log_retry(state)
            on_retry(state)

    return Retrying(**_tenacity_args(max_retries, policy, before_sleep))(replay)


async def acall_with_retry(
    fn: Callable[[], Awaitable[T]],
    max_retries: int,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    on_retry: OnRetry | None = None,
) -> T:
    """Async twin of :func:`call_with_retry`: ``asyncio.sleep`` between attempts.

    An ``on_retry`` that returns an awaitable is awaited.
    """
    try:
        return await fn()
    except Exception as exc:
        if max_retries == 0 or not _should_retry(exc, policy):
            raise
        replay = _areplay(fn, exc)
    before_sleep: OnRetry = _log_retry
    if on_retry is not None:

        async def before_sleep(state: RetryCallState) -> None:
            _log_retry(state)
            told = on_retry(state)
            if inspect.isawaitable(told):
                await told

    result: T = await AsyncRetrying(**_tenacity_args(max_retries, policy, before_sleep))(replay)
    return result
