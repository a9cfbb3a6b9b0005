"""What each fault sends: the bytes that replace or change the normal answer.

:func:`act` applies the faults that act before routing (statuses, resets, stalls, redirects,
drip-feeding); :func:`send_answer`, :func:`send_json` and :func:`send_events` send an answer
with the faults that change it (a cut body or stream, a broken event).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol

from novita_core.testing._http import Responder, StreamEnd, sse
from novita_core.testing.faults.header import Fault, header_value
from novita_core.testing.replies import dumps, error_body

__all__ = ["Plan", "act", "send_answer", "send_events", "send_json"]


FaultAction = Callable[[Fault, bool, Responder], Awaitable[bool | None]]


async def _status(fault: Fault, streaming: bool, responder: Responder) -> bool:
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("Retry-After", header_value(fault.retry_after)))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", str(fault.retry_after_ms)))
    message = fault.message or f"offline server injected HTTP {fault.status_code}"
    body = error_body(fault.status_code, message, fault.reason)
    return await responder.send(fault.status_code, dumps(body), headers)


async def _drip(fault: Fault, streaming: bool, responder: Responder) -> None:
    responder.writer = DripWriter(responder.writer, fault.seconds)


async def _reset(fault: Fault, streaming: bool, responder: Responder) -> bool:
    return responder.abort()


_ACTIONS: dict[str, FaultAction] = {
    "status": _status,
    "stall": lambda fault, streaming, responder: asyncio.sleep(fault.seconds),
    "drip": _drip,
    "reset": _reset,
    "redirect": lambda fault, streaming, responder: responder.send(
        fault.status_code, b"", [("Location", fault.location or "/")]
    ),
    "malformed_json": lambda fault, streaming, responder: responder.send(
        200, b'{"id": "chatcmpl-broken", "choices": ['
    ),
}
"""Fault kind -> what it does before routing (the kinds absent here change the answer itself)."""


async def act(fault: Fault, streaming: bool, responder: Responder) -> bool | None:
    """Apply ``fault`` before the request is routed.

    Returns:
        None when the request goes on to be answered (perhaps later, or slower); otherwise the
        response was sent, and whether the connection stays open.
    """
    action = _ACTIONS.get(fault.kind)
    return None if action is None else await action(fault, streaming, responder)


def shape_stream(fault: Fault | None, events: Iterable[bytes]) -> tuple[Iterable[bytes], StreamEnd]:
    """The events a stream sends under ``fault``, and how the stream ends."""
    if fault is None:
        return events, "done"
    if fault.kind == "drop_stream":
        return itertools.islice(events, fault.after_chunks), "cut"
    if fault.kind == "malformed_sse":
        return _broken_second(events), "done"
    return events, "done"


class Plan(Protocol):
    """A planned reply that renders as one JSON object or as a stream of chunks."""

    def response(self) -> dict[str, Any]:
        """The non-stream answer."""
        ...

    def encoded_chunks(self) -> Iterator[bytes]:
        """The stream's chunks as JSON bytes."""
        ...


async def send_json(
    responder: Responder,
    status: int,
    payload: Any,
    fault: Fault | None,
    headers: Iterable[tuple[str, str]] = (),
) -> bool:
    """Send ``payload`` (nothing when None), cut in the middle under ``drop_stream``."""
    data = b"" if payload is None else dumps(payload)
    if fault is not None and fault.kind == "drop_stream":
        return await responder.send_truncated(data)
    return await responder.send(status, data, list(headers))


async def send_events(
    responder: Responder,
    events: Iterable[bytes],
    fault: Fault | None,
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
    done: bool = True,
) -> bool:
    """Stream framed SSE ``events`` as ``fault`` shapes them, ending with ``[DONE]`` if ``done``."""
    shaped, end = shape_stream(fault, events)
    if end == "done" and not done:
        end = "eof"
    return await responder.send_events(shaped, end, status, list(headers))


async def send_answer(
    responder: Responder, answer: dict[str, Any] | Plan, streaming: bool, fault: Fault | None
) -> bool:
    """Send an endpoint's answer (a plan streams when asked)."""
    if isinstance(answer, dict):
        return await send_json(responder, 200, answer, fault)
    if streaming:
        return await send_events(responder, map(sse, answer.encoded_chunks()), fault)
    return await send_json(responder, 200, answer.response(), fault)


def _broken_second(events: Iterable[bytes]) -> Iterator[bytes]:
    for position, event in enumerate(events):
        if position == 1:
            yield sse(b'{"id": "broken", "choices": [{"delta": ')
        yield event


class DripWriter:
    """Stands in for the connection's ``StreamWriter``: sends everything one byte at a time.

    Args:
        writer: The real writer.
        interval: Seconds between two bytes.
    """

    def __init__(self, writer: asyncio.StreamWriter, interval: float) -> None:
        self._writer = writer
        self._interval = interval
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        """Queue ``data``; :meth:`drain` sends it."""
        self._pending += data

    async def drain(self) -> None:
        """Send the queued bytes one by one, stopping quietly when the client hangs up."""
        data, self._pending = bytes(self._pending), bytearray()
        with contextlib.suppress(ConnectionError):
            for index in range(len(data)):
                if self._writer.transport.is_closing():
                    return
                self._writer.write(data[index : index + 1])
                await self._writer.drain()
                await asyncio.sleep(self._interval)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)
