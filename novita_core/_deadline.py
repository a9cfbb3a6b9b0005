"""A deadline on a whole HTTP attempt, not only on each socket read.

The HTTP library's ``timeout`` bounds each connect and each read: a server that sends one byte a
second never trips it. The async path wraps its awaits in ``asyncio.timeout_at``. The sync path
cannot interrupt a blocking read from outside, so the connection pool of the sync clients we
build gets a network backend whose streams clamp every read, write and connect to the time left
before the deadline of the attempt running on this thread (a context variable, set only around
our own reads; other requests on the same client are untouched).
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import sys
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "novita_deadline", default=None
)


# A class rather than a @contextmanager generator: a stream enters it once per chunk, and
# this is several times cheaper.
class deadline_at:  # lower case: used like the function it replaced
    """Bound the sync socket operations inside the block by ``time.monotonic()`` ``when``."""

    __slots__ = ("_token", "_when")

    def __init__(self, when: float | None) -> None:
        self._when = when

    def __enter__(self) -> None:
        self._token = _deadline.set(self._when)

    def __exit__(self, *exc_info: object) -> None:
        _deadline.reset(self._token)


async def within(awaitable: Awaitable[T], deadline: float | None) -> T:
    """Await ``awaitable``, cancelling it at the event loop's time ``deadline``.

    Raises:
        asyncio.TimeoutError: the deadline passed (``TimeoutError`` from Python 3.11 on).
    """
    if deadline is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        async with asyncio.timeout_at(deadline):
            return await awaitable
    remaining = deadline - asyncio.get_running_loop().time()  # pragma: no cover - Python 3.10
    return await asyncio.wait_for(awaitable, max(remaining, 0.0))  # pragma: no cover


def _clamp(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    when = _deadline.get()
    if when is None:
        return timeout
    left = when - time.monotonic()
    if left <= 0:
        raise timeout_error("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream:
    """A network stream whose operations end by the attempt's deadline."""

    __slots__ = ("_errors", "_stream")

    def __init__(self, stream: Any, errors: Any) -> None:
        self._stream = stream
        self._errors = errors

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._stream.read(max_bytes, _clamp(timeout, self._errors.ReadTimeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout, self._errors.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: Any = None
    ) -> Any:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _clamp(timeout, self._errors.ConnectTimeout)
        )
        return _DeadlineStream(stream, self._errors)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend:
    """Wraps a sync network backend so that its streams honour the attempt's deadline."""

    def __init__(self, backend: Any, errors: Any) -> None:
        self._backend = backend
        self._errors = errors

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, **kwargs: Any) -> Any:
        timeout = _clamp(timeout, self._errors.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, **kwargs)
        return _DeadlineStream(stream, self._errors)

    def connect_unix_socket(self, path: str, timeout: float | None = None, **kwargs: Any) -> Any:
        timeout = _clamp(timeout, self._errors.ConnectTimeout)
        stream = self._backend.connect_unix_socket(path, timeout, **kwargs)
        return _DeadlineStream(stream, self._errors)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def install(http_client: Any) -> bool:
    """Give the connection pools of a sync ``httpx``/``httpx2`` client the deadline backend.

    Returns whether every pool was reached; a client built differently keeps only the HTTP
    library's per-read timeout.
    """
    transports = [getattr(http_client, "_transport", None)]
    transports += list(getattr(http_client, "_mounts", {}).values())
    installed = True
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if pool is None or backend is None:
            installed = installed and transport is None
            continue
        if not isinstance(backend, _DeadlineBackend):
            errors = importlib.import_module(type(pool).__module__.partition(".")[0])
            pool._network_backend = _DeadlineBackend(backend, errors)
    return installed
