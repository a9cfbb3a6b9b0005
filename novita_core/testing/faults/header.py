"""A :class:`Fault` and its ``X-Offline-Fault`` header form (``Fault.parse``, ``Fault.spec``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

__all__ = ["FAULT_HEADER", "Fault", "FaultKind"]

FaultKind = Literal[
    "status",
    "reset",
    "drop_stream",
    "stall",
    "malformed_json",
    "malformed_sse",
    "redirect",
    "drip",
]

FAULT_HEADER = "x-offline-fault"


@dataclass(frozen=True)
class Fault:
    """A failure the server produces instead of (or while) answering a request.

    Build one with the classmethod constructors, then queue it with
    :meth:`OfflineNovitaServer.inject`, or send its :meth:`spec` in an ``X-Offline-Fault``
    request header. Replies of another shape (an error object in a 200 body or inside a stream,
    no choices) are scripted instead: :meth:`OfflineNovitaServer.script`.

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
        path: Only requests whose path ends with this suffix match (all requests when None);
            every constructor takes it as a keyword argument.
        location: Target URL of ``"redirect"`` faults (``status_code`` is the 3xx status).
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

    def __post_init__(self) -> None:
        if self.kind == "redirect" and not 300 <= self.status_code < 400:
            raise ValueError(f"redirect status must be 3xx, got {self.status_code}")

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
        return cls("status", code, retry_after, retry_after_ms, message, reason, path=path)

    @classmethod
    def reset(cls, *, path: str | None = None) -> Fault:
        """Close the TCP connection (RST) after reading the request, before any response byte."""
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
        """Answer 200 ``application/json`` with a body that is not JSON."""
        return cls("malformed_json", path=path)

    @classmethod
    def malformed_sse(cls, *, path: str | None = None) -> Fault:
        """Stream one good chunk, then a ``data:`` line that is not JSON, then the rest normally.

        Non-stream requests are answered normally.
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
        return cls("redirect", status_code=status, location=location, path=path)

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
        ``redirect=http://127.0.0.1:9/v3/openai/chat/completions;status=307``, ``drip=0.05``.

        Args:
            spec: The header value.

        Raises:
            ValueError: If the spec is not understood.
        """
        items = [item.strip().partition("=") for item in spec.split(";") if item.strip()]
        if not items:
            raise ValueError("empty fault spec")
        keyword = items[0][0].strip().lower()
        kind = _KEYWORDS.get(keyword, keyword)
        if kind not in _FORMS:
            raise ValueError(f"unknown fault kind {keyword!r} in {spec!r}")
        main, options = _FORMS[kind]
        values: dict[str, Any] = {}
        try:
            if main is not None and items[0][2].strip():
                values[main] = _FIELD_TYPES[main](items[0][2].strip())
            for key, sep, value in items[1:]:
                name = _OPTION_FIELDS.get(key.strip().lower(), key.strip().lower())
                if sep and name in options and name not in values:
                    values[name] = _FIELD_TYPES[name](value.strip())
            return replace(_DEFAULTS[kind], **values)
        except ValueError as exc:
            raise ValueError(f"bad fault spec {spec!r}: {exc}") from None

    def spec(self) -> str:
        """Return the ``X-Offline-Fault`` header value equivalent to this fault (path aside)."""
        main, options = _FORMS[self.kind]
        keyword = next((k for k, kind in _KEYWORDS.items() if kind == self.kind), self.kind)
        parts = [keyword if main is None else f"{keyword}={header_value(getattr(self, main))}"]
        for name in options:
            value = getattr(self, name)
            key = next((k for k, field in _OPTION_FIELDS.items() if field == name), name)
            if value is not None:
                parts.append(f"{key}={header_value(value)}")
        return ";".join(parts)

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request for ``path``.

        Args:
            path: Request path without query string.
        """
        return self.path is None or path.rstrip("/").endswith(self.path.rstrip("/"))


_FORMS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "status": ("status_code", ("retry_after", "retry_after_ms", "message", "reason")),
    "reset": (None, ()),
    "drop_stream": ("after_chunks", ()),
    "stall": ("seconds", ()),
    "malformed_json": (None, ()),
    "malformed_sse": (None, ()),
    "redirect": ("location", ("status_code",)),
    "drip": ("seconds", ()),
}
"""Fault kind -> the field its header keyword carries, and the fields its options may set."""
_KEYWORDS = {"drop_after": "drop_stream", "drop": "drop_stream"}
"""Header keywords other than the kind's own name (the first one is the one :meth:`spec` writes)."""
_OPTION_FIELDS = {"status": "status_code"}
"""Option names that differ from the field they set."""
_DEFAULTS = {
    "stall": Fault.stall(1.0),
    "redirect": Fault.redirect("/"),
    "drip": Fault.drip(0.05),
}
_DEFAULTS |= {kind: Fault(kind) for kind in get_args(FaultKind) if kind not in _DEFAULTS}
"""Fault kind -> the fault its bare header keyword means."""


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


_FIELD_TYPES: dict[str, Callable[[str], Any]] = {
    "status_code": int,
    "after_chunks": int,
    "seconds": float,
    "retry_after": _number_or_text,
    "retry_after_ms": int,
    "location": str,
    "message": str,
    "reason": str,
}
"""Field -> how its header text becomes its value."""


def header_value(value: float | str) -> str:
    """A value as header text (``1.0`` as ``1``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)
