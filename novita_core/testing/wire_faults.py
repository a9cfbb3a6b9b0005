"""The offline server's answers for the wire faults.

Error objects in a 200, empty choices, errors inside a stream, and a drip-fed (slow-loris)
response.

Used by :mod:`novita_core.testing.server` for the ``error_body``, ``empty_choices``,
``stream_error`` and ``drip`` kinds of :class:`~novita_core.testing.Fault`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from novita_core.testing.replies import dumps, reason_for_status


def error_object(message: str, code: int | str | None, *, flat: bool) -> dict[str, Any]:
    """A 200 error body: OpenAI's ``{"error": {...}}`` envelope, or Novita's flat body.

    Args:
        message: The provider's message.
        code: The provider's code (a status number or a token).
        flat: Novita's flat ``{"code", "reason", "message"}`` instead of the envelope.
    """
    if flat:
        reason = reason_for_status(code) if isinstance(code, int) else code
        return {"code": code, "reason": reason, "message": message}
    return {"error": {"message": message, "code": code, "type": "server_error"}}


def stream_error_event(message: str, code: int | str | None, model: str) -> bytes:
    """The error event a provider sends inside a 200 stream (with ``finish_reason: "error"``)."""
    return dumps(
        {
            "id": "chatcmpl-stream-error",
            "object": "chat.completion.chunk",
            "model": model,
            "error": {"message": message, "code": code},
            "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}],
        }
    )


def empty_choices(answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with ``choices: []``."""
    return {**answer, "choices": []}


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
