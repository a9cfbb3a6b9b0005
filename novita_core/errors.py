"""Errors raised by the core, and the one place that decides what is secret.

Server faults surface as the ``openai`` SDK's own typed exceptions (``RateLimitError``,
``AuthenticationError``, ``InternalServerError`` …), whose message is rewritten to carry
Novita's ``reason`` token and ``message`` from its flat error body. The exceptions below cover
what the SDK has no type for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai


class NovitaError(Exception):
    """Base class of the errors this package raises itself."""


class MissingAPIKeyError(NovitaError, ValueError):
    """No API key was passed and ``NOVITA_API_KEY`` is unset."""


class NovitaStreamError(openai.APIError, NovitaError):
    """A streamed response ended before it was complete (connection dropped, bad SSE line).

    Raised instead of returning the partial text as if it were the whole answer. It is never
    retried once a chunk reached the caller, because the caller may already have acted on it.
    """

    def __init__(self, message: str, *, request: Any, body: object | None = None) -> None:
        super().__init__(message, request, body=body)


class NovitaResponseError(openai.APIResponseValidationError, NovitaError):
    """The server answered 2xx with a body that is not the JSON the endpoint promises."""

    def __init__(self, message: str, *, response: Any, body: object | None = None) -> None:
        super().__init__(response=response, body=body, message=message)


def describe_error_body(status_code: int, body: object) -> str:
    """Render Novita's flat error body (``{"code", "reason", "message"}``) as one readable line.

    Also accepts OpenAI's ``{"error": {"message": ...}}`` envelope, which proxies in front of
    Novita may use.
    """
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            reason = inner.get("reason") or inner.get("type") or inner.get("code")
            message = inner.get("message")
            if message:
                return (
                    f"Error code: {status_code} - {reason}: {message}"
                    if reason
                    else (f"Error code: {status_code} - {message}")
                )
    if isinstance(body, str) and body:
        return f"Error code: {status_code} - {body[:500]}"
    return f"Error code: {status_code}"


def redact(text: str, secret: str | None) -> str:
    """Return ``text`` with every occurrence of ``secret`` replaced (no-op for empty secrets)."""
    if not secret or secret not in text:
        return text
    return text.replace(secret, "**********")
