"""Scripted replies: exact responses a test queues, sent instead of the heuristic ones.

Like a respx route, a scripted reply matches requests by path suffix (and optionally by
``model``); the first queued reply that matches answers the request and is used up. Requests
nothing matches get the heuristic replies. Queue them with
:meth:`~novita_core.testing.OfflineNovitaServer.script`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from novita_core.testing._http import sse
from novita_core.testing.replies.common import dumps

__all__ = ["MatchQueue", "ScriptedReply"]

T = TypeVar("T")


@dataclass(frozen=True)
class ScriptedReply:
    r"""One exact response.

    Args:
        path: Requests whose path ends with this suffix match.
        model: Only requests for this model match (any model when None).
        status: HTTP status.
        json: The JSON body (unused for a stream).
        events: For a stream: its SSE events, framed (``data: ...\n\n``).
        headers: Extra response headers.
        done: End the stream with ``data: [DONE]``.

    Example:
        >>> reply = ScriptedReply.build(path="/chat/completions", stream=[{"choices": []}])
        >>> reply.events
        (b'data: {"choices":[]}\n\n',)
    """

    path: str
    model: str | None = None
    status: int = 200
    json: Any = None
    events: tuple[bytes, ...] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    done: bool = True

    @classmethod
    def build(
        cls,
        *,
        path: str,
        json: Any = None,
        stream: Iterable[Mapping[str, Any] | bytes | str] | None = None,
        model: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        done: bool = True,
    ) -> ScriptedReply:
        """A reply from friendly arguments: ``stream`` items are chunk dicts or raw SSE text.

        Raises:
            ValueError: Both or neither of ``json`` and ``stream`` given for a 2xx reply.
        """
        if json is not None and stream is not None:
            raise ValueError("a scripted reply has a json body or a stream, not both")
        if json is None and stream is None and 200 <= status < 300:
            raise ValueError("a scripted 2xx reply needs json=... or stream=[...]")
        events = None if stream is None else tuple(_event(item) for item in stream)
        return cls(
            path=path,
            model=model,
            status=status,
            json=json,
            events=events,
            headers=tuple((headers or {}).items()),
            done=done,
        )

    def matches(self, path: str, body: Any) -> bool:
        """Whether this reply answers a request for ``path`` with JSON ``body``."""
        if not path.rstrip("/").endswith(self.path.rstrip("/")):
            return False
        return self.model is None or (isinstance(body, dict) and body.get("model") == self.model)


def _event(item: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return sse(dumps(item))


class MatchQueue(Generic[T]):
    """Queued items used up in order: the first one that matches a request is taken (thread-safe).

    The server keeps its scripted replies and its injected faults in one each.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[T] = []

    def add(self, item: T, times: int = 1) -> None:
        """Queue ``item`` for the next ``times`` matching requests."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._queue.extend([item] * times)

    def take(self, matches: Callable[[T], bool]) -> T | None:
        """Remove and return the first item ``matches`` accepts, if any."""
        with self._lock:
            for position, item in enumerate(self._queue):
                if matches(item):
                    return self._queue.pop(position)
        return None

    def pending(self) -> list[T]:
        """The items not used yet, in order (one entry per remaining use)."""
        with self._lock:
            return list(self._queue)

    def clear(self) -> None:
        """Forget every queued item."""
        with self._lock:
            self._queue.clear()
