"""Errors raised by the core, and the one place that decides what is secret.

Server faults surface as the ``openai`` SDK's own typed exceptions (``RateLimitError``,
``AuthenticationError``, ``InternalServerError`` …), whose message is rewritten to carry
Novita's ``reason`` token and ``message`` from its flat error body. ``NovitaStreamError`` and
``NovitaResponseError`` cover what the SDK has no type for; they subclass the SDK's errors, so
they live in :mod:`novita_core._sdk_errors` and are loaded with the SDK, on first use, keeping
``import novita_core`` (and so importing an adapter) free of the ``openai`` import cost.
"""

from __future__ import annotations

from collections.abc import Mapping

from novita_core._lazy import lazy_names


class NovitaError(Exception):
    """Base class of the errors this package raises itself."""


class MissingAPIKeyError(NovitaError, ValueError):
    """No API key was passed and ``NOVITA_API_KEY`` is unset."""


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


_SDK_ERRORS = (
    "NovitaStreamError",
    "NovitaResponseError",
    "NovitaServerError",
    "NovitaStreamServerError",
)

__getattr__ = lazy_names(__name__, dict.fromkeys(_SDK_ERRORS, "novita_core._sdk_errors"))
