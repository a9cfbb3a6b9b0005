"""A :class:`Fault` and its ``X-Offline-Fault`` header form (``Fault.parse``, ``Fault.spec``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["ERROR_BODY_MESSAGE", "FAULT_HEADER", "STREAM_ERROR_MESSAGE", "Fault", "FaultKind"]

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
ERROR_BODY_MESSAGE = "offline server injected an error body"
STREAM_ERROR_MESSAGE = "offline server injected a stream error"


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
        message: str = ERROR_BODY_MESSAGE,
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
        message: str = STREAM_ERROR_MESSAGE,
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
        items = [raw.strip() for raw in spec.split(";") if raw.strip()]
        if not items:
            raise ValueError("empty fault spec")
        options: dict[str, str | None] = {}
        for item in items:
            key, sep, value = item.partition("=")
            options.setdefault(key.strip().lower(), value.strip() if sep else None)
        kind = items[0].partition("=")[0].strip().lower()
        parser = _PARSERS.get(kind)
        if parser is None:
            raise ValueError(f"unknown fault kind {kind!r} in {spec!r}")
        try:
            return parser(options.pop(kind), options)
        except ValueError as exc:
            raise ValueError(f"bad fault spec {spec!r}: {exc}") from None

    def spec(self) -> str:
        """Return the ``X-Offline-Fault`` header value equivalent to this fault (path aside)."""
        render = _SPECS.get(self.kind)
        return render(self) if render is not None else self.kind

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request for ``path``.

        Args:
            path: Request path without query string.
        """
        return self.path is None or path.rstrip("/").endswith(self.path.rstrip("/"))


Options = dict[str, str | None]

_PARSERS: dict[str, Callable[[str | None, Options], Fault]] = {
    "status": lambda value, options: Fault.status(
        int(value or "500"),
        retry_after=_number_or_text(options.get("retry_after")),
        retry_after_ms=_int_or_none(options.get("retry_after_ms")),
        message=options.get("message"),
        reason=options.get("reason"),
    ),
    "reset": lambda value, options: Fault.reset(),
    "drop_after": lambda value, options: Fault.drop_stream(int(value or "3")),
    "stall": lambda value, options: Fault.stall(float(value or "1")),
    "malformed_json": lambda value, options: Fault.malformed_json(),
    "malformed_sse": lambda value, options: Fault.malformed_sse(),
    "redirect": lambda value, options: Fault.redirect(
        value or "/", int(options.get("status") or "307")
    ),
    "error_body": lambda value, options: Fault.error_body(
        value or ERROR_BODY_MESSAGE, _code(options.get("code", "500")), flat="flat" in options
    ),
    "empty_choices": lambda value, options: Fault.empty_choices(),
    "stream_error": lambda value, options: Fault.stream_error(
        int(value or "2"),
        options.get("message") or STREAM_ERROR_MESSAGE,
        _code(options.get("code", "server_error")),
        close="close" in options,
    ),
    "drip": lambda value, options: Fault.drip(float(value or "0.05")),
}
_PARSERS["drop_stream"] = _PARSERS["drop"] = _PARSERS["drop_after"]
"""Header keyword -> the fault it builds from its value and the other options."""


def _status_spec(fault: Fault) -> str:
    retry_after = None if fault.retry_after is None else header_value(fault.retry_after)
    options = {
        "retry_after": retry_after,
        "retry_after_ms": fault.retry_after_ms,
        "message": fault.message,
        "reason": fault.reason,
    }
    parts = [f"status={fault.status_code}"]
    parts += [f"{key}={value}" for key, value in options.items() if value is not None]
    return ";".join(parts)


_SPECS: dict[str, Callable[[Fault], str]] = {
    "status": _status_spec,
    "drop_stream": lambda f: f"drop_after={f.after_chunks}",
    "stall": lambda f: f"stall={f.seconds:g}",
    "redirect": lambda f: f"redirect={f.location};status={f.status_code}",
    "error_body": lambda f: f"error_body={f.message};code={f.code}" + (";flat" if f.flat else ""),
    "stream_error": lambda f: (
        f"stream_error={f.after_chunks};message={f.message};code={f.code}"
        + (";close" if f.close else "")
    ),
    "drip": lambda f: f"drip={f.seconds:g}",
}
"""Fault kind -> its header form (the kind alone when absent)."""


def header_value(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _number_or_text(value: str | None) -> float | str | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _code(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value
