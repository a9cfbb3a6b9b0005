"""Connection fields shared by NovitaAI and NovitaEmbedding, and their one core client."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager

from novita_core.connection import (
    SETTINGS_ARGUMENTS,
    ConnectedModel,
    Connection,
    constructor_names,
)
from novita_core.params import InvalidParameterError
from novita_core.retry_policy import RetryPolicy
from novita_core.settings import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
    NovitaSettings,
)

if TYPE_CHECKING:
    from novita_core.client import NovitaClient


_RENAMED = {"base_url": "api_base", "http_async_client": "async_http_client"}
"""The core's (and LangChain's) names for the two settings LlamaIndex names otherwise."""

_FIELD_NAMES = tuple(_RENAMED.get(name, name) for name in SETTINGS_ARGUMENTS)
"""The fields for the core's settings arguments."""


class NovitaLlamaConnection(ConnectedModel, BaseModel):
    """Where and how to reach Novita; defaults and env fallbacks are the core's.

    Reconnection (``llm.api_base = ...`` reaches the next request), pickling and deep copies
    are the core's :class:`ConnectedModel`.
    """

    _connection_fields: ClassVar[tuple[str, ...]] = _FIELD_NAMES
    _connection_arguments: ClassVar[Mapping[str, Any]] = {"base_url_argument": "api_base"}

    api_key: SecretStr | None = Field(
        default=None, description="Novita API key.", exclude=True, repr=False
    )
    api_base: str | None = Field(default=None, description="Base URL override.")
    # strict: pydantic would otherwise take ``True`` for 1 before the core could refuse it.
    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES,
        description="Retries after the first attempt.",
        ge=0,
        strict=True,
    )
    timeout: float | tuple[float | None, float | None] | Any = Field(
        default=DEFAULT_TIMEOUT,
        description="Seconds per HTTP attempt, a (connect, read) pair, or an httpx.Timeout / "
        "httpx2.Timeout (the installed openai's).",
    )
    max_retry_wait: float = Field(
        default=DEFAULT_MAX_RETRY_WAIT,
        description="Longest Retry-After (seconds) a retry waits; a longer one raises at once.",
        ge=0,
    )
    retry_policy: RetryPolicy | None = Field(
        default=None,
        exclude=True,
        description="What is retried and the backoff between attempts (default: the core's "
        "RetryPolicy); max_retry_wait replaces its own.",
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Extra headers for every request."
    )
    http_client: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="A sync httpx.Client (openai 2.x) or httpx2.Client (openai 3.x) to send with.",
    )
    async_http_client: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="The async counterpart, for the async methods.",
    )
    async_transport: Literal["aiohttp", "httpx"] | None = Field(
        default=None,
        description="Async transport: the SDK's aiohttp one (default) or its httpx one.",
    )

    model_listing: bool | None = Field(
        default=None,
        description="Read Novita's GET /models before the first request (default on; env "
        "NOVITA_MODEL_LISTING=0 turns it off).",
    )

    _connection: Connection | None = PrivateAttr(default=None)

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        # Before pydantic's bare "extra inputs" error, unless a subclass lets extra inputs in.
        if type(self).model_config.get("extra") == "forbid":
            unknown = sorted(set(kwargs) - constructor_names(type(self)))
            if unknown:
                raise _unknown_arguments(type(self), unknown)
        # The key is a secret whichever form it came in; the callback manager is never None.
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        super().__init__(
            api_key=SecretStr(api_key) if api_key else None,
            callback_manager=callback_manager or CallbackManager([]),
            **kwargs,
        )

    def _resolved_settings(self) -> NovitaSettings:
        """The core settings for the current field values (raises for a missing key)."""
        return self._current_connection().settings

    @property
    def _novita(self) -> NovitaClient:
        """The core client for the current field values (built on first use)."""
        return self._current_connection().client

    @property
    def base_url(self) -> str:
        """The resolved base URL requests go to."""
        return self._resolved_settings().base_url


def _closest(name: str, fields: list[str]) -> str | None:
    """The field a misspelt keyword, or the core's name for a setting, most likely meant."""
    if name in _RENAMED:
        return _RENAMED[name]
    matches = difflib.get_close_matches(name, fields, n=1)
    return matches[0] if matches else None


def _unknown_arguments(model_cls: type[BaseModel], unknown: list[str]) -> InvalidParameterError:
    """The error for constructor keywords ``model_cls`` has no field for, with what it has."""
    fields = sorted(model_cls.model_fields)
    guesses = []
    for name in unknown:
        closest = _closest(name, fields)
        guesses.append(f"{name!r} (did you mean {closest!r}?)" if closest else repr(name))
    elsewhere = (
        " Other request parameters go in additional_kwargs={...}."
        if "additional_kwargs" in model_cls.model_fields
        else ""
    )
    return InvalidParameterError(
        f"Unknown parameter(s) {', '.join(guesses)} for {model_cls.__name__}. "
        f"Valid fields: {', '.join(fields)}.{elsewhere}"
    )


NovitaConnection = NovitaLlamaConnection
"""The former name (the LangChain adapter has a ``NovitaConnection`` of its own)."""
