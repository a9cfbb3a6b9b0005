"""Errors that subclass the ``openai`` SDK's exceptions (imported with the SDK, on first use)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai

from novita_core.errors import NovitaError


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


class NovitaServerError(openai.APIError, NovitaError):
    """Novita answered HTTP 200 but sent an error object instead of the answer.

    Raised for a 200 body that is ``{"error": {...}}`` or Novita's flat ``{"code", "reason",
    "message"}``, and (as :class:`NovitaStreamServerError`) for such an event inside a stream.

    Args:
        message: What went wrong, with the provider's message and code.
        request: The HTTP request.
        error: The provider's error object as sent.
        retryable: Whether the retry policy may repeat the request: its ``code`` is a status the
            policy retries (429, 5xx ...) and nothing of the answer reached the caller.

    Example:
        >>> import openai
        >>> issubclass(NovitaServerError, openai.APIError)
        True
    """

    def __init__(
        self, message: str, *, request: Any, error: Mapping[str, Any], retryable: bool = False
    ) -> None:
        openai.APIError.__init__(self, message, request, body=dict(error))
        self.code: Any = error.get("code")
        """The provider's error code (a status number or a token), or None."""
        self.provider_message: str | None = _text(error.get("message"))
        """The provider's own error message, or None."""
        self.retryable = retryable
        """Whether the retry policy may repeat the request."""


class NovitaStreamServerError(NovitaServerError, NovitaStreamError):
    """An error event inside a 200 stream; also a :class:`NovitaStreamError`.

    Example:
        >>> issubclass(NovitaStreamServerError, NovitaStreamError)
        True
    """


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else (None if value is None else str(value))
