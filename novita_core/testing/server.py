"""An offline, Novita-compatible HTTP server for tests, benchmarks and notebooks.

It speaks real HTTP/1.1 on 127.0.0.1 so that the code under test exercises its actual transport
(connection pools, keep-alive, SSE parsing, retries), yet never touches the network. Replies are
deterministic (see :mod:`novita_core.testing.replies`) and failures are injected on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal, cast
from urllib.parse import unquote, urlsplit

from novita_core.testing import wire_faults
from novita_core.testing.batches import BatchStore
from novita_core.testing.replies import (
    ApiError,
    ModelEntry,
    build_chat,
    build_completion,
    build_embeddings,
    dumps,
    error_body,
)
from novita_core.testing.rerank import RERANK_PATH, build_rerank

__all__ = ["Fault", "FaultKind", "OfflineNovitaServer", "RecordedRequest"]

FaultKind = Literal[
    "status",
    "reset",
    "drop_stream",
    "stall",
    "malformed_json",
    "malformed_sse",
    "redirect",
    "error_body",
    "empty_choices",
    "stream_error",
    "drip",
]

FAULT_HEADER = "x-offline-fault"
DEFAULT_API_KEY = "test-key"
BASE_PATH = "/v3/openai"

_MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fault:
    """A failure the server produces instead of (or while) answering a request.

    Build one with the classmethod constructors, then queue it with
    :meth:`OfflineNovitaServer.inject`, or send its :meth:`spec` in an ``X-Offline-Fault``
    request header.

    Args:
        kind: What goes wrong.
        status_code: HTTP status for ``"status"`` faults.
        retry_after: ``Retry-After`` header value in seconds, if any (a string is sent as it
            is, e.g. a date or garbage).
        retry_after_ms: ``retry-after-ms`` header value, if any.
        message: Error ``message`` for ``"status"`` faults.
        reason: Error ``reason`` token; derived from the status when omitted.
        after_chunks: SSE chunks sent before ``"drop_stream"`` cuts the connection.
        seconds: Delay for ``"stall"`` faults.
        path: Only requests whose path ends with this suffix match (all requests when None).
        location: Target URL of ``"redirect"`` faults (``status_code`` is the 3xx status).
        code: Provider error ``code`` of ``"error_body"`` and ``"stream_error"`` faults.
        flat: ``"error_body"`` sends Novita's flat error body instead of ``{"error": {...}}``.
        close: ``"stream_error"`` closes the connection after the error event (no ``[DONE]``).
    """

    kind: FaultKind
    status_code: int = 500
    retry_after: float | str | None = None
    retry_after_ms: int | None = None
    message: str | None = None
    reason: str | None = None
    after_chunks: int = 3
    seconds: float = 0.0
    path: str | None = None
    location: str | None = None
    code: int | str | None = None
    flat: bool = False
    close: bool = False

    @classmethod
    def status(
        cls,
        code: int,
        retry_after: float | str | None = None,
        retry_after_ms: int | None = None,
        message: str | None = None,
        *,
        reason: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """Answer with an error status and Novita's flat error body.

        Args:
            code: HTTP status, e.g. 429 or 503.
            retry_after: Seconds for a ``Retry-After`` header (a string is sent verbatim).
            retry_after_ms: Milliseconds for a ``retry-after-ms`` header.
            message: Error message (a default naming the injected fault otherwise).
            reason: Reason token (Novita's token for ``code`` otherwise).
            path: Path suffix the fault is limited to.
        """
        return cls(
            "status",
            status_code=code,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            message=message,
            reason=reason,
            path=path,
        )

    @classmethod
    def reset(cls, *, path: str | None = None) -> Fault:
        """Close the TCP connection (RST) after reading the request, before any response byte.

        Args:
            path: Path suffix the fault is limited to.
        """
        return cls("reset", path=path)

    @classmethod
    def drop_stream(cls, after_chunks: int = 3, *, path: str | None = None) -> Fault:
        """Cut the connection mid-response.

        Streams send ``after_chunks`` SSE events and stop (no final chunk, no ``[DONE]``);
        non-stream answers announce a longer ``Content-Length`` than they send.

        Args:
            after_chunks: SSE events sent before the cut.
            path: Path suffix the fault is limited to.
        """
        return cls("drop_stream", after_chunks=after_chunks, path=path)

    @classmethod
    def stall(cls, seconds: float, *, path: str | None = None) -> Fault:
        """Wait ``seconds`` before answering normally (other connections are unaffected).

        Args:
            seconds: Delay before the first response byte.
            path: Path suffix the fault is limited to.
        """
        return cls("stall", seconds=seconds, path=path)

    @classmethod
    def malformed_json(cls, *, path: str | None = None) -> Fault:
        """Answer 200 ``application/json`` with a body that is not JSON.

        Args:
            path: Path suffix the fault is limited to.
        """
        return cls("malformed_json", path=path)

    @classmethod
    def malformed_sse(cls, *, path: str | None = None) -> Fault:
        """Stream one good chunk, then a ``data:`` line that is not JSON, then the rest normally.

        Non-stream requests are answered normally.

        Args:
            path: Path suffix the fault is limited to.
        """
        return cls("malformed_sse", path=path)

    @classmethod
    def redirect(cls, location: str, status: int = 307, *, path: str | None = None) -> Fault:
        """Answer with a redirect to ``location`` (e.g. another server, to test header safety).

        Args:
            location: The ``Location`` header value (absolute URL or path).
            status: The 3xx status; 307 and 308 keep the method and body.
            path: Path suffix the fault is limited to.
        """
        if not 300 <= status < 400:
            raise ValueError(f"redirect status must be 3xx, got {status}")
        return cls("redirect", status_code=status, location=location, path=path)

    @classmethod
    def error_body(
        cls,
        message: str = "offline server injected an error body",
        code: int | str | None = 500,
        *,
        flat: bool = False,
        path: str | None = None,
    ) -> Fault:
        """Answer HTTP 200 with an error object instead of the answer (streams too).

        Args:
            message: The error message.
            code: The error code (a status number or a token).
            flat: Novita's flat ``{"code", "reason", "message"}`` instead of the envelope.
            path: Path suffix the fault is limited to.
        """
        return cls("error_body", message=message, code=code, flat=flat, path=path)

    @classmethod
    def empty_choices(cls, *, path: str | None = None) -> Fault:
        """Answer HTTP 200 with ``choices: []`` (a stream: one such chunk, then ``[DONE]``).

        Args:
            path: Path suffix the fault is limited to.
        """
        return cls("empty_choices", path=path)

    @classmethod
    def stream_error(
        cls,
        after_chunks: int = 2,
        message: str = "offline server injected a stream error",
        code: int | str | None = "server_error",
        *,
        close: bool = False,
        path: str | None = None,
    ) -> Fault:
        """Stream ``after_chunks`` events, then an ``error`` event with ``finish_reason: "error"``.

        Then ``[DONE]``, or a closed connection with ``close=True``. Non-stream requests get
        the error as a 200 body, like :meth:`error_body`.

        Args:
            after_chunks: Good events before the error.
            message: The error message.
            code: The error code (a status number or a token).
            close: Close the connection after the error event instead of sending ``[DONE]``.
            path: Path suffix the fault is limited to.
        """
        return cls(
            "stream_error",
            after_chunks=after_chunks,
            message=message,
            code=code,
            close=close,
            path=path,
        )

    @classmethod
    def drip(cls, interval: float, *, path: str | None = None) -> Fault:
        """Send the whole normal answer (headers included) one byte every ``interval`` seconds.

        Args:
            interval: Seconds between two bytes (a slow-loris server).
            path: Path suffix the fault is limited to.
        """
        return cls("drip", seconds=interval, path=path)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse an ``X-Offline-Fault`` header value.

        Syntax: ``;``-separated ``key`` or ``key=value`` items; the first names the fault:
        ``status=503``, ``status=429;retry_after=1``, ``status=429;retry_after_ms=250``,
        ``status=500;message=boom;reason=MODEL_NOT_AVAILABLE``, ``reset``, ``drop_after=3``
        (or ``drop_stream=3``), ``stall=2.5``, ``malformed_json``, ``malformed_sse``,
        ``redirect=http://127.0.0.1:9/v3/openai/chat/completions;status=307``,
        ``error_body=oops;code=503;flat``, ``empty_choices``,
        ``stream_error=2;message=oops;code=server_error;close``, ``drip=0.05``.

        Args:
            spec: The header value.

        Raises:
            ValueError: If the spec is not understood.
        """
        items: list[tuple[str, str | None]] = []
        for raw in spec.split(";"):
            raw = raw.strip()
            if not raw:
                continue
            key, sep, raw_value = raw.partition("=")
            items.append((key.strip().lower(), raw_value.strip() if sep else None))
        if not items:
            raise ValueError("empty fault spec")
        kind, value = items[0]
        options: dict[str, str | None] = dict(items[1:])
        try:
            if kind == "status":
                retry_after = options.get("retry_after")
                retry_after_ms = options.get("retry_after_ms")
                return cls.status(
                    int(value or "500"),
                    retry_after=_number_or_text(retry_after),
                    retry_after_ms=int(retry_after_ms) if retry_after_ms is not None else None,
                    message=options.get("message"),
                    reason=options.get("reason"),
                )
            if kind == "reset":
                return cls.reset()
            if kind in ("drop_after", "drop_stream", "drop"):
                return cls.drop_stream(int(value or "3"))
            if kind == "stall":
                return cls.stall(float(value or "1"))
            if kind == "malformed_json":
                return cls.malformed_json()
            if kind == "malformed_sse":
                return cls.malformed_sse()
            if kind == "redirect":
                status = options.get("status")
                return cls.redirect(value or "/", int(status) if status is not None else 307)
            if kind == "error_body":
                return cls.error_body(
                    value or "offline server injected an error body",
                    _code(options.get("code", "500")),
                    flat="flat" in options,
                )
            if kind == "empty_choices":
                return cls.empty_choices()
            if kind == "stream_error":
                return cls.stream_error(
                    int(value or "2"),
                    options.get("message") or "offline server injected a stream error",
                    _code(options.get("code", "server_error")),
                    close="close" in options,
                )
            if kind == "drip":
                return cls.drip(float(value or "0.05"))
        except ValueError as exc:
            raise ValueError(f"bad fault spec {spec!r}: {exc}") from None
        raise ValueError(f"unknown fault kind {kind!r} in {spec!r}")

    def spec(self) -> str:
        """Return the ``X-Offline-Fault`` header value equivalent to this fault (path aside)."""
        if self.kind == "status":
            parts = [f"status={self.status_code}"]
            if self.retry_after is not None:
                parts.append(f"retry_after={_header_value(self.retry_after)}")
            if self.retry_after_ms is not None:
                parts.append(f"retry_after_ms={self.retry_after_ms}")
            if self.message is not None:
                parts.append(f"message={self.message}")
            if self.reason is not None:
                parts.append(f"reason={self.reason}")
            return ";".join(parts)
        if self.kind == "drop_stream":
            return f"drop_after={self.after_chunks}"
        if self.kind == "stall":
            return f"stall={self.seconds:g}"
        if self.kind == "redirect":
            return f"redirect={self.location};status={self.status_code}"
        if self.kind == "error_body":
            return f"error_body={self.message};code={self.code}" + (";flat" if self.flat else "")
        if self.kind == "stream_error":
            spec = f"stream_error={self.after_chunks};message={self.message};code={self.code}"
            return spec + (";close" if self.close else "")
        if self.kind == "drip":
            return f"drip={self.seconds:g}"
        return self.kind

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request for ``path``.

        Args:
            path: Request path without query string.
        """
        return self.path is None or path.rstrip("/").endswith(self.path.rstrip("/"))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it.

    Args:
        method: HTTP method.
        path: Request path without the query string.
        headers: Headers with lower-case names, ``authorization`` removed.
        json: Parsed JSON body, or None when absent or not JSON.
        authorized: Whether the bearer key was the accepted one.
        body: Raw body bytes.
        query: Query string (without ``?``).
        has_authorization: Whether any ``Authorization`` header arrived (its value is not kept).
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    authorized: bool
    body: bytes = b""
    query: str = ""
    has_authorization: bool = False


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int


@dataclass
class _Request:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    json_error: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class OfflineNovitaServer:
    """Novita-compatible HTTP server on 127.0.0.1, run by an asyncio loop in a daemon thread.

    It accepts any path prefix (``/v3/openai``, ``/openai/v1``, none) before ``/chat/completions``,
    ``/completions``, ``/embeddings``, ``/rerank``, ``/models``, ``/files`` and ``/batches`` (the
    Batch API, see :mod:`novita_core.testing.batches`); records every request; checks the bearer
    key; validates bodies like Novita; answers deterministically; and injects faults.

    Args:
        api_key: The only bearer key accepted.
        port: TCP port; 0 picks a free one.
        host: Bind address. Only loopback addresses are allowed.
        extra_models: Additional chat model ids to accept besides the built-in catalog.
        latency: Seconds to wait before every response (simulated time to first byte).
        chunk_delay: Seconds between SSE events of a stream (simulated token rate).

    Example:
        >>> import json, urllib.request
        >>> from novita_core.testing import OfflineNovitaServer, Fault
        >>> with OfflineNovitaServer(api_key="test-key") as server:
        ...     server.inject(Fault.status(429, retry_after=1), times=1)
        ...     request = urllib.request.Request(
        ...         server.base_url + "/chat/completions",
        ...         data=json.dumps({
        ...             "model": "meta-llama/llama-3.1-8b-instruct",
        ...             "messages": [{"role": "user", "content": "hello"}],
        ...         }).encode(),
        ...         headers={"Authorization": "Bearer test-key"},
        ...     )
        ...     try:
        ...         urllib.request.urlopen(request)
        ...     except urllib.error.HTTPError as exc:
        ...         print(exc.code, exc.headers["Retry-After"])
        ...     reply = json.load(urllib.request.urlopen(request))
        ...     print(reply["choices"][0]["message"]["content"], len(server.requests))
        429 1
        Echo: hello 2
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        extra_models: Iterable[str] = (),
        latency: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the offline server only binds to loopback addresses")
        self.api_key = api_key
        self.host = "127.0.0.1" if host == "localhost" else host
        self.latency = latency
        self.chunk_delay = chunk_delay
        self._requested_port = port
        self._port: int | None = None
        self._models: dict[str, ModelEntry] = _catalog_models()
        for model_id in extra_models:
            self.add_model(model_id)
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._faults: deque[_QueuedFault] = deque()
        self._in_flight = 0
        self._max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._auth_value = f"Bearer {api_key}"
        self._prompt_cache: set[str] = set()
        self._denied_models: dict[str, str] = {}
        self.batches = BatchStore(lambda: self._models)
        """Files and batches of the ``/files`` and ``/batches`` endpoints (this server's own)."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> OfflineNovitaServer:
        """Bind the socket and start serving; returns once requests can be accepted.

        Raises:
            RuntimeError: If the server is already running.
            OSError: If the port cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._serve_connection,
                        self.host,
                        self._requested_port,
                        backlog=4096,
                        limit=_MAX_HEADER_BYTES,
                    )
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="offline-novita-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving, abort open connections and join the server thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = None
        self._thread = None
        self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> OfflineNovitaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public state ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` with no path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Base URL for clients, mimicking Novita's legacy ``…/v3/openai`` base."""
        return self.url + BASE_PATH

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received since the last reset, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request.

        Raises:
            LookupError: If nothing was received.
        """
        with self._lock:
            if not self._records:
                raise LookupError("no request recorded")
            return self._records[-1]

    @property
    def max_in_flight(self) -> int:
        """Highest number of requests handled at once since the last reset."""
        return self._max_in_flight

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        return self._in_flight

    @property
    def models(self) -> list[str]:
        """Ids of the models the server accepts."""
        return list(self._models)

    def reset(self) -> None:
        """Forget recorded requests, queued faults, seen prompts and the in-flight maximum."""
        with self._lock:
            self._records.clear()
            self._faults.clear()
            self._prompt_cache = set()
            self._max_in_flight = self._in_flight

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests (FIFO with other faults).

        Args:
            fault: The fault to produce.
            times: How many matching requests it applies to.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(_QueuedFault(fault, times))

    def pending_faults(self) -> list[Fault]:
        """Queued faults not yet consumed, one entry per remaining use."""
        with self._lock:
            return [q.fault for q in self._faults for _ in range(q.remaining)]

    def add_model(
        self,
        model_id: str,
        *,
        context_size: int = 8192,
        max_output_tokens: int | None = None,
        kind: Literal["chat", "embedding", "rerank"] = "chat",
        reasoning: bool = False,
        dimensions: int | None = None,
        tool_calling: bool = True,
        structured_output: bool = True,
        input_modalities: tuple[str, ...] = ("text",),
        input_price: float | None = None,
        output_price: float | None = None,
        inline_think: bool = False,
    ) -> None:
        """Accept another model id, or replace a known one (also listed by ``GET /models``).

        Args:
            model_id: The id.
            context_size: Reported ``context_size``.
            max_output_tokens: Reported ``max_output_tokens``.
            kind: ``"chat"`` (chat + completions), ``"embedding"`` or ``"rerank"``.
            reasoning: Whether replies include reasoning (listed as the ``reasoning`` feature).
            dimensions: Default vector length for an embedding model.
            tool_calling: Listed with the ``function-calling`` feature.
            structured_output: Listed with the ``structured-outputs`` feature.
            input_modalities: Listed input modalities (``"image"`` adds ``vision``).
            input_price: USD per million prompt tokens, listed in 1/10000 USD.
            output_price: USD per million completion tokens.
            inline_think: Write reasoning inline as ``<think>...</think>`` in ``content``.
        """
        models = dict(self._models)
        models[model_id] = ModelEntry(
            id=model_id,
            context_size=context_size,
            max_output_tokens=max_output_tokens,
            kind=kind,
            reasoning=reasoning,
            dimensions=dimensions,
            tool_calling=tool_calling,
            structured_output=structured_output,
            input_modalities=input_modalities,
            input_price=input_price,
            output_price=output_price,
            inline_think=inline_think,
        )
        # Replace rather than mutate so the loop thread never sees a dict mid-update.
        self._models = models

    def deny_model(self, model_id: str, reason: str = "model_access_denied") -> None:
        """Answer 403 with ``reason`` to every request for ``model_id`` (per-key model scopes).

        Args:
            model_id: The model this server's key may not use.
            reason: The reason token of the 403 body.
        """
        self._denied_models = {**self._denied_models, model_id: reason}

    # -- HTTP -----------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader, writer)
                if request is None:
                    return
                self._in_flight += 1
                if self._in_flight > self._max_in_flight:
                    self._max_in_flight = self._in_flight
                try:
                    keep_alive = await self._handle(request, writer)
                finally:
                    self._in_flight -= 1
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Shutdown cancels idle keep-alive connections; finishing normally keeps asyncio's
            # stream callback from logging the cancellation as an error.
            return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Request | None:
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
            if not line:
                continue
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
        return _Request(
            method=method.upper(),
            path=unquote(split.path) if "%" in split.path else split.path,
            query=split.query,
            version=version,
            headers=headers,
            body=body,
        )

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for queued in self._faults:
                if queued.fault.matches(path):
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self._faults.remove(queued)
                    return queued.fault
        return None

    async def _handle(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        keep_alive = _wants_keep_alive(request)
        authorized = request.headers.get("authorization") == self._auth_value
        if request.body:
            try:
                request.json = json.loads(request.body)
            except ValueError:
                request.json_error = True
        record_headers = {k: v for k, v in request.headers.items() if k != "authorization"}
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=record_headers,
            json=request.json,
            authorized=authorized,
            body=request.body,
            query=request.query,
            has_authorization="authorization" in request.headers,
        )
        with self._lock:
            self._records.append(record)

        fault: Fault | None = None
        spec = request.headers.get(FAULT_HEADER)
        if spec:
            try:
                fault = Fault.parse(spec)
            except ValueError as exc:
                await self._send_json(writer, 400, error_body(400, str(exc)), keep_alive)
                return keep_alive
        else:
            fault = self._next_fault(request.path)

        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None:
            if fault.kind == "drip":
                writer = cast(asyncio.StreamWriter, wire_faults.DripWriter(writer, fault.seconds))
            if fault.kind == "error_body" or (
                fault.kind == "stream_error" and not (request.json or {}).get("stream")
            ):
                body = wire_faults.error_object(
                    fault.message or "offline server injected an error body",
                    fault.code,
                    flat=fault.flat,
                )
                await self._send_json(writer, 200, body, keep_alive)
                return keep_alive
            if fault.kind == "reset":
                _abort_with_rst(writer)
                return False
            if fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
            elif fault.kind == "status":
                await self._send_status_fault(writer, fault, keep_alive)
                return keep_alive
            elif fault.kind == "redirect":
                await self._send_raw(
                    writer,
                    fault.status_code,
                    b"",
                    keep_alive,
                    headers=[("Location", fault.location or "/")],
                )
                return keep_alive
            elif fault.kind == "malformed_json":
                await self._send_raw(
                    writer, 200, b'{"id": "chatcmpl-broken", "choices": [', keep_alive
                )
                return keep_alive

        if not authorized:
            await self._send_json(
                writer, 401, error_body(401, "failed to authenticate API key"), keep_alive
            )
            return keep_alive
        try:
            return await self._route(request, writer, keep_alive, fault)
        except ApiError as exc:
            await self._send_json(writer, exc.status, exc.body(), keep_alive)
            return keep_alive

    async def _route(
        self,
        request: _Request,
        writer: asyncio.StreamWriter,
        keep_alive: bool,
        fault: Fault | None,
    ) -> bool:
        path = request.path.rstrip("/")
        method = request.method
        if self.batches.routes(path):
            status, payload = self.batches.handle(method, path, request.headers, request.body)
            if isinstance(payload, bytes):
                return await self._send_raw(writer, status, payload, keep_alive)
            return await self._send_json(writer, status, payload, keep_alive, fault)
        if path.endswith("/models") and method == "GET":
            payload = {"data": [m.listing() for m in self._models.values()]}
            return await self._send_json(writer, 200, payload, keep_alive, fault)
        if "/models/" in path and method == "GET":
            model_id = path.rsplit("/models/", 1)[1]
            entry = self._models.get(model_id)
            if entry is None:
                raise ApiError(404, f"model not found: {model_id}")
            return await self._send_json(writer, 200, entry.listing(), keep_alive, fault)

        endpoint = None
        for suffix in ("/chat/completions", "/completions", "/embeddings", RERANK_PATH):
            if path.endswith(suffix):
                endpoint = suffix
                break
        if endpoint is None:
            raise ApiError(404, f"no such endpoint: {method} {request.path}", reason="NOT_FOUND")
        if method != "POST":
            raise ApiError(405, f"{endpoint} only accepts POST", reason="METHOD_NOT_ALLOWED")
        if request.json_error or not request.body:
            raise ApiError(400, "request body is not valid JSON")
        denied = (
            self._denied_models.get(str(request.json.get("model")))
            if isinstance(request.json, dict)
            else None
        )
        if denied is not None:
            raise ApiError(403, "this API key may not use this model", reason=denied)

        if endpoint == "/embeddings":
            payload = build_embeddings(request.json, self._models)
            return await self._send_json(writer, 200, payload, keep_alive, fault)
        if endpoint == RERANK_PATH:
            payload = build_rerank(request.json, self._models)
            return await self._send_json(writer, 200, payload, keep_alive, fault)
        plan = (
            build_chat(request.json, self._models, self._prompt_cache)
            if endpoint == "/chat/completions"
            else build_completion(request.json, self._models)
        )
        empty = fault is not None and fault.kind == "empty_choices"
        if request.json.get("stream"):
            chunks = [dumps(wire_faults.empty_choices(plan.response()))] if empty else None
            return await self._send_stream(
                writer, chunks or plan.encoded_chunks(), keep_alive, fault
            )
        answer = wire_faults.empty_choices(plan.response()) if empty else plan.response()
        return await self._send_json(writer, 200, answer, keep_alive, fault)

    # -- writers --------------------------------------------------------------------------------

    async def _send_status_fault(
        self, writer: asyncio.StreamWriter, fault: Fault, keep_alive: bool
    ) -> None:
        extra: list[tuple[str, str]] = []
        if fault.retry_after is not None:
            extra.append(("Retry-After", _header_value(fault.retry_after)))
        if fault.retry_after_ms is not None:
            extra.append(("retry-after-ms", str(fault.retry_after_ms)))
        message = fault.message or f"offline server injected HTTP {fault.status_code}"
        body = error_body(fault.status_code, message, fault.reason)
        await self._send_json(writer, fault.status_code, body, keep_alive, headers=extra)

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        keep_alive: bool,
        fault: Fault | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> bool:
        data = dumps(payload)
        if fault is not None and fault.kind == "drop_stream":
            head = _head(200, "application/json", keep_alive, length=len(data) + 1024)
            writer.write(head + data[: len(data) // 2])
            await _flush_and_close(writer)
            return False
        return await self._send_raw(writer, status, data, keep_alive, headers)

    async def _send_raw(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        data: bytes,
        keep_alive: bool,
        headers: list[tuple[str, str]] | None = None,
    ) -> bool:
        writer.write(_head(status, "application/json", keep_alive, len(data), headers) + data)
        await writer.drain()
        return keep_alive

    async def _send_stream(
        self,
        writer: asyncio.StreamWriter,
        chunks: Iterable[bytes],
        keep_alive: bool,
        fault: Fault | None,
    ) -> bool:
        writer.write(_head(200, "text/event-stream", keep_alive, None))
        drop_after = fault.after_chunks if fault is not None and fault.kind == "drop_stream" else -1
        malformed = fault is not None and fault.kind == "malformed_sse"
        error_after = -1
        if fault is not None and fault.kind == "stream_error":
            chunks = [*chunks, b""]  # the error goes before [DONE] even for a short answer
            error_after = min(fault.after_chunks, len(chunks) - 1)
        pending: list[bytes] = []
        for sent, chunk in enumerate(chunks):
            if sent == error_after and fault is not None:
                message = fault.message or "offline server injected a stream error"
                pending.append(_sse(wire_faults.stream_error_event(message, fault.code, "")))
                if fault.close:
                    writer.write(b"".join(pending))
                    await _flush_and_close(writer)
                    return False
                break
            if sent == drop_after:
                writer.write(b"".join(pending))
                await _flush_and_close(writer)
                return False
            if malformed and sent == 1:
                pending.append(_sse(b'{"id": "broken", "choices": [{"delta": '))
            pending.append(_sse(chunk))
            if self.chunk_delay:
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()
                await asyncio.sleep(self.chunk_delay)
            elif len(pending) >= 64:
                # Flush periodically so huge replies neither buffer unboundedly nor starve
                # other connections.
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()
        if drop_after >= 0:
            # Fewer chunks than the cut point: still cut before [DONE].
            writer.write(b"".join(pending))
            await _flush_and_close(writer)
            return False
        pending.append(_sse(b"[DONE]"))
        pending.append(b"0\r\n\r\n")
        writer.write(b"".join(pending))
        await writer.drain()
        return keep_alive


# ---------------------------------------------------------------------------------------------
# Helpers


def _catalog_models() -> dict[str, ModelEntry]:
    from novita_core.catalog import KNOWN_MODELS

    return {
        info.id: ModelEntry(
            id=info.id,
            context_size=info.context_window,
            max_output_tokens=info.max_output_tokens,
            kind=info.kind,
            reasoning=info.reasoning,
            dimensions=info.embedding_dimensions,
            tool_calling=info.tool_calling,
            structured_output=info.structured_output,
            input_modalities=info.input_modalities,
            input_price=info.input_price,
            output_price=info.output_price,
            inline_think=info.inline_think,
            name=info.name,
        )
        for info in KNOWN_MODELS.values()
    }


def _wants_keep_alive(request: _Request) -> bool:
    connection = request.headers.get("connection", "").lower()
    if request.version == "HTTP/1.0":
        return connection == "keep-alive"
    return connection != "close"


def _head(
    status: int,
    content_type: str,
    keep_alive: bool,
    length: int | None,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}"]
    if length is None:
        lines.append("Transfer-Encoding: chunked")
        lines.append("Cache-Control: no-cache")
    else:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    for name, value in extra or ():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _header_value(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _number_or_text(value: str | None) -> float | str | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _code(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def _plain(status: int, text: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n"
    ).encode() + text


def _sse(data: bytes) -> bytes:
    event = b"data: " + data + b"\n\n"
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    # SO_LINGER 0 makes close() send RST, the closest thing to a crashed peer or proxy.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _flush_and_close(writer: asyncio.StreamWriter) -> None:
    # A FIN (not RST) after everything already written: the client reads every byte sent and
    # then sees the body end early, like a proxy dropping a long-lived stream.
    await writer.drain()
    for _ in range(200):
        if writer.transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    writer.close()


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
