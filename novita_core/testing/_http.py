"""HTTP/1.1 and server-sent-event framing for the offline server: reading requests, writing replies.

Nothing here knows about Novita: :func:`read_request` parses one request off a connection and
:class:`Responder` writes one response (a body, a chunked event stream, a cut body or an RST).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from http.client import responses
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

__all__ = ["MAX_HEADER_BYTES", "HttpRequest", "Responder", "StreamEnd", "read_request", "sse"]

MAX_HEADER_BYTES = 64 * 1024

StreamEnd = Literal["done", "eof", "cut"]
"""How an event stream ends: ``data: [DONE]``, the end of the body without it, or a cut
connection (no terminating chunk)."""

_FLUSH_EVERY = 64


@dataclass
class HttpRequest:
    """One parsed request.

    Args:
        method: Upper-case method.
        path: Path without the query string, percent-decoded.
        query: Query string (without ``?``).
        version: ``HTTP/1.1`` or ``HTTP/1.0``.
        headers: Headers with lower-case names.
        body: The body, de-chunked.
    """

    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        """Whether the client wants the connection kept open after this response."""
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> HttpRequest | None:
    """Read the next request of a connection; None when it closed or sent garbage (answered)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        writer.write(_plain(431, b"request header too large"))
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        writer.write(_plain(400, b"bad request line"))
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length else b""
    split = urlsplit(target)
    return HttpRequest(
        method=method.upper(),
        path=unquote(split.path) if "%" in split.path else split.path,
        query=split.query,
        version=version,
        headers=headers,
        body=body,
    )


def sse(data: bytes) -> bytes:
    """One server-sent event carrying ``data``."""
    return b"data: " + data + b"\n\n"


class Responder:
    """Writes the response to one request.

    Every method returns whether the connection may serve another request.

    Args:
        writer: The connection's writer (a fault may swap it for a slower one).
        keep_alive: Whether the client asked to keep the connection.
        chunk_delay: Seconds between two events of a stream.
    """

    def __init__(
        self, writer: asyncio.StreamWriter, keep_alive: bool, chunk_delay: float = 0.0
    ) -> None:
        self.writer: Any = writer
        """Where the bytes go."""
        self.keep_alive = keep_alive
        """Whether the connection stays open after a complete response."""
        self.chunk_delay = chunk_delay
        """Seconds between two events of a stream."""

    async def send(
        self,
        status: int,
        data: bytes,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> bool:
        """Send a complete response with a ``Content-Length``."""
        self.writer.write(_head(status, content_type, self.keep_alive, len(data), headers) + data)
        await self.writer.drain()
        return self.keep_alive

    async def send_truncated(self, data: bytes) -> bool:
        """Announce a longer body than is sent, send half of ``data`` and close (a cut body)."""
        head = _head(200, "application/json", self.keep_alive, len(data) + 1024)
        self.writer.write(head + data[: len(data) // 2])
        await self._flush_and_close()
        return False

    async def send_events(
        self,
        events: Iterable[bytes],
        end: StreamEnd = "done",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
    ) -> bool:
        """Stream SSE ``events`` (each already framed, see :func:`sse`) in a chunked body."""
        writer = self.writer
        writer.write(_head(status, "text/event-stream", self.keep_alive, None, headers))
        pending: list[bytes] = []
        for event in events:
            pending.append(b"%x\r\n%s\r\n" % (len(event), event))
            if self.chunk_delay or len(pending) >= _FLUSH_EVERY:
                # Flush periodically so huge replies neither buffer unboundedly nor starve
                # other connections.
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
        if end == "cut":
            writer.write(b"".join(pending))
            await self._flush_and_close()
            return False
        if end == "done":
            done = sse(b"[DONE]")
            pending.append(b"%x\r\n%s\r\n" % (len(done), done))
        pending.append(b"0\r\n\r\n")
        writer.write(b"".join(pending))
        await writer.drain()
        return self.keep_alive

    def abort(self) -> bool:
        """Reset the connection (RST, not FIN), the closest thing to a crashed peer or proxy."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        return False

    async def _flush_and_close(self) -> None:
        # A FIN (not RST) after everything already written: the client reads every byte sent and
        # then sees the body end early, like a proxy dropping a long-lived stream.
        writer = self.writer
        await writer.drain()
        for _ in range(200):
            if writer.transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.005)
        writer.close()


def _head(
    status: int,
    content_type: str,
    keep_alive: bool,
    length: int | None,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    phrase = responses.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}"]
    if length is None:
        lines += ["Transfer-Encoding: chunked", "Cache-Control: no-cache"]
    else:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    lines += [f"{name}: {value}" for name, value in extra or ()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _plain(status: int, text: bytes) -> bytes:
    return _head(status, "text/plain", False, len(text)) + text


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            # Trailer section ends with an empty line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readuntil(b"\r\n")
