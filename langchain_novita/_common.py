"""Plumbing shared by the three classes: accepted names, per-call kwargs, settings.

Every Novita fact (parameter names, types, ranges, env vars, defaults) comes from
:mod:`novita_core`; this module only maps pydantic fields onto the core's parameter table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from langchain_core.language_models import LangSmithParams
from langchain_core.utils.utils import secret_from_env
from pydantic import AliasChoices, BaseModel, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from langchain_novita._messages import MODEL_PROVIDER
from novita_core.concurrency import DEFAULT_MAX_CONCURRENCY
from novita_core.connection import ConnectedModel, Connection, constructor_names
from novita_core.params import (
    Endpoint,
    InvalidParameterError,
    Request,
    bound_fields,
    build_request,
    canonical,
    check_one_choice_stream,
    check_raw_values,
    parameter_names,
    validate_params,
)
from novita_core.retry_policy import RetryPolicy
from novita_core.settings import (
    API_KEY_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_TIMEOUT,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun

    from novita_core.client import NovitaClient
    from novita_core.retry import OnRetry

JsonDict = dict[str, Any]
"""A JSON object (``dict`` is shadowed inside LangChain model classes by ``.dict()``)."""

CALL_OPTIONS = frozenset({"extra_body", "stream_usage"})
"""Per-call kwargs that are adapter options, not request fields."""

LANGCHAIN_CALL_KWARGS = frozenset({"ls_structured_output_format"})
"""Per-call kwargs LangChain itself binds (and pops before the model sees them)."""

LEGACY_INIT_KWARGS = frozenset({"callback_manager"})
"""Constructor kwargs langchain-core still accepts and translates."""


def accepted_init_names(model_cls: type[BaseModel]) -> frozenset[str]:
    """Every constructor keyword a model class accepts: field names, aliases, legacy names."""
    return constructor_names(model_cls) | LEGACY_INIT_KWARGS


def check_init_kwargs(
    values: Any, model_cls: type[BaseModel], endpoint: Endpoint, wire_fields: Iterable[str]
) -> Any:
    """Reject constructor kwargs that are neither fields nor known request parameters.

    A request parameter of the endpoint that has no dedicated field (``user``,
    ``response_format`` ...) is moved into ``model_kwargs``, where the core validates it.

    Request parameters are also checked as given (:func:`~novita_core.params.check_raw_values`),
    because pydantic would turn ``temperature=True`` into ``1.0``.

    Raises:
        InvalidParameterError: for an unknown name, naming the valid ones, or a boolean given
            for a number.
    """
    if not isinstance(values, Mapping):
        return values
    check_raw_values(endpoint, values)
    accepted = accepted_init_names(model_cls)
    unknown = [key for key in values if key not in accepted]
    if not unknown:
        return values
    table = set(parameter_names(endpoint))
    moved = dict(values)
    extra_kwargs = dict(moved.get("model_kwargs") or {})
    for key in unknown:
        if key not in table:
            raise InvalidParameterError(
                f"Unknown parameter {key!r} for {model_cls.__name__}. Valid fields: "
                f"{', '.join(sorted(model_cls.model_fields))}; other "
                f"{endpoint} request parameters: {', '.join(sorted(table - set(wire_fields)))}. "
                "Send fields this package does not know yet with extra_body={...}."
            )
        extra_kwargs[key] = moved.pop(key)
    moved["model_kwargs"] = extra_kwargs
    return moved


def check_model_kwargs(
    model_kwargs: Mapping[str, Any], endpoint: Endpoint, wire_fields: Iterable[str]
) -> None:
    """``model_kwargs`` may hold only valid request parameters that have no dedicated field."""
    fields = set(wire_fields)
    for key in model_kwargs:
        if key in fields:
            raise InvalidParameterError(
                f"{key!r} is a field: pass {key}=... directly instead of in model_kwargs"
            )
    validate_params(endpoint, model_kwargs)


def split_call_kwargs(kwargs: Mapping[str, Any]) -> tuple[JsonDict, JsonDict]:
    """Split per-call kwargs into request fields and adapter options (``extra_body`` ...)."""
    fields: JsonDict = {}
    options: JsonDict = {}
    for key, value in kwargs.items():
        if key in CALL_OPTIONS:
            options[key] = value
        elif key not in LANGCHAIN_CALL_KWARGS:
            fields[key] = value
    return fields, options


def secret_value(key: SecretStr | str | None) -> str | None:
    """The plain key (``model_copy(update=...)`` may have put a ``str`` where a secret was)."""
    return key.get_secret_value() if isinstance(key, SecretStr) else key


class NovitaConnection(ConnectedModel, BaseModel):
    """Where and how to reach Novita: the fields ChatNovita, Novita and NovitaEmbeddings share.

    Defaults and environment fallbacks are the core's (:class:`novita_core.NovitaSettings`);
    reconnection, pickling and deep copies are the core's :class:`ConnectedModel`.
    """

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(API_KEY_ENV, default=None),
        validation_alias=AliasChoices("api_key", "novita_api_key"),
    )
    """Novita API key; defaults to ``$NOVITA_API_KEY``. Never printed or serialized."""
    base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("base_url", "novita_api_base", "api_base")
    )
    """OpenAI-compatible base URL; resolved by the core from the environment when unset."""
    timeout: float | tuple[float | None, float | None] | Any = Field(
        default=DEFAULT_TIMEOUT, validation_alias=AliasChoices("timeout", "request_timeout")
    )
    """Seconds per HTTP attempt, a ``(connect, read)`` pair, an ``httpx.Timeout`` /
    ``httpx2.Timeout`` (the installed openai's), or None for the SDK default."""
    # strict: pydantic would otherwise take ``True`` for 1 before the core could refuse it.
    max_retries: int | None = Field(default=DEFAULT_MAX_RETRIES, strict=True)
    """Retries after the first attempt (408/409/429/5xx, connection errors, timeouts)."""
    max_retry_wait: float = Field(default=DEFAULT_MAX_RETRY_WAIT, ge=0)
    """Longest ``Retry-After`` (seconds) a retry waits; a longer one raises at once."""
    retry_policy: RetryPolicy | None = Field(default=None, exclude=True)
    """What is retried and the backoff between attempts (default: the core's
    :class:`~novita_core.RetryPolicy`); ``max_retry_wait`` above replaces its own."""
    default_headers: dict[str, str] | None = None
    """Extra headers on every request."""
    http_client: Any = Field(default=None, exclude=True)
    """A sync ``httpx.Client`` (openai 2.x) or ``httpx2.Client`` (openai 3.x) to send with."""
    http_async_client: Any = Field(default=None, exclude=True)
    """The async counterpart, for ``ainvoke``/``astream``/``abatch``."""
    async_transport: Literal["aiohttp", "httpx"] | None = None
    """Async transport: the SDK's aiohttp one (default) or its httpx one; env
    ``NOVITA_ASYNC_TRANSPORT``. Ignored when ``http_async_client`` is given."""

    model_listing: bool | None = None
    """Read Novita's ``GET /models`` before the first request to the base URL (default on; env
    ``NOVITA_MODEL_LISTING=0`` turns it off). Profiles of models built afterwards follow it."""

    _connection: Connection | None = PrivateAttr(default=None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy, with ``update`` applied; the copy talks to the connection fields it holds.

        Pydantic skips validation here, so a plain-text ``api_key`` is wrapped as a secret and
        the connection is resolved at once (a bad ``base_url`` or ``timeout`` fails now).
        """
        if update and isinstance(update.get("api_key"), str):
            update = {**update, "api_key": SecretStr(update["api_key"])}
        copied = super().model_copy(update=update, deep=deep)
        copied._connect()
        return copied

    def _connect(self) -> None:
        """Resolve the settings now (raising for a missing key or a bad URL or timeout)."""
        self.base_url = self._current_connection().settings.base_url

    @property
    def _client(self) -> NovitaClient:
        """The core client for the current connection fields."""
        return self._current_connection().client


class NovitaFanOut(BaseModel):
    """The fields of a class one call of which may send several requests (embeddings, rerank)."""

    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, gt=0)
    """Most requests one async call keeps in flight when its input is split into several (sync
    calls send one at a time). Novita's rate limits are per account: keep it small when many
    workers share a key."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into each JSON body as given."""


class NovitaGeneration(NovitaConnection):
    """Sampling fields and their validation, shared by ChatNovita and Novita.

    Subclasses name their endpoint in ``_endpoint``; every field named like a row of the core's
    parameter table for that endpoint is a request parameter (see :func:`wire_fields`).
    """

    _endpoint: ClassVar[Endpoint]
    _ls_model_type: ClassVar[Literal["chat", "llm"]]

    temperature: float | None = None
    """Sampling temperature, 0 to 2 (lower is more deterministic)."""
    top_p: float | None = None
    """Nucleus sampling: keep the likeliest tokens up to this probability mass (0 < top_p <= 1)."""
    max_tokens: int | None = Field(
        default=None, validation_alias=AliasChoices("max_tokens", "max_completion_tokens")
    )
    """Most tokens to generate (``max_completion_tokens`` is accepted too, as in ChatOpenAI)."""
    stop: list[str] | str | None = Field(
        default=None, validation_alias=AliasChoices("stop", "stop_sequences")
    )
    """Up to 4 sequences that end the generation (``stop_sequences`` is accepted too)."""
    n: int | None = None
    """Choices to generate per prompt (1 to 128; one only on a stream)."""
    presence_penalty: float | None = None
    """-2 to 2: positive values penalise tokens that already appeared."""
    frequency_penalty: float | None = None
    """-2 to 2: positive values penalise tokens by how often they appeared."""
    repetition_penalty: float | None = None
    """Novita-only, 0 < value <= 2: 1.0 is none, above 1 discourages repetition."""
    top_k: int | None = None
    """Novita-only: sample from the ``top_k`` most likely tokens (1 to 128)."""
    min_p: float | None = None
    """Novita-only, 0 to 1: drop tokens less likely than ``min_p`` times the top token."""
    logit_bias: dict[str | int, int | float] | None = None
    """Token id -> bias from -100 to 100, added to that token's logit."""
    seed: int | None = None
    """Seed for best-effort deterministic sampling."""
    streaming: bool = False
    """Stream by default (``invoke`` aggregates the chunks)."""
    stream_usage: bool = True
    """Ask Novita for token usage at the end of streams."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request parameters of Novita's table that have no field (``user`` ...)."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into the JSON body as given (for server fields the table lacks)."""

    # LangChain reads the parameters three times per call (invocation params, LangSmith params,
    # the request): they are read from the fields once, and again after a field is set.
    _params: JsonDict | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            super().__setattr__("_params", None)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy, with ``update`` applied (see :meth:`NovitaConnection.model_copy`)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._params = None
        return copied

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_kwargs(cls, values: Any) -> Any:
        return check_init_kwargs(values, cls, cls._endpoint, wire_fields(cls, cls._endpoint))

    @model_validator(mode="after")
    def _connect_novita(self) -> Self:
        if self.stop == []:
            self.stop = None
        endpoint = self._endpoint
        check_model_kwargs(self.model_kwargs, endpoint, wire_fields(type(self), endpoint))
        validate_params(endpoint, {**self._default_params, **self.model_kwargs})
        self._connect()
        return self

    @property
    def _default_params(self) -> JsonDict:
        """The request parameters set on this instance (None = left to the server).

        Shared between calls: callers copy it (``{**self._default_params, ...}``).
        """
        params = self._params
        if params is None:
            params = self._params = wire_params(self, self._endpoint)
        return params

    def _request(
        self, stop: list[str] | None, stream: bool, kwargs: dict[str, Any], **payload: Any
    ) -> Request:
        """A validated core request for this class's endpoint.

        From the fields, ``model_kwargs``, the per-call kwargs and ``payload`` (the messages or
        the prompt).
        """
        endpoint = self._endpoint
        kwargs.pop("stream", None)
        fields, options = split_call_kwargs(kwargs)
        params: JsonDict = {
            **self._default_params,
            **self.model_kwargs,
            **canonical(endpoint, fields),
        }
        if stop:
            params["stop"] = stop
        elif not params.get("stop"):
            params.pop("stop", None)
        params.update(payload)
        if stream:
            params["stream"] = True
            check_one_choice_stream(params)
            if not options.get("stream_usage", self.stream_usage):
                params.setdefault("stream_options", {"include_usage": False})
        return build_request(
            endpoint,
            params,
            extra_body=merge_extra_body(self.extra_body, options.get("extra_body")),
        )

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = {**self._default_params, **kwargs}
        ls_params = LangSmithParams(
            ls_provider=MODEL_PROVIDER,
            ls_model_name=str(params.get("model") or getattr(self, "model", "")),
            ls_model_type=self._ls_model_type,
            ls_temperature=params.get("temperature"),
        )
        if params.get("max_tokens") is not None:
            ls_params["ls_max_tokens"] = params["max_tokens"]
        stop_value = stop or params.get("stop")
        if stop_value:
            ls_params["ls_stop"] = [stop_value] if isinstance(stop_value, str) else stop_value
        return ls_params

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Secret fields and the env var ``loads`` reads them from."""
        return {"api_key": API_KEY_ENV}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """``dumps``/``loads`` round-trip (the key is replaced by a reference to its env var)."""
        return True

    @property
    def _identifying_params(self) -> JsonDict:
        return {
            "model_name": getattr(self, "model", None),
            "base_url": self.base_url,
            **self._default_params,
        }


def wire_params(model: BaseModel, endpoint: Endpoint) -> JsonDict:
    """The request parameters set on ``model``: fields named like a table row, minus None."""
    params = {name: getattr(model, name) for name in wire_fields(type(model), endpoint)}
    return {key: value for key, value in params.items() if value is not None}


def wire_fields(model_cls: type[BaseModel], endpoint: Endpoint) -> tuple[str, ...]:
    """Fields of ``model_cls`` that are request parameters of ``endpoint`` (the core's binding)."""
    return bound_fields(model_cls, endpoint)


def retry_callback(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
) -> OnRetry | None:
    """What tells the run's callbacks of each retry (``on_retry``), as ChatOpenAI's kin do."""
    return run_manager.on_retry if run_manager is not None else None


def merge_extra_body(*bodies: Mapping[str, Any] | None) -> JsonDict | None:
    """Merge ``extra_body`` dicts (later wins); None when all are empty."""
    merged: JsonDict = {}
    for body in bodies:
        if body:
            merged.update(body)
    return merged or None
