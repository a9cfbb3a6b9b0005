"""Errors that subclass the ``openai`` SDK's exceptions (imported with the SDK, on first use)."""

from __future__ import annotations

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
