"""The only retry layer (tenacity). The ``openai`` clients are built with ``max_retries=0``.

What is retried: HTTP 408, 409, 429 and 5xx, connection errors and timeouts, and a 200 answer whose
body (or first stream event) is an error object with one of those statuses as its ``code``. Never
400, 401, 403, 404 or 422, and never a stream once a chunk reached the caller. ``max_retries=N``
means at most ``N + 1`` HTTP requests. The wait honours ``retry-after-ms`` / ``Retry-After`` when
the server sends them (a value that is neither seconds nor a date is ignored), else exponential
backoff with full jitter. When the server asks for a longer wait than ``max_retry_wait`` the
error is raised at once, carrying the requested seconds as ``retry_after``.
"""

from __future__ import annotations

import email.utils
import logging
import random
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
from novita_core.settings import DEFAULT_MAX_RETRY_WAIT

logger = logging.getLogger("novita_core")

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
INITIAL_BACKOFF = 0.25
MAX_BACKOFF = 8.0


def is_retryable_status(status: object) -> bool:
    """Whether an HTTP status (or a provider error ``code`` that is one) is worth repeating."""
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int):
        return False
    return status in RETRYABLE_STATUS or 500 <= status < 600


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt may be repeated."""
    if isinstance(exc, NovitaServerError):
        return exc.retryable
    if isinstance(exc, NovitaStreamError):
        return False
    if isinstance(exc, openai.APIStatusError):
        return is_retryable_status(exc.status_code)
    return isinstance(exc, openai.APIConnectionError)  # includes APITimeoutError


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


def backoff_seconds(state: RetryCallState) -> float:
    """Wait before the next attempt: the server's Retry-After, else full-jitter exponential."""
    exc = state.outcome.exception() if state.outcome else None
    requested = retry_after_seconds(exc)
    if requested is not None:
        return requested
    ceiling = min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (state.attempt_number - 1))
    return random.uniform(ceiling / 2, ceiling)


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "Novita request failed (%s); retry %d in %.2fs",
        _describe(exc),
        state.attempt_number,
        wait,
    )


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__ if exc else "unknown"


def _policy(max_retries: int, max_retry_wait: float) -> dict[str, Any]:
    def should_retry(exc: BaseException) -> bool:
        if not is_retryable(exc):
            return False
        requested = retry_after_seconds(exc)
        return requested is None or requested <= max_retry_wait

    return {
        "stop": stop_after_attempt(max_retries + 1),
        "wait": backoff_seconds,
        "retry": retry_if_exception(should_retry),
        "before_sleep": _log_retry,
        "reraise": True,
    }


def call_with_retry(
    fn: Callable[[], T], max_retries: int, max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
) -> T:
    """Run ``fn`` with at most ``max_retries`` retries under the shared policy.

    A retryable error whose server-requested wait exceeds ``max_retry_wait`` seconds is raised
    at once.
    """
    if max_retries == 0:
        return fn()
    return Retrying(**_policy(max_retries, max_retry_wait))(fn)


async def acall_with_retry(
    fn: Callable[[], Awaitable[T]], max_retries: int, max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
) -> T:
    """Async twin of :func:`call_with_retry` (same policy, ``asyncio.sleep`` between attempts)."""
    if max_retries == 0:
        return await fn()
    result: T = await AsyncRetrying(**_policy(max_retries, max_retry_wait))(fn)
    return result
