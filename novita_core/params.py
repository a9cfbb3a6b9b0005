"""THE parameter table: each request field Novita accepts, its type, range, endpoints, wire place.

Adding a parameter means adding one row here (and a typed field on each adapter). Everything
else — validation with a clear error before any HTTP request, the split between the ``openai``
client's keywords and ``extra_body``, dropping ``None`` — is derived from the table by
:func:`build_request`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from novita_core.errors import NovitaError

Endpoint = Literal["chat", "completions", "embeddings", "rerank"]

CHAT: Endpoint = "chat"
COMPLETIONS: Endpoint = "completions"
EMBEDDINGS: Endpoint = "embeddings"
RERANK: Endpoint = "rerank"

ENDPOINT_PATHS: dict[Endpoint, str] = {
    CHAT: "/chat/completions",
    COMPLETIONS: "/completions",
    EMBEDDINGS: "/embeddings",
    RERANK: "/rerank",
}


class Wire(Enum):
    """Where a parameter travels in the ``openai`` client call."""

    KWARG = "kwarg"
    """A named argument of the SDK's ``create()`` (OpenAI-standard)."""
    EXTRA_BODY = "extra_body"
    """Novita-only: not in the SDK's signature (passing it as a keyword is a ``TypeError``), so it
    rides in ``extra_body``."""


class InvalidParameterError(NovitaError, ValueError):
    """A request parameter is unknown, of the wrong type, or out of range."""


@dataclass(frozen=True)
class ParamSpec:
    """One row of the table.

    Args:
        name: Wire name of the field.
        types: Accepted Python types (``bool`` is never accepted as a number).
        endpoints: Endpoints that accept the field.
        wire: Keyword of the SDK call or ``extra_body``.
        low: Lower bound, if any.
        high: Upper bound, if any.
        low_open: Whether ``low`` itself is excluded.
        high_open: Whether ``high`` itself is excluded.
        max_items: Most items a list value may hold.
        item_types: Accepted types of every item of a list value, if checked.
        choices: The allowed values of a string (or the allowed ``type`` of a dict).
        required: Whether a request without it is refused.
        doc: One line for the README and error messages.
        alias_of: Another row's name: the value is checked here and sent under that name.
    """

    name: str
    types: tuple[type, ...]
    endpoints: frozenset[Endpoint]
    wire: Wire = Wire.KWARG
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    max_items: int | None = None
    item_types: tuple[type, ...] | None = None
    choices: tuple[str, ...] | None = None
    required: bool = False
    doc: str = ""
    alias_of: str | None = None

    def describe_range(self) -> str:
        """Human-readable allowed range, e.g. ``0 <= temperature <= 2``."""
        if self.low is not None and self.high is not None:
            left = "<" if self.low_open else "<="
            right = "<" if self.high_open else "<="
            return f"{_num(self.low)} {left} {self.name} {right} {_num(self.high)}"
        if self.low is not None:
            return f"{self.name} {'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{self.name} {'<' if self.high_open else '<='} {_num(self.high)}"
        if self.choices:
            return f"{self.name} in {list(self.choices)}"
        return ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_BOTH = frozenset({CHAT, COMPLETIONS})
_CHAT = frozenset({CHAT})
_COMPLETIONS = frozenset({COMPLETIONS})
_EMBEDDINGS = frozenset({EMBEDDINGS})
_ALL = frozenset({CHAT, COMPLETIONS, EMBEDDINGS})
_RERANK = frozenset({RERANK})
_NUMBER = (int, float)
_EXTRA = Wire.EXTRA_BODY

# Ranges are those Novita's API documentation gives; where its notation is loose, the OpenAI range.
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "model", (str,), _ALL | _RERANK, required=True, doc="Novita model id, e.g. provider/name"
    ),
    ParamSpec("messages", (list,), _CHAT, required=True, doc="OpenAI-style chat messages"),
    ParamSpec("prompt", (str, list), _COMPLETIONS, required=True, doc="prompt text(s)"),
    ParamSpec("input", (str, list), _EMBEDDINGS, required=True, doc="text(s) to embed"),
    ParamSpec("max_tokens", (int,), _BOTH, low=1, doc="most tokens to generate"),
    ParamSpec(
        "max_completion_tokens",
        (int,),
        _BOTH,
        low=1,
        alias_of="max_tokens",
        doc="OpenAI's newer name for max_tokens; sent as max_tokens, which Novita reads",
    ),
    ParamSpec("stream", (bool,), _BOTH, doc="server-sent events"),
    ParamSpec("stream_options", (dict,), _BOTH, doc="{'include_usage': bool}; streams only"),
    ParamSpec("temperature", _NUMBER, _BOTH, low=0, high=2, doc="sampling temperature"),
    ParamSpec("top_p", _NUMBER, _BOTH, low=0, high=1, low_open=True, doc="nucleus sampling"),
    ParamSpec("stop", (str, list), _BOTH, max_items=4, doc="up to 4 stop sequences"),
    ParamSpec("n", (int,), _BOTH, low=1, high=128, doc="choices to generate"),
    ParamSpec("presence_penalty", _NUMBER, _BOTH, low=-2, high=2, doc="penalise seen tokens"),
    ParamSpec("frequency_penalty", _NUMBER, _BOTH, low=-2, high=2, doc="penalise frequent tokens"),
    ParamSpec("logit_bias", (dict,), _BOTH, low=-100, high=100, doc="token id -> bias"),
    ParamSpec("seed", (int,), _BOTH, doc="best-effort determinism"),
    ParamSpec("logprobs", (bool,), _CHAT, doc="return token log-probabilities"),
    ParamSpec("logprobs", (int,), _COMPLETIONS, low=0, high=5, doc="top log-probabilities"),
    ParamSpec("top_logprobs", (int,), _CHAT, low=0, high=20, doc="needs logprobs=True"),
    ParamSpec("echo", (bool,), _COMPLETIONS, doc="echo the prompt"),
    ParamSpec("best_of", (int,), _COMPLETIONS, low=1, high=20, doc=">= n; no streaming"),
    ParamSpec("suffix", (str,), _COMPLETIONS, doc="text after the completion"),
    ParamSpec("tools", (list,), _CHAT, doc="function tools"),
    ParamSpec(
        "tool_choice",
        (str, dict),
        _CHAT,
        choices=("auto", "none", "required"),
        doc="auto | none | required | {'type': 'function', ...}",
    ),
    ParamSpec("parallel_tool_calls", (bool,), _CHAT, doc="allow several tool calls"),
    ParamSpec(
        "response_format",
        (dict,),
        _CHAT,
        choices=("text", "json_object", "json_schema"),
        doc="{'type': text | json_object | json_schema}",
    ),
    ParamSpec("user", (str,), _ALL, doc="end-user id"),
    ParamSpec(
        "repetition_penalty",
        _NUMBER,
        _BOTH,
        _EXTRA,
        low=0,
        high=2,
        low_open=True,
        doc="1.0 = none; > 1 discourages repetition",
    ),
    ParamSpec("top_k", (int,), _BOTH, _EXTRA, low=1, high=128, doc="sample from the k best tokens"),
    ParamSpec("min_p", _NUMBER, _BOTH, _EXTRA, low=0, high=1, doc="min probability vs. top token"),
    ParamSpec("separate_reasoning", (bool,), _CHAT, _EXTRA, doc="return reasoning_content apart"),
    ParamSpec("enable_thinking", (bool,), _CHAT, _EXTRA, doc="hybrid models: think first"),
    ParamSpec(
        "thinking",
        (dict,),
        _CHAT,
        _EXTRA,
        choices=("enabled", "disabled"),
        doc="{'type': 'enabled' | 'disabled'}: the reasoning switch of newer hybrid models",
    ),
    ParamSpec(
        "reasoning_effort",
        (str,),
        _CHAT,
        doc="reasoning depth; the values each model takes are in its catalog entry",
    ),
    ParamSpec("dimensions", (int,), _EMBEDDINGS, low=1, doc="output vector length"),
    ParamSpec("encoding_format", (str,), _EMBEDDINGS, choices=("float",), doc="float only"),
    ParamSpec("query", (str,), _RERANK, required=True, doc="what the documents are ranked for"),
    ParamSpec("documents", (list,), _RERANK, item_types=(str,), required=True, doc="texts to rank"),
    ParamSpec("top_n", (int,), _RERANK, low=1, doc="how many of the best documents to return"),
)

_TABLE: dict[Endpoint, dict[str, ParamSpec]] = {
    endpoint: {spec.name: spec for spec in PARAMETERS if endpoint in spec.endpoints}
    for endpoint in (CHAT, COMPLETIONS, EMBEDDINGS, RERANK)
}


_ALIASES = frozenset(spec.name for spec in PARAMETERS if spec.alias_of is not None)


def spec_for(endpoint: Endpoint, name: str) -> ParamSpec | None:
    """The table row for ``name`` on ``endpoint``, if the endpoint accepts it."""
    return _TABLE[endpoint].get(name)


def parameter_names(endpoint: Endpoint) -> list[str]:
    """Every parameter ``endpoint`` accepts, in table order."""
    return list(_TABLE[endpoint])


CALL_PARAMETERS = frozenset(
    {
        "messages",
        "prompt",
        "input",
        "query",
        "documents",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
    }
)
"""Rows each call supplies (its input, streaming, tools, output format, end user): an adapter
takes them per call (or in ``model_kwargs``/``additional_kwargs``), not as typed fields."""


def field_parameters(*endpoints: Endpoint) -> tuple[str, ...]:
    """The parameters of ``endpoints`` an adapter class holds as typed fields, in table order.

    Every row but the :data:`CALL_PARAMETERS` and the aliases (``max_completion_tokens`` is
    the field ``max_tokens`` under another name).
    """
    names: dict[str, None] = {}
    for endpoint in endpoints:
        for name, spec in _TABLE[endpoint].items():
            if name not in CALL_PARAMETERS and spec.alias_of is None:
                names[name] = None
    return tuple(names)


@functools.cache
def bound_fields(model_cls: type, *endpoints: Endpoint) -> tuple[str, ...]:
    """The fields of ``model_cls`` that are request parameters of ``endpoints``.

    ``model_cls`` is a pydantic model class (its ``model_fields`` name the fields); the one
    binding of adapter fields to this table, by name, for both adapters.
    """
    allowed = frozenset(field_parameters(*endpoints))
    fields: Mapping[str, Any] = getattr(model_cls, "model_fields", {})
    return tuple(name for name in fields if name in allowed)


@dataclass(frozen=True)
class Request:
    """A validated request, split the way the ``openai`` client wants it.

    Args:
        endpoint: Which endpoint it is for.
        body: OpenAI-standard fields (the SDK's keywords).
        extra_body: Novita fields and the caller's own ``extra_body``; the SDK merges them into
            the top level of the JSON body.
    """

    endpoint: Endpoint
    body: dict[str, Any]
    extra_body: dict[str, Any]

    @property
    def path(self) -> str:
        """Resource path appended to the base URL."""
        return ENDPOINT_PATHS[self.endpoint]

    def json(self) -> dict[str, Any]:
        """The JSON body exactly as it goes out (a Batch API line's ``body``)."""
        return {**self.body, **self.extra_body}


_TOOL_CHOICES: dict[Any, str] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
    "any": "required",
    True: "required",
    False: "none",
}
"""Framework ``tool_choice`` spellings -> the OpenAI values Novita accepts."""


def wire_tool_choice(choice: Any) -> Any:
    """A framework's ``tool_choice`` as Novita takes it.

    A keyword (``any``/``True`` mean ``required``, ``False`` means ``none``), a tool's name as
    ``{"type": "function", ...}``, or a dict as given.
    """
    if isinstance(choice, (str, bool)) and choice in _TOOL_CHOICES:
        return _TOOL_CHOICES[choice]
    if isinstance(choice, str):
        return {"type": "function", "function": {"name": choice}}
    return choice


def check_tool_choice(choice: Any, tools: Any) -> None:
    """A ``tool_choice`` naming a function must name one of the request's ``tools``.

    Novita answers such a request with a 400 (or, on some models, ignores the choice), so the
    mismatch is reported before anything is sent. Keyword choices (``auto``, ...) pass.

    Raises:
        InvalidParameterError: the named function is not among ``tools``.
    """
    if not isinstance(choice, Mapping) or choice.get("type") != "function":
        return
    function = choice.get("function")
    name = function.get("name") if isinstance(function, Mapping) else None
    names = [
        tool["function"].get("name")
        for tool in tools or ()
        if isinstance(tool, Mapping)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), Mapping)
    ]
    if name not in names:
        raise InvalidParameterError(
            f"tool_choice names the tool {name!r}, which is not among the bound tools "
            f"{names}; use one of those names, 'auto', 'none' or 'required'."
        )


def build_request(
    endpoint: Endpoint,
    params: Mapping[str, Any],
    *,
    extra_body: Mapping[str, Any] | None = None,
) -> Request:
    """Validate ``params`` against the table and split them into SDK keywords and ``extra_body``.

    ``None`` values are dropped (the SDK would send them as JSON ``null``). A stream asks for its
    usage (``stream_options.include_usage``) unless ``stream_options`` is given. ``extra_body`` is
    the explicit escape hatch for server fields this table does not know; it is sent as given.

    Raises:
        InvalidParameterError: unknown name, wrong type, or value out of range; no request is
            sent.
    """
    table = _TABLE[endpoint]
    body: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        spec = table.get(name)
        if spec is None:
            raise _unknown(endpoint, name)
        _check(spec, value)
        if spec.alias_of is not None:
            name = _resolve_alias(spec, params)
        if spec.wire is _EXTRA:
            extras[name] = value
        else:
            body[name] = value
    for spec in table.values():
        if spec.required and spec.name not in body:
            raise InvalidParameterError(f"{spec.name} is required for the {endpoint} endpoint")
    _check_combinations(endpoint, body)
    if body.get("stream") and "stream_options" not in body:
        # Usage on streams is what token counters and cost tracking need; Novita sends it only
        # when asked.
        body["stream_options"] = {"include_usage": True}
    if extra_body:
        extras.update(extra_body)
    return Request(endpoint, body, extras)


def validate_params(endpoint: Endpoint, params: Mapping[str, Any]) -> None:
    """Check names, types, ranges and combinations without requiring ``model``/``messages``.

    Adapters call it at construction, so a bad field fails before any request is built.
    """
    table = _TABLE[endpoint]
    present = {name: value for name, value in params.items() if value is not None}
    for name, value in present.items():
        spec = table.get(name)
        if spec is None:
            raise _unknown(endpoint, name)
        _check(spec, value)
        if spec.alias_of is not None:
            _resolve_alias(spec, present)
    _check_combinations(endpoint, present)


def check_raw_values(endpoint: Endpoint, values: Mapping[str, Any]) -> None:
    """Check the request parameters among ``values`` as given, before a framework coerces them.

    Pydantic fields turn ``True`` into ``1.0`` for a float and ``"yes"`` into ``True`` for a
    boolean, so an adapter calls this on its raw constructor arguments: every value is checked
    as it would be per call (a boolean for a numeric parameter, a string for a switch, a dict
    holding one: ``logit_bias={"42": True}``). Names that are not parameters of ``endpoint`` are
    ignored.

    Raises:
        InvalidParameterError: naming the parameter and the type it takes.
    """
    table = _TABLE[endpoint]
    for name, value in values.items():
        spec = table.get(name)
        if spec is not None and value is not None:
            _check(spec, value)


def check_one_choice_stream(params: Mapping[str, Any]) -> None:
    """Refuse ``n > 1`` on a stream where the caller can receive only one message.

    The framework adapters stream a single message, so the other choices would be dropped
    silently.

    Raises:
        InvalidParameterError: ``stream`` is set and ``n`` is above 1.
    """
    n = params.get("n")
    if params.get("stream") and isinstance(n, int) and n > 1:
        raise InvalidParameterError(
            f"n={n} cannot be streamed: a stream here is one message, so choices after the "
            "first would be lost. Use n=1 to stream, or call without streaming for several "
            "choices."
        )


def canonical(endpoint: Endpoint, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with alias names (``max_completion_tokens``) renamed to the rows they stand for.

    Adapters apply it to each layer (fields, ``model_kwargs``, per-call kwargs) before merging
    the layers, so that an alias given per call overrides the field it stands for.

    Raises:
        InvalidParameterError: an alias and its target with different values in ``params``.
    """
    table = _TABLE[endpoint]
    if not any(name in _ALIASES for name in params):
        return dict(params)
    renamed: dict[str, Any] = {}
    for name, value in params.items():
        spec = table.get(name)
        if spec is not None and spec.alias_of is not None and value is not None:
            renamed[_resolve_alias(spec, params)] = value
        elif name not in renamed:
            renamed[name] = value
    return renamed


def _resolve_alias(spec: ParamSpec, params: Mapping[str, Any]) -> str:
    """The wire name of an alias row; refuses the alias and its target with different values."""
    target = spec.alias_of or spec.name
    other = params.get(target)
    if other is not None and other != params[spec.name]:
        raise InvalidParameterError(
            f"{spec.name} is another name for {target}; pass one of them, not both "
            f"({spec.name}={params[spec.name]!r}, {target}={other!r})"
        )
    return target


def _unknown(endpoint: Endpoint, name: str) -> InvalidParameterError:
    valid = ", ".join(sorted(_TABLE[endpoint]))
    return InvalidParameterError(
        f"Unknown parameter {name!r} for the Novita {endpoint} endpoint. Valid parameters: "
        f"{valid}. Send fields this package does not know yet with extra_body={{...}}."
    )


def _check(spec: ParamSpec, value: Any) -> None:
    if isinstance(value, bool) and bool not in spec.types:
        raise _type_error(spec, value)
    if not isinstance(value, spec.types):
        raise _type_error(spec, value)
    checker = _SHAPE_CHECKS.get(type(value))
    if checker is not None:
        checker(spec, value)


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a dict",
}


def _type_error(spec: ParamSpec, value: Any) -> InvalidParameterError:
    kinds = [t for t in spec.types if not (t is int and float in spec.types)]
    expected = " or ".join(_TYPE_NAMES[t] for t in kinds)
    return InvalidParameterError(
        f"{spec.name} must be {expected}, got {type(value).__name__} {value!r}"
    )


def _check_number(spec: ParamSpec, value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidParameterError(f"{spec.name} must be a finite number, got {value!r}")
    too_low = spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low)
    too_high = spec.high is not None and (
        value >= spec.high if spec.high_open else value > spec.high
    )
    if too_low or too_high:
        raise InvalidParameterError(
            f"{spec.name} must satisfy {spec.describe_range()}, got {value!r}"
        )


def _check_str(spec: ParamSpec, value: str) -> None:
    if spec.choices and value not in spec.choices:
        alternative = " or a dict" if dict in spec.types else ""
        raise InvalidParameterError(
            f"{spec.name} must be one of {list(spec.choices)}{alternative}, got {value!r}"
        )
    if spec.required and not value:
        raise InvalidParameterError(f"{spec.name} must not be empty")


def _check_list(spec: ParamSpec, value: list[Any]) -> None:
    if spec.max_items is not None and len(value) > spec.max_items:
        raise InvalidParameterError(
            f"{spec.name} accepts at most {spec.max_items} items, got {len(value)}"
        )
    if spec.required and not value:
        raise InvalidParameterError(f"{spec.name} must not be empty")
    if spec.name == "stop" and not all(isinstance(item, str) for item in value):
        raise InvalidParameterError("stop must be a string or a list of strings")
    if spec.item_types is not None:
        for position, item in enumerate(value):
            if not isinstance(item, spec.item_types):
                expected = " or ".join(_TYPE_NAMES[t].split(" ", 1)[1] for t in spec.item_types)
                raise InvalidParameterError(
                    f"{spec.name} must be a list of {expected}s, got {type(item).__name__} "
                    f"{item!r} at position {position}"
                )


def _is_token_id(token: object) -> bool:
    if isinstance(token, str):
        return token.isascii() and token.isdigit()
    return isinstance(token, int) and not isinstance(token, bool) and token >= 0


def _check_dict(spec: ParamSpec, value: dict[Any, Any]) -> None:
    if spec.name == "logit_bias":
        for token, bias in value.items():
            if not _is_token_id(token):
                raise InvalidParameterError(
                    f"logit_bias keys must be token ids (integers >= 0 or strings of digits), "
                    f"got {token!r}"
                )
            if isinstance(bias, bool) or not isinstance(bias, _NUMBER):
                raise InvalidParameterError(f"logit_bias[{token!r}] must be a number, got {bias!r}")
            if not -100 <= bias <= 100:
                raise InvalidParameterError(
                    f"logit_bias[{token!r}] must satisfy -100 <= bias <= 100, got {bias!r}"
                )
    elif spec.choices and value.get("type") not in spec.choices:
        if spec.name == "tool_choice" and value.get("type") == "function":
            return
        raise InvalidParameterError(
            f"{spec.name}['type'] must be one of {list(spec.choices)}, got {value.get('type')!r}"
        )


_SHAPE_CHECKS: dict[type, Callable[[ParamSpec, Any], None]] = {
    int: _check_number,
    float: _check_number,
    str: _check_str,
    list: _check_list,
    dict: _check_dict,
}


def _check_combinations(endpoint: Endpoint, body: Mapping[str, Any]) -> None:
    if "reasoning_effort" in body and isinstance(body.get("model"), str):
        _check_reasoning_effort(body["model"], body["reasoning_effort"])
    if "tool_choice" in body:
        check_tool_choice(body["tool_choice"], body.get("tools"))
    if "stream_options" in body and not body.get("stream"):
        raise InvalidParameterError("stream_options is only allowed with stream=True")
    if endpoint == CHAT and "top_logprobs" in body and body.get("logprobs") is not True:
        raise InvalidParameterError("top_logprobs requires logprobs=True")
    if "best_of" in body:
        if body["best_of"] < body.get("n", 1):
            raise InvalidParameterError("best_of must be >= n")
        if body.get("stream"):
            raise InvalidParameterError("best_of cannot be used with stream=True")


def _check_reasoning_effort(model: str, effort: str) -> None:
    """``reasoning_effort`` must be one of the model's levels where the catalog lists them."""
    from novita_core.catalog import lookup  # the catalog's data loads only when this is used

    info = lookup(model)
    allowed = info.reasoning_efforts if info is not None else None
    if allowed and effort not in allowed:
        raise InvalidParameterError(
            f"reasoning_effort for {model} must be one of {list(allowed)}, got {effort!r}"
        )


def json_schema_format(
    schema: Mapping[str, Any],
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
) -> dict[str, Any]:
    """``response_format`` asking for JSON that follows ``schema`` (Novita's json_schema mode).

    Args:
        schema: A JSON schema (for pydantic: ``Model.model_json_schema()``).
        name: The schema's name; its ``title`` (or ``"output"``) when omitted.
        description: What the output is; the schema's ``description`` when omitted.
        strict: Ask the server to follow the schema exactly.
    """
    spec: dict[str, Any] = {"name": name or schema.get("title") or "output", "schema": schema}
    described = description or schema.get("description")
    if described:
        spec["description"] = described
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def parameter_table_markdown() -> str:
    """The table as Markdown, for the README (a test keeps the README in step with it)."""
    lines = [
        "| parameter | type | allowed | endpoints | sent as |",
        "|---|---|---|---|---|",
    ]
    for spec in PARAMETERS:
        kinds = [t for t in spec.types if not (t is int and float in spec.types)]
        type_names = " \\| ".join(_TYPE_NAMES[t].split(" ", 1)[1] for t in kinds)
        allowed = f"at most {spec.max_items} items" if spec.max_items else spec.describe_range()
        endpoints = ", ".join(sorted(spec.endpoints))
        lines.append(
            f"| `{spec.name}` | {type_names} | {allowed or '—'} | {endpoints} | {spec.wire.value} |"
        )
    return "\n".join(lines)
