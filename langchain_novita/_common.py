"""Plumbing shared by the three classes: accepted names, per-call kwargs, settings.

Every Novita fact (parameter names, types, ranges, env vars, defaults) comes from
:mod:`novita_core`; this module only maps pydantic fields onto the core's parameter table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, SecretStr

from novita_core.params import Endpoint, InvalidParameterError, parameter_names, validate_params
from novita_core.settings import NovitaSettings

JsonDict = dict[str, Any]
"""A JSON object (``dict`` is shadowed inside LangChain model classes by ``.dict()``)."""

CALL_OPTIONS = frozenset({"extra_body", "stream_usage"})
"""Per-call kwargs that are adapter options, not request fields."""

LANGCHAIN_CALL_KWARGS = frozenset({"ls_structured_output_format"})
"""Per-call kwargs LangChain itself binds (and pops before the model sees them)."""

LEGACY_INIT_KWARGS = frozenset({"callback_manager"})
"""Constructor kwargs langchain-core still accepts and translates."""


def accepted_init_names(model_cls: type[BaseModel]) -> frozenset[str]:
    """Every constructor keyword a model class accepts: field names and all their aliases."""
    names: set[str] = set(LEGACY_INIT_KWARGS)
    for name, info in model_cls.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(choice for choice in alias.choices if isinstance(choice, str))
    return frozenset(names)


def check_init_kwargs(
    values: Any, model_cls: type[BaseModel], endpoint: Endpoint, wire_fields: Iterable[str]
) -> Any:
    """Reject constructor kwargs that are neither fields nor known request parameters.

    A request parameter of the endpoint that has no dedicated field (``user``,
    ``response_format`` ...) is moved into ``model_kwargs``, where the core validates it.

    Raises:
        InvalidParameterError: for an unknown name, naming the valid ones.
    """
    if not isinstance(values, Mapping):
        return values
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
                f"{', '.join(sorted(set(wire_fields) | {'model', 'api_key', 'base_url'}))}; other "
                f"{endpoint} request parameters: {', '.join(sorted(table - set(wire_fields)))}. "
                "Send fields this package does not know yet with extra_body={...}."
            )
        extra_kwargs[key] = moved.pop(key)
    moved["model_kwargs"] = extra_kwargs
    return moved


def check_model_kwargs(
    model_kwargs: Mapping[str, Any], endpoint: Endpoint, wire_fields: Iterable[str]
) -> None:
    """``model_kwargs`` may hold only request parameters that have no dedicated field."""
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


def resolve_settings(
    *,
    api_key: SecretStr | None,
    base_url: str | None,
    timeout: float | None,
    max_retries: int | None,
    default_headers: Mapping[str, str] | None,
    http_client: Any,
    http_async_client: Any,
) -> NovitaSettings:
    """The core settings for a model's connection fields (env fallbacks are the core's)."""
    return NovitaSettings.resolve(
        api_key=api_key.get_secret_value() if api_key is not None else None,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        default_headers=default_headers,
        http_client=http_client,
        http_async_client=http_async_client,
    )


def merge_extra_body(*bodies: Mapping[str, Any] | None) -> JsonDict | None:
    """Merge ``extra_body`` dicts (later wins); None when all are empty."""
    merged: JsonDict = {}
    for body in bodies:
        if body:
            merged.update(body)
    return merged or None
