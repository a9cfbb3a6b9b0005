"""A small raw-socket HTTP server on 127.0.0.1 where every byte of every answer is scripted.

Unlike the offline Novita server it has no notion of Novita: a test gives it one *script* per
request (the last one repeats), and a script writes bytes to the socket however it likes: split
at every byte, chunked or EOF framing, a reset, a stall, a drip-feed. Each connection is served by
its own daemon thread and closed after one answer (``Connection: close``), so a script that
stops early is an EOF, not a hang. Stalls wait on an event that :meth:`HostileServer.close` sets,
so every test stops by itself.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

API_KEY = "sk-hostile-3f9a1c-secret"


@dataclass(frozen=True)
class Seen:
    """One request as it arrived: the request line, lower-cased headers and the JSON body."""

    line: str
    headers: dict[str, str]
    json: Any


class Conn:
    """The server side of one connection, as a script sees it."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop

    def send(self, data: bytes, *, pieces: int | None = None, pause: float = 0.0) -> None:
        """Write ``data``, cut into writes of ``pieces`` bytes (one write when None)."""
        size = pieces or len(data) or 1
        for start in range(0, len(data), size):
            if self.stop.is_set():
                return
            self.sock.sendall(data[start : start + size])
            if pause:
                self.stop.wait(pause)

    def drip(self, data: bytes, interval: float) -> None:
        """Write ``data`` one byte every ``interval`` seconds (until the client hangs up)."""
        try:
            self.send(data, pieces=1, pause=interval)
        except OSError:
            return

    def stall(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (ends early when the server closes)."""
        self.stop.wait(seconds)

    def reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


Script = Callable[[Conn, Seen], None]


class HostileServer:
    """Serves scripted answers on 127.0.0.1; records every request.

    Args:
        scripts: One script per request in order; the last one answers every later request.

    Example:
        >>> with HostileServer([lambda conn, seen: conn.send(json_answer({"ok": True}))]) as s:
        ...     s.base_url.startswith("http://127.0.0.1:")
        True
    """

    api_key = API_KEY

    def __init__(self, scripts: Sequence[Script]) -> None:
        self.scripts = list(scripts)
        self.requests: list[Seen] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/v3/openai"
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, end stalls and drips, and wait (briefly) for the handler threads."""
        self._stop.set()
        self._accepter.join(2)
        self._listener.close()
        for thread in self._threads:
            thread.join(2)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.settimeout(10)
            seen = _read_request(sock)
            if seen is None:
                return
            with self._lock:
                index = len(self.requests)
                self.requests.append(seen)
            script = self.scripts[min(index, len(self.scripts) - 1)]
            script(Conn(sock, self._stop), seen)
        except OSError:
            pass
        finally:
            sock.close()


def _read_request(sock: socket.socket) -> Seen | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return Seen(lines[0], headers, json.loads(body) if body else None)


# -- answers ----------------------------------------------------------------------------------


def head(
    status: int = 200,
    *,
    content_type: str = "application/json",
    length: int | None = None,
    chunked: bool = False,
    extra: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A response head; no ``Content-Length`` and no ``chunked`` means the body ends at EOF."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    lines += [f"{name}: {value}" for name, value in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_answer(body: Any, status: int = 200, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A whole JSON response with ``Content-Length``."""
    data = json.dumps(body).encode()
    return head(status, length=len(data), extra=extra) + data


def chunked(body: bytes, size: int = 7) -> bytes:
    """``body`` in HTTP chunked framing, ``size`` bytes per chunk, with the final empty chunk."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


def sse_answer(events: bytes, *, framing: str = "chunked") -> bytes:
    """An SSE response carrying ``events`` verbatim, chunked or ended by EOF."""
    if framing == "chunked":
        return head(content_type="text/event-stream", chunked=True) + chunked(events)
    return head(content_type="text/event-stream") + events


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``chat.completion.chunk`` with one choice."""
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "meta-llama/llama-3.3-70b-instruct",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def data(obj: Any) -> bytes:
    """One well-formed SSE event."""
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def hello_stream(words: Sequence[str] = ("Hello", " world")) -> bytes:
    """The events of a normal streamed answer, ``[DONE]`` included."""
    events = [data(chunk(word)) for word in words]
    return b"".join([*events, data(chunk(finish="stop")), data(b"[DONE]")])


def chat_answer(content: str = "Hello world") -> dict[str, Any]:
    """A normal non-stream ``chat.completion``."""
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 1,
        "model": "meta-llama/llama-3.3-70b-instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def normal(seen: Seen) -> bytes:
    """The right normal answer for the request: a stream or a JSON body."""
    if (seen.json or {}).get("stream"):
        return sse_answer(hello_stream())
    return json_answer(chat_answer())


def answer_normally(conn: Conn, seen: Seen) -> None:
    """Script: a normal answer in one write."""
    conn.send(normal(seen))
