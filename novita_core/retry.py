"""The only retry layer (tenacity). The ``openai`` clients are built with ``max_retries=0``.

What is retried: HTTP 408, 409, 429 and 5xx, connection errors and timeouts. Never 400, 401, 403,
404 or 422, and never a stream once a chunk reached the caller. ``max_retries=N`` means at most
``N + 1`` HTTP requests. The wait honours ``retry-after-ms`` / ``Retry-After`` when the server
sends them (capped at :data:`MAX_RETRY_AFTER`), else exponential backoff with full jitter.
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

from novita_core._sdk_errors import NovitaStreamError

logger = logging.getLogger("novita_core")

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
INITIAL_BACKOFF = 0.25
MAX_BACKOFF = 8.0
MAX_RETRY_AFTER = 60.0


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed attempt may be repeated."""
    if isinstance(exc, NovitaStreamError):
        return False
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError)  # includes APITimeoutError


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The server's requested wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return _clamp(float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _clamp(float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return _clamp(parsed.timestamp() - time.time()) if parsed else None


def _clamp(seconds: float) -> float | None:
    if seconds != seconds or seconds < 0:  # NaN or negative: ignore the header
        return None
    return min(seconds, MAX_RETRY_AFTER)


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


def _policy(max_retries: int) -> dict[str, Any]:
    return {
        "stop": stop_after_attempt(max_retries + 1),
        "wait": backoff_seconds,
        "retry": retry_if_exception(is_retryable),
        "before_sleep": _log_retry,
        "reraise": True,
    }


def call_with_retry(fn: Callable[[], T], max_retries: int) -> T:
    """Run ``fn`` with at most ``max_retries`` retries under the shared policy."""
    if max_retries == 0:
        return fn()
    return Retrying(**_policy(max_retries))(fn)


async def acall_with_retry(fn: Callable[[], Awaitable[T]], max_retries: int) -> T:
    """Async twin of :func:`call_with_retry` (same policy, ``asyncio.sleep`` between attempts)."""
    if max_retries == 0:
        return await fn()
    result: T = await AsyncRetrying(**_policy(max_retries))(fn)
    return result
