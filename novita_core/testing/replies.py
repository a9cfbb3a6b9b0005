"""Deterministic request validation and reply generation for the offline Novita server.

Everything here is pure computation on parsed JSON bodies: no sockets, no clocks except
``created`` timestamps. The heuristics are deliberately simple and documented so that tests can
predict what the "model" answers:

* Text replies echo the last user message (``"Echo: <text>"``), capped at 100 words.
* ``[[words:N]]`` anywhere in the messages makes the reply exactly ``N`` tokens.
* A token is a whitespace-separated word; streams send one chunk per token.
* Tool calls and structured output are generated from the JSON schema, filling numbers and
  strings from the prompt in order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeGuard

__all__ = [
    "ApiError",
    "ModelEntry",
    "build_chat",
    "build_completion",
    "build_embeddings",
    "dumps",
    "error_body",
    "reason_for_status",
]

MAX_ECHO_WORDS = 100
IMAGE_TOKENS = 85
DEFAULT_EMBEDDING_DIMENSIONS = 1024
SYSTEM_FINGERPRINT = "fp_offline_novita"

_REASONS = {
    400: "INVALID_REQUEST_BODY",
    401: "FAILED_TO_AUTH",
    403: "ACCESS_DENY",
    404: "MODEL_NOT_FOUND",
    429: "RATE_LIMIT_EXCEEDED",
    500: "MODEL_NOT_AVAILABLE",
    502: "SERVICE_NOT_AVAILABLE",
    503: "SERVICE_NOT_AVAILABLE",
    504: "SERVICE_NOT_AVAILABLE",
}

_WORDS_DIRECTIVE = re.compile(r"\[\[words:(\d+)\]\]")
_TOKEN = re.compile(r"\s*\S+")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
# Curly quotes and CJK brackets are spelled as escapes to keep the source ASCII-unambiguous.
_QUOTED = re.compile(
    r"(?<![\w])'([^'\n]+)'(?![\w])|\"([^\"\n]+)\"|`([^`\n]+)`"
    r"|\u201c([^\u201d\n]+)\u201d|\u2018([^\u2019\n]+)\u2019|\u300c([^\u300d\n]+)\u300d"
)
_NON_ASCII_RUN = re.compile(
    r"[^\x00-\x7f\s\u201c\u201d\u2018\u2019\u300c\u300d\uff0c\u3002\uff01\uff1f\u3001]+"
)
_WORD = re.compile(r"[A-Za-z][\w'-]*")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FILLER = re.findall(
    r"\S+",
    "the quick brown fox jumps over the lazy dog while offline models stream steady "
    "deterministic tokens for every benchmark run",
)
_STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        "the a an and or of to in on for with is are was be this that what which use using "
        "tool tools value please call function from by at as it its into me my you your",
    )
)


def reason_for_status(status: int) -> str:
    """Return Novita's ``reason`` token for an HTTP status (reference sheet §9).

    Args:
        status: HTTP status code.
    """
    return _REASONS.get(status, "UNKNOWN_ERROR")


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """Build Novita's flat error object.

    Args:
        status: HTTP status code, echoed as ``code``.
        message: Human-readable detail.
        reason: Reason token; derived from ``status`` when omitted.
    """
    return {
        "code": status,
        "reason": reason or reason_for_status(status),
        "message": message,
        "metadata": {},
    }


class ApiError(Exception):
    """A request the offline server rejects with a Novita-shaped error.

    Args:
        status: HTTP status code.
        message: Detail placed in the body's ``message``.
        reason: Reason token; derived from ``status`` when omitted.
    """

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or reason_for_status(status)

    def body(self) -> dict[str, Any]:
        """Return the flat JSON error body."""
        return error_body(self.status, self.message, self.reason)


@dataclass
class ModelEntry:
    """One model the offline server knows.

    Args:
        id: Model id.
        context_size: Context window reported by ``/models``.
        max_output_tokens: Output limit reported by ``/models``.
        kind: ``"chat"``, ``"embedding"`` or ``"rerank"``.
        reasoning: Whether replies carry reasoning.
        dimensions: Embedding vector length for embedding models.
        tool_calling: Listed with the ``function-calling`` feature.
        structured_output: Listed with the ``structured-outputs`` feature.
        input_modalities: Listed ``input_modalities`` (``"image"`` adds the ``vision`` feature).
        input_price: USD per million prompt tokens (listed in 1/10000 USD), if known.
        output_price: USD per million completion tokens, if known.
        inline_think: Reasoning is written inline as ``<think>...</think>`` in ``content``
            instead of ``reasoning_content``.
        name: Display name.
    """

    id: str
    context_size: int = 8192
    max_output_tokens: int | None = None
    kind: str = "chat"
    reasoning: bool = False
    dimensions: int | None = None
    tool_calling: bool = True
    structured_output: bool = True
    input_modalities: tuple[str, ...] = ("text",)
    input_price: float | None = None
    output_price: float | None = None
    inline_think: bool = False
    name: str | None = None

    def features(self) -> list[str]:
        """The ``features`` list of Novita's listing for this model."""
        flags = (
            (self.tool_calling, "function-calling"),
            (self.structured_output, "structured-outputs"),
            ("image" in self.input_modalities, "vision"),
            (self.reasoning, "reasoning"),
        )
        return [feature for on, feature in flags if on and self.kind == "chat"] + ["serverless"]

    def listing(self) -> dict[str, Any]:
        """Return the ``GET /models`` entry for this model, in Novita's listing shape."""
        entry: dict[str, Any] = {
            "id": self.id,
            "object": "model",
            "created": 1735689600,
            "title": self.id.split("/")[-1],
            "display_name": self.name or self.id.split("/")[-1],
            "description": f"Offline stand-in for {self.id}",
            "context_size": self.context_size,
            "max_output_tokens": self.max_output_tokens or self.context_size,
            "features": self.features(),
            "input_modalities": list(self.input_modalities),
            "output_modalities": ["text"],
            "model_type": self.kind,
            "status": 1,
            "tags": [],
            "endpoints": ["openai"],
        }
        if self.input_price is not None and self.output_price is not None:
            # Novita lists prices in 1/10000 USD per million tokens.
            entry["input_token_price_per_m"] = round(self.input_price * 10_000)
            entry["output_token_price_per_m"] = round(self.output_price * 10_000)
        return entry


# ---------------------------------------------------------------------------------------------
# Validation


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the encoding of every body the server sends.

    Args:
        payload: Any JSON-serialisable value.
    """
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_range(
    body: dict[str, Any],
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    integer: bool = False,
) -> None:
    if name not in body or body[name] is None:
        return
    value = body[name]
    if integer:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok_type = _is_number(value)
    if not ok_type:
        kind = "an integer" if integer else "a number"
        raise ApiError(400, f"{name} must be {kind}, got {json.dumps(value)}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        lb = "(" if low_open else "["
        raise ApiError(400, f"{name} must be in {lb}{low:g}, {high:g}], got {value}")


def _validate_sampling(body: dict[str, Any]) -> None:
    _check_range(body, "temperature", 0, 2)
    _check_range(body, "top_p", 0, 1, low_open=True)
    _check_range(body, "n", 1, 128, integer=True)
    _check_range(body, "presence_penalty", -2, 2)
    _check_range(body, "frequency_penalty", -2, 2)
    _check_range(body, "repetition_penalty", 0, 2, low_open=True)
    _check_range(body, "top_k", 1, 128, integer=True)
    _check_range(body, "min_p", 0, 1)
    _check_range(body, "max_tokens", 1, 10**9, integer=True)
    _check_range(body, "seed", -(2**63), 2**64, integer=True)
    stop = body.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            pass
        elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
            if len(stop) > 4:
                raise ApiError(400, f"stop accepts at most 4 sequences, got {len(stop)}")
        else:
            raise ApiError(400, "stop must be a string or a list of strings")


def _require_model(body: dict[str, Any], models: dict[str, ModelEntry], kind: str) -> ModelEntry:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required and must be a non-empty string")
    entry = models.get(model)
    if entry is None:
        raise ApiError(404, f"model not found: {model}")
    if entry.kind != kind:
        raise ApiError(400, f"model {model} is a {entry.kind} model and cannot serve this endpoint")
    return entry


# ---------------------------------------------------------------------------------------------
# Text helpers


def split_tokens(text: str) -> list[str]:
    """Split text into tokens: each whitespace-separated word with its leading whitespace.

    Args:
        text: Any text. Joining the result gives back ``text`` minus trailing whitespace.
    """
    return _TOKEN.findall(text)


def _content_text(content: Any) -> tuple[str, int]:
    """Return (text, image part count) of a message ``content`` (string or list of parts)."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if isinstance(content, list):
        texts: list[str] = []
        images = 0
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                if part.get("type") in ("image_url", "image"):
                    images += 1
                elif isinstance(part.get("text"), str):
                    texts.append(part["text"])
        return " ".join(texts), images
    return str(content), 0


def _word_count(text: str) -> int:
    return len(text.split())


def _hash_hex(*parts: Any, length: int = 24) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()[:length]


def _words_directive(texts: list[str]) -> int | None:
    found: int | None = None
    for text in texts:
        for match in _WORDS_DIRECTIVE.finditer(text):
            found = int(match.group(1))
    return found


def _exact_words(seed_text: str, count: int) -> str:
    base = ["Echo:", *seed_text.split()] if seed_text.split() else list(_FILLER)
    if len(base) < count:
        # Cycle the prompt's words after the filler so long replies stay prompt-related yet
        # varied enough for tokenisers.
        pool = base + _FILLER
        base = [pool[i % len(pool)] for i in range(count)]
    return " ".join(base[:count])


def _echo(text: str, images: int) -> str:
    words = _WORDS_DIRECTIVE.sub(" ", text).split()[:MAX_ECHO_WORDS]
    prefix = ""
    if images:
        prefix = f"I see {images} image{'s' if images > 1 else ''}. "
    return (prefix + "Echo: " + " ".join(words)).strip() if words else (prefix + "Echo:").strip()


def _apply_limits(text: str, stop: list[str], max_tokens: int | None) -> tuple[str, str]:
    finish = "stop"
    if max_tokens is not None:
        tokens = split_tokens(text)
        if len(tokens) > max_tokens:
            text = "".join(tokens[:max_tokens])
            finish = "length"
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
        finish = "stop"
    return text, finish


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return bool(body.get("stream") and isinstance(options, dict) and options.get("include_usage"))


def _stop_list(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        return [s for s in stop if isinstance(s, str)]
    return []


# ---------------------------------------------------------------------------------------------
# Schema-driven value generation


@dataclass
class _Prompt:
    """Values mined from the prompt, consumed in order while filling a schema."""

    text: str
    numbers: list[float] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    number_pos: int = 0
    string_pos: int = 0

    @classmethod
    def mine(cls, text: str) -> _Prompt:
        numbers = [float(m.group(0)) for m in _NUMBER.finditer(text)]
        strings: list[str] = []

        def add(candidate: str) -> None:
            candidate = candidate.strip(" ,.;:")
            if candidate and candidate not in strings:
                strings.append(candidate)

        quoted_spans: list[tuple[int, int]] = []
        for match in _QUOTED.finditer(text):
            add(next(g for g in match.groups() if g is not None))
            quoted_spans.append(match.span())
        for match in _NON_ASCII_RUN.finditer(text):
            if not any(a <= match.start() < b for a, b in quoted_spans):
                add(match.group(0))
        for phrase in _capitalized_phrases(text):
            add(phrase)
        return cls(text=text, numbers=numbers, strings=strings)

    def next_number(self) -> float | None:
        if self.number_pos < len(self.numbers):
            self.number_pos += 1
            return self.numbers[self.number_pos - 1]
        return None

    def next_string(self) -> str | None:
        if self.string_pos < len(self.strings):
            self.string_pos += 1
            return self.strings[self.string_pos - 1]
        return None

    def snippet(self, words: int = 12) -> str:
        return " ".join(_WORDS_DIRECTIVE.sub(" ", self.text).split()[:words])


def _capitalized_phrases(text: str) -> list[str]:
    """Runs of capitalised words that do not start a sentence (names, places, styles)."""
    phrases: list[str] = []
    current: list[str] = []
    last_end = -1
    for match in _WORD.finditer(text):
        word = match.group(0)
        before = text[: match.start()].rstrip()
        sentence_start = not before or before[-1] in ".?!:\n"
        gap = text[last_end : match.start()] if last_end >= 0 else None
        capital = word[0].isupper() and word != "I" and not sentence_start
        if capital and current and gap in (" ", ", "):
            current.append(("," if gap == ", " else "") + " " + word)
        elif capital:
            if current:
                phrases.append("".join(current))
            current = [word]
        else:
            if current:
                phrases.append("".join(current))
            current = []
        last_end = match.end()
    if current:
        phrases.append("".join(current))
    return phrases


class _SchemaFiller:
    def __init__(self, root: dict[str, Any], prompt: _Prompt) -> None:
        self.root = root
        self.prompt = prompt
        self.prompt_words = {w.lower() for w in re.findall(r"\w+", prompt.text)}

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target: Any = self.root
            if isinstance(ref, str) and ref.startswith("#"):
                for part in ref.lstrip("#").strip("/").split("/"):
                    if part:
                        target = target.get(part, {}) if isinstance(target, dict) else {}
            else:
                target = {}
            merged = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **merged} if isinstance(target, dict) else merged
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def value(self, schema: Any, name: str, depth: int = 0) -> Any:
        node = self.resolve(schema)
        if depth > 8:
            return None
        if "const" in node:
            return node["const"]
        if isinstance(node.get("enum"), list) and node["enum"]:
            return node["enum"][0]
        for key in ("anyOf", "oneOf"):
            options = node.get(key)
            if isinstance(options, list) and options:
                resolved = [self.resolve(o) for o in options]
                non_null = [o for o in resolved if o.get("type") != "null"]
                return self.value((non_null or resolved)[0], name, depth + 1)
        all_of = node.get("allOf")
        if isinstance(all_of, list) and all_of:
            merged: dict[str, Any] = {}
            for part in all_of:
                merged.update(self.resolve(part))
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return self.value({**merged, **rest}, name, depth + 1)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in node else ("array" if "items" in node else "string")
        if kind == "object":
            return self.object(node, depth)
        if kind == "array":
            return self.array(node, name, depth)
        if kind in ("integer", "number"):
            return self.number(node, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self.string(node, name)

    def object(self, node: dict[str, Any], depth: int) -> dict[str, Any]:
        props = node.get("properties")
        if not isinstance(props, dict):
            return {}
        required = node.get("required")
        required_set = set(required) if isinstance(required, list) else set()
        result: dict[str, Any] = {}
        for key, sub in props.items():
            # Optional fields appear only when the prompt mentions them, like a model would.
            if key in required_set or key.lower() in self.prompt_words:
                result[key] = self.value(sub, key, depth + 1)
        return result

    def array(self, node: dict[str, Any], name: str, depth: int) -> list[Any]:
        items = self.resolve(node.get("items", {}))
        low = node.get("minItems", 1)
        high = node.get("maxItems", max(low, 1) if isinstance(low, int) else 1)
        low = low if isinstance(low, int) else 1
        count = max(low, 1)
        if items.get("type") in ("integer", "number"):
            remaining = len(self.prompt.numbers) - self.prompt.number_pos
            count = max(count, remaining)
            if isinstance(node.get("maxItems"), int):
                count = min(count, high)
        return [self.value(items, name, depth + 1) for _ in range(count)]

    def number(self, node: dict[str, Any], *, integer: bool) -> int | float:
        found = self.prompt.next_number()
        if found is None:
            default = node.get("default")
            found = float(default) if _is_number(default) else 1.0
        bounds = {k: node.get(k) for k in ("minimum", "maximum", "exclusiveMinimum")}
        bounds["exclusiveMaximum"] = node.get("exclusiveMaximum")
        step = 1.0 if integer else 0.5
        low, high = bounds["minimum"], bounds["maximum"]
        ex_low, ex_high = bounds["exclusiveMinimum"], bounds["exclusiveMaximum"]
        if _is_number(low) and found < low:
            found = float(low)
        if _is_number(ex_low) and found <= ex_low:
            found = float(ex_low) + step
        if _is_number(high) and found > high:
            found = float(high)
        if _is_number(ex_high) and found >= ex_high:
            found = float(ex_high) - step
        if integer or found.is_integer():
            return int(found)
        return found

    def string(self, node: dict[str, Any], name: str) -> str:
        fmt = node.get("format")
        fixed = {
            "date-time": "2025-01-01T00:00:00Z",
            "date": "2025-01-01",
            "time": "00:00:00",
            "email": "user@example.com",
            "uri": "https://example.com",
            "uuid": "00000000-0000-4000-8000-000000000000",
        }
        if fmt in fixed:
            return fixed[fmt]
        text = self.prompt.next_string()
        if text is None:
            label = name.replace("_", " ") if name else "text"
            snippet = self.prompt.snippet()
            text = f"{label} for: {snippet}" if snippet else label
        low = node.get("minLength")
        high = node.get("maxLength")
        if isinstance(low, int) and len(text) < low:
            text = text + "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[:high]
        return text


def fill_schema(schema: Any, prompt_text: str) -> Any:
    """Build a value valid against ``schema`` using numbers and strings found in the prompt.

    Args:
        schema: A JSON schema (``$ref``/``$defs``, ``anyOf``, enums, arrays, nested objects).
        prompt_text: Text mined for numbers (in order) and strings (quoted text, non-ASCII runs,
            capitalised phrases, in that order).
    """
    root = schema if isinstance(schema, dict) else {}
    return _SchemaFiller(root, _Prompt.mine(prompt_text)).value(root, "")


# ---------------------------------------------------------------------------------------------
# Logprobs


def _logprob(token: str, position: int) -> float:
    return -round(0.01 * ((len(token) * 7 + position * 3) % 23 + 1), 4)


def _chat_logprob_entry(token: str, position: int, top: int) -> dict[str, Any]:
    lp = _logprob(token, position)
    alternatives = [{"token": token, "logprob": lp, "bytes": list(token.encode())}]
    for k in range(1, top):
        alt = f"{token.strip()}#{k}"
        alternatives.append(
            {"token": alt, "logprob": round(lp - 1.5 * k, 4), "bytes": list(alt.encode())}
        )
    return {
        "token": token,
        "logprob": lp,
        "bytes": list(token.encode()),
        "top_logprobs": alternatives[:top],
    }


def _completion_logprobs(tokens: list[str], top: int, offset: int) -> dict[str, Any]:
    offsets: list[int] = []
    pos = offset
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    tops: list[dict[str, float]] = []
    for i, token in enumerate(tokens):
        lp = _logprob(token, i)
        entry = {token: lp}
        for k in range(1, top):
            entry[f"{token.strip()}#{k}"] = round(lp - 1.5 * k, 4)
        tops.append(entry)
    return {
        "tokens": tokens,
        "token_logprobs": [_logprob(t, i) for i, t in enumerate(tokens)],
        "top_logprobs": tops,
        "text_offset": offsets,
    }


# ---------------------------------------------------------------------------------------------
# Chat completions


@dataclass
class ToolCall:
    """A generated tool call."""

    id: str
    name: str
    arguments: str


@dataclass
class ChatPlan:
    """Everything needed to render one chat reply, streamed or not."""

    id: str
    model: str
    created: int
    n: int
    content: str | None
    reasoning: str | None
    finish_reason: str
    tool_calls: list[ToolCall]
    logprobs: bool
    top_logprobs: int
    prompt_tokens: int
    include_usage: bool
    reasoning_details: bool = False
    """Also send the reasoning as ``reasoning_details`` (MiniMax-style interleaved thinking)."""
    cached_tokens: int = 0
    """Prompt tokens served from the prefix cache."""

    def tokens(self) -> list[str]:
        """Content tokens (with leading whitespace)."""
        return split_tokens(self.content or "")

    def usage(self) -> dict[str, Any]:
        """Usage for all choices."""
        per_choice = len(self.tokens())
        if self.tool_calls:
            per_choice = sum(max(1, _word_count(c.arguments)) for c in self.tool_calls)
        reasoning_tokens = len(split_tokens(self.reasoning or ""))
        completion = (per_choice + reasoning_tokens) * self.n
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        if self.reasoning is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens * self.n}
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage

    def choice_logprobs(self) -> dict[str, Any] | None:
        if not self.logprobs or self.content is None:
            return None
        return {
            "content": [
                _chat_logprob_entry(t, i, self.top_logprobs) for i, t in enumerate(self.tokens())
            ]
        }

    def response(self) -> dict[str, Any]:
        """The non-stream ``chat.completion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
            if self.reasoning_details:
                message["reasoning_details"] = [self._reasoning_item(self.reasoning, first=True)]
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        logprobs = self.choice_logprobs()
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": i,
                    "message": dict(message),
                    "finish_reason": self.finish_reason,
                    "logprobs": logprobs,
                }
                for i in range(self.n)
            ],
            "usage": self.usage(),
        }

    def _chunk(self, index: int, delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {
            "index": index,
            "delta": delta,
            "finish_reason": extra.get("finish_reason"),
            "logprobs": extra.get("logprobs"),
        }
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [choice],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def chunks(self) -> Iterator[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of the stream, without ``[DONE]``."""
        tokens = self.tokens()
        reasoning = split_tokens(self.reasoning or "")
        for index in range(self.n):
            if self.tool_calls:
                yield from self._tool_chunks(index, reasoning)
                continue
            yield self._chunk(index, {"role": "assistant", "content": ""})
            yield from self._reasoning_chunks(index, reasoning)
            if not tokens:
                yield self._chunk(index, {}, finish_reason=self.finish_reason)
            for i, token in enumerate(tokens):
                last = i == len(tokens) - 1
                logprobs = (
                    {"content": [_chat_logprob_entry(token, i, self.top_logprobs)]}
                    if self.logprobs
                    else None
                )
                yield self._chunk(
                    index,
                    {"content": token},
                    finish_reason=self.finish_reason if last else None,
                    logprobs=logprobs,
                )
        if self.include_usage:
            yield {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": [],
                "usage": self.usage(),
            }

    def encoded_chunks(self) -> Iterator[bytes]:
        """The stream chunks as compact JSON bytes (same content as :meth:`chunks`).

        Content deltas, the bulk of any long stream, are spliced into a pre-encoded template
        instead of being serialised as whole objects: benchmarks share the GIL with this server,
        so its per-token cost shows up in their numbers.
        """
        if self.logprobs or self.tool_calls or self.reasoning_details:
            for chunk in self.chunks():
                yield dumps(chunk)
            return
        head = (
            dumps(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "system_fingerprint": SYSTEM_FINGERPRINT,
                }
            )[:-1]
            + b',"choices":[{"index":'
        )
        tail = b',"finish_reason":null,"logprobs":null}]'
        tail += b',"usage":null}' if self.include_usage else b"}"
        tokens = self.tokens()
        reasoning = split_tokens(self.reasoning or "")
        for index in range(self.n):
            prefix = head + str(index).encode()
            yield prefix + b',"delta":{"role":"assistant","content":""}' + tail
            for piece in reasoning:
                yield prefix + b',"delta":{"reasoning_content":' + dumps(piece) + b"}" + tail
            for token in tokens[:-1]:
                yield prefix + b',"delta":{"content":' + dumps(token) + b"}" + tail
            last = {"content": tokens[-1]} if tokens else {}
            yield dumps(self._chunk(index, last, finish_reason=self.finish_reason))
        if self.include_usage:
            yield dumps(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "system_fingerprint": SYSTEM_FINGERPRINT,
                    "choices": [],
                    "usage": self.usage(),
                }
            )

    def _reasoning_item(self, text: str, *, first: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"type": "reasoning.text", "text": text, "index": 0}
        if first:
            item.update({"id": f"rd-{self.id}", "format": "openai-responses-v1"})
        return item

    def _reasoning_chunks(self, index: int, reasoning: list[str]) -> Iterator[dict[str, Any]]:
        for position, piece in enumerate(reasoning):
            delta: dict[str, Any] = {"reasoning_content": piece}
            if self.reasoning_details:
                delta["reasoning_details"] = [self._reasoning_item(piece, first=position == 0)]
            yield self._chunk(index, delta)

    def _tool_chunks(self, index: int, reasoning: list[str]) -> Iterator[dict[str, Any]]:
        yield self._chunk(index, {"role": "assistant", "content": None})
        yield from self._reasoning_chunks(index, reasoning)
        for position, call in enumerate(self.tool_calls):
            yield self._chunk(
                index,
                {
                    "tool_calls": [
                        {
                            "index": position,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                },
            )
            for fragment in _fragments(call.arguments):
                # Novita sends ``"type": ""`` on every tool-call delta after the first.
                piece = {"index": position, "type": "", "function": {"arguments": fragment}}
                yield self._chunk(index, {"tool_calls": [piece]})
        yield self._chunk(index, {}, finish_reason="tool_calls")


def _fragments(arguments: str) -> list[str]:
    """Split tool-call arguments into at least two pieces, as real streams do."""
    size = max(1, -(-len(arguments) // 3))
    pieces = [arguments[i : i + size] for i in range(0, len(arguments), size)]
    if len(pieces) == 1 and len(arguments) >= 2:
        pieces = [arguments[:1], arguments[1:]]
    return pieces or [""]


def _tool_name_parts(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [p.lower() for p in re.split(r"[^A-Za-z0-9]+", spaced) if p]


def _pick_tool(tools: list[dict[str, Any]], text: str) -> dict[str, Any]:
    lowered = text.lower()
    words = set(re.findall(r"\w+", lowered))
    best = tools[0]
    best_score = 0
    for candidate in tools:
        fn = candidate.get("function", {})
        name = str(fn.get("name", ""))
        score = 10 if name and name.lower() in lowered else 0
        score += 3 * sum(1 for p in _tool_name_parts(name) if len(p) >= 3 and p in words)
        description = str(fn.get("description", "")).lower()
        score += sum(
            1
            for w in set(re.findall(r"\w+", description))
            if len(w) >= 4 and w not in _STOPWORDS and w in words
        )
        if score > best_score:
            best, best_score = candidate, score
    return best


def _parse_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages is required and must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a string role")
        if message["role"] not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise ApiError(400, f"messages[{i}].role is invalid: {message['role']!r}")
    return messages


def _validate_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ApiError(400, "tools must be a list")
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ApiError(400, f"tools[{i}] must be {{'type': 'function', 'function': {{name}}}}")
    return tools


def _is_reasoning(entry: ModelEntry, body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    switched_off = body.get("enable_thinking") is False or (
        isinstance(thinking, dict) and thinking.get("type") == "disabled"
    )
    if switched_off or body.get("reasoning_effort") == "none":
        return False
    lowered = entry.id.lower()
    markers = ("r1", "thinking", "gpt-oss", "qwen3-8b")
    return entry.reasoning or any(m in lowered for m in markers)


def _require_object_with_model(body: Any) -> None:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body.get("model"):
        raise ApiError(400, "model is required and must be a non-empty string")


def build_chat(
    body: Any, models: dict[str, ModelEntry], prompt_cache: set[str] | None = None
) -> ChatPlan:
    """Validate a ``/chat/completions`` body and plan the deterministic reply.

    Args:
        body: Parsed JSON body.
        models: Known models by id.
        prompt_cache: Prompt-prefix keys seen before; repeated prefixes are reported as
            ``usage.prompt_tokens_details.cached_tokens``. Updated in place.

    Raises:
        ApiError: For invalid bodies (400) and unknown models (404).
    """
    _require_object_with_model(body)
    messages = _parse_messages(body)
    entry = _require_model(body, models, "chat")
    _validate_sampling(body)
    _check_range(body, "top_logprobs", 0, 20, integer=True)
    tools = _validate_tools(body)
    tool_choice = body.get("tool_choice")
    forced: str | None = None
    if isinstance(tool_choice, dict):
        forced_name = tool_choice.get("function", {}).get("name")
        if not isinstance(forced_name, str):
            raise ApiError(400, "tool_choice.function.name is required")
        if not any(t["function"]["name"] == forced_name for t in tools):
            raise ApiError(400, f"tool_choice names an unknown tool: {forced_name}")
        forced = forced_name
    elif tool_choice not in (None, "auto", "none", "required", "any"):
        raise ApiError(400, f"tool_choice is invalid: {json.dumps(tool_choice)}")
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict)
        or response_format.get("type") not in ("text", "json_object", "json_schema")
    ):
        raise ApiError(400, "response_format.type must be text, json_object or json_schema")

    texts: list[str] = []
    counts: list[int] = []
    for message in messages:
        text, images = _content_text(message.get("content"))
        texts.append(text)
        counts.append(_word_count(text) + IMAGE_TOKENS * images)
    prompt_tokens = sum(counts)
    cached_tokens = _cached_prefix_tokens(messages, counts, prompt_cache)

    last = messages[-1]
    user_index = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "user"),
        len(messages) - 1,
    )
    user_text, user_images = _content_text(messages[user_index].get("content"))
    stop = _stop_list(body)
    max_tokens = body.get("max_tokens")
    n = body.get("n") or 1
    digest = _hash_hex(body)
    content: str | None
    calls: list[ToolCall] = []
    finish = "stop"

    if tools and tool_choice != "none" and last["role"] != "tool":
        tool = (
            next(t for t in tools if t["function"]["name"] == forced)
            if forced
            else _pick_tool(tools, user_text)
        )
        fn = tool["function"]
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        arguments = fill_schema(params, user_text)
        if not isinstance(arguments, dict):
            arguments = {}
        calls.append(
            ToolCall(
                id=f"call_{_hash_hex(digest, fn['name'])}",
                name=fn["name"],
                arguments=json.dumps(arguments, ensure_ascii=False),
            )
        )
        content = None
        finish = "tool_calls"
    else:
        if last["role"] == "tool":
            results: list[str] = []
            for message in reversed(messages):
                if message["role"] != "tool":
                    break
                results.append(_content_text(message.get("content"))[0])
            text = "The tool returned: " + "; ".join(reversed(results))
        elif isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec, dict) else None
            value = fill_schema(schema or {"type": "object"}, user_text)
            text = json.dumps(value, ensure_ascii=False)
        elif isinstance(response_format, dict) and response_format.get("type") == "json_object":
            text = json.dumps(_json_object(user_text, messages), ensure_ascii=False)
        else:
            directive = _words_directive(texts)
            if directive is not None:
                text = _exact_words(_WORDS_DIRECTIVE.sub(" ", user_text), directive)
            else:
                text = _echo(user_text, user_images)
        content, finish = _apply_limits(text, stop, max_tokens)

    reasoning = None
    if _is_reasoning(entry, body):
        reasoning = f"Thinking about: {' '.join(user_text.split()[:8])}".strip()
        if entry.inline_think and content is not None:
            content, reasoning = f"<think>\n{reasoning}\n</think>\n\n{content}", None
    include_usage = _include_usage(body)
    return ChatPlan(
        id=f"chatcmpl-{digest}",
        model=entry.id,
        created=int(time.time()),
        n=n,
        content=content,
        reasoning=reasoning,
        finish_reason=finish,
        tool_calls=calls,
        logprobs=bool(body.get("logprobs")),
        top_logprobs=int(body.get("top_logprobs") or 0),
        prompt_tokens=prompt_tokens,
        include_usage=include_usage,
        reasoning_details=reasoning is not None and "minimax" in entry.id.lower(),
        cached_tokens=cached_tokens,
    )


def _cached_prefix_tokens(
    messages: list[dict[str, Any]], counts: list[int], cache: set[str] | None
) -> int:
    """Prompt tokens of the longest message prefix seen before (Novita's automatic prefix cache).

    Every prefix of this prompt is remembered for later requests.
    """
    if cache is None:
        return 0
    running = hashlib.sha256()
    keys: list[str] = []
    for message in messages:
        running.update(dumps(message))
        keys.append(running.hexdigest())
    cached = next((sum(counts[:k]) for k in range(len(keys), 0, -1) if keys[k - 1] in cache), 0)
    cache.update(keys)
    return cached


def _json_object(user_text: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON mode: the keys the prompt asks for (quoted identifiers), else ``{"answer": ...}``."""
    sources = [user_text] + [
        _content_text(m.get("content"))[0] for m in messages if m["role"] in ("system", "developer")
    ]
    for source in sources:
        keys: list[str] = []
        for match in _QUOTED.finditer(source):
            candidate = next(g for g in match.groups() if g is not None)
            if _IDENTIFIER.match(candidate) and candidate not in keys:
                keys.append(candidate)
        if keys:
            prompt = _Prompt(text=_QUOTED.sub(" ", user_text))
            return {key: _SchemaFiller({}, prompt).string({}, key) for key in keys}
    return {"answer": _echo(user_text, 0)}


# ---------------------------------------------------------------------------------------------
# Completions


@dataclass
class CompletionPlan:
    """Everything needed to render one legacy completion reply."""

    id: str
    model: str
    created: int
    texts: list[tuple[str, str, int]]  # (text, finish_reason, text_offset) per choice
    logprobs: int | None
    prompt_tokens: int
    include_usage: bool

    def usage(self) -> dict[str, Any]:
        """Usage for all choices."""
        completion = sum(len(split_tokens(t)) for t, _, _ in self.texts)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def _logprobs(self, text: str, offset: int) -> dict[str, Any] | None:
        if self.logprobs is None:
            return None
        return _completion_logprobs(split_tokens(text), self.logprobs, offset)

    def response(self) -> dict[str, Any]:
        """The non-stream ``text_completion`` object."""
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [
                {
                    "index": i,
                    "text": text,
                    "finish_reason": finish,
                    "logprobs": self._logprobs(text, offset),
                }
                for i, (text, finish, offset) in enumerate(self.texts)
            ],
            "usage": self.usage(),
        }

    def chunks(self) -> Iterator[dict[str, Any]]:
        """The stream chunks, without ``[DONE]``."""
        base = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        for index, (text, finish, offset) in enumerate(self.texts):
            tokens = split_tokens(text) or [""]
            pos = offset
            for i, token in enumerate(tokens):
                chunk = {
                    **base,
                    "choices": [
                        {
                            "index": index,
                            "text": token,
                            "finish_reason": finish if i == len(tokens) - 1 else None,
                            "logprobs": (
                                _completion_logprobs([token], self.logprobs, pos)
                                if self.logprobs is not None and token
                                else None
                            ),
                        }
                    ],
                }
                pos += len(token)
                if self.include_usage:
                    chunk["usage"] = None
                yield chunk
        if self.include_usage:
            yield {**base, "choices": [], "usage": self.usage()}

    def encoded_chunks(self) -> Iterator[bytes]:
        """The stream chunks as compact JSON bytes."""
        for chunk in self.chunks():
            yield dumps(chunk)


def build_completion(body: Any, models: dict[str, ModelEntry]) -> CompletionPlan:
    """Validate a ``/completions`` body and plan the deterministic reply.

    Args:
        body: Parsed JSON body.
        models: Known models by id.

    Raises:
        ApiError: For invalid bodies (400) and unknown models (404).
    """
    _require_object_with_model(body)
    prompt = body.get("prompt")
    prompts: list[str]
    prompt_tokens = 0
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    elif isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
        prompts = [" ".join(f"t{p}" for p in prompt)]
    elif (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(p, list) and all(isinstance(t, int) for t in p) for p in prompt)
    ):
        prompts = [" ".join(f"t{t}" for t in p) for p in prompt]
    else:
        raise ApiError(400, "prompt is required: a string, a list of strings or token arrays")
    entry = _require_model(body, models, "chat")
    _validate_sampling(body)
    logprobs = body.get("logprobs")
    if logprobs is not None and (
        not isinstance(logprobs, int) or isinstance(logprobs, bool) or not 0 <= logprobs <= 5
    ):
        raise ApiError(400, f"logprobs must be an integer in [0, 5], got {json.dumps(logprobs)}")
    prompt_tokens = sum(_word_count(p) for p in prompts)
    n = body.get("n") or 1
    stop = _stop_list(body)
    max_tokens = body.get("max_tokens")
    echo = bool(body.get("echo"))
    texts: list[tuple[str, str, int]] = []
    for p in prompts:
        directive = _words_directive([p])
        if directive is not None:
            reply = " " + _exact_words(_WORDS_DIRECTIVE.sub(" ", p), directive)
        else:
            reply = " " + _echo(p, 0)
        text, finish = _apply_limits(reply, stop, max_tokens)
        for _ in range(n):
            texts.append(((p + text) if echo else text, finish, 0 if echo else len(p)))
    include_usage = _include_usage(body)
    return CompletionPlan(
        id=f"cmpl-{_hash_hex(body)}",
        model=entry.id,
        created=int(time.time()),
        texts=texts,
        logprobs=logprobs,
        prompt_tokens=prompt_tokens,
        include_usage=include_usage,
    )


# ---------------------------------------------------------------------------------------------
# Embeddings

_FEATURES_PER_WORD = 8


def embed_text(text: str, dimensions: int) -> list[float]:
    """Deterministic unit vector for ``text``.

    Words are feature-hashed (so texts sharing words have a higher cosine similarity, which makes
    retrieval tests meaningful) on top of a small per-text component that keeps distinct texts
    distinct.

    Args:
        text: The input text.
        dimensions: Vector length.
    """
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    rng = random.Random(seed)
    vector = [(rng.random() - 0.5) * 0.02 for _ in range(dimensions)]
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4 * _FEATURES_PER_WORD).digest()
        for slot in struct.unpack(f">{_FEATURES_PER_WORD}I", digest):
            sign = 1.0 if slot & 1 else -1.0
            vector[(slot >> 1) % dimensions] += sign
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def build_embeddings(body: Any, models: dict[str, ModelEntry]) -> dict[str, Any]:
    """Validate an ``/embeddings`` body and return the response object.

    Args:
        body: Parsed JSON body.
        models: Known models by id.

    Raises:
        ApiError: For invalid bodies (400) and unknown models (404).
    """
    _require_object_with_model(body)
    raw = body.get("input")
    inputs: list[str]
    if isinstance(raw, str):
        inputs = [raw]
    elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        inputs = list(raw)
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        inputs = [" ".join(f"t{x}" for x in raw)]
    elif isinstance(raw, list) and all(
        isinstance(x, list) and x and all(isinstance(t, int) for t in x) for x in raw
    ):
        inputs = [" ".join(f"t{t}" for t in x) for x in raw]
    else:
        raise ApiError(400, "input must be a string, a list of strings or token arrays")
    if not inputs:
        raise ApiError(400, "input must not be empty")
    if any(not s for s in inputs):
        raise ApiError(400, "input must not contain empty strings")
    entry = _require_model(body, models, "embedding")
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims < 1):
        raise ApiError(400, f"dimensions must be a positive integer, got {json.dumps(dims)}")
    size = dims or entry.dimensions or DEFAULT_EMBEDDING_DIMENSIONS
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, f"encoding_format must be float or base64, got {json.dumps(encoding)}")

    def encode(vector: list[float]) -> list[float] | str:
        if encoding == "float":
            return vector
        # The openai client asks for base64 by default: little-endian float32, like OpenAI.
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()

    tokens = sum(_word_count(s) for s in inputs)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(embed_text(s, size))}
            for i, s in enumerate(inputs)
        ],
        "model": entry.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
