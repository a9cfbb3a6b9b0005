"""What every endpoint's replies share: Novita's error shape, request checks, text helpers.

Parameter ranges come from the core's table (:data:`novita_core.params.PARAMETERS`), so the
offline server refuses exactly what the package refuses before sending; the server only adds
the structural checks it needs to build a reply.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, TypeGuard

from novita_core.params import PARAMETERS, Endpoint, InvalidParameterError, check_raw_values
from novita_core.testing.replies.models import ModelInfo

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

WORDS_DIRECTIVE = re.compile(r"\[\[words:(\d+)\]\]")
_TOKEN = re.compile(r"\s*\S+")
# Curly quotes and CJK brackets are spelled as escapes to keep the source ASCII-unambiguous.
QUOTED = re.compile(
    r"(?<![\w])'([^'\n]+)'(?![\w])|\"([^\"\n]+)\"|`([^`\n]+)`"
    r"|\u201c([^\u201d\n]+)\u201d|\u2018([^\u2019\n]+)\u2019|\u300c([^\u300d\n]+)\u300d"
)
_IMAGE_PARTS = ("image_url", "image")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FILLER = re.findall(
    r"\S+",
    "the quick brown fox jumps over the lazy dog while offline models stream steady "
    "deterministic tokens for every benchmark run",
)


def reason_for_status(status: int) -> str:
    """Novita's ``reason`` token for an HTTP status."""
    return _REASONS.get(status, "UNKNOWN_ERROR")


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """Novita's flat error object: ``status`` as ``code``, its reason token unless given."""
    reason = reason or reason_for_status(status)
    return {"code": status, "reason": reason, "message": message, "metadata": {}}


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


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the encoding of every body the server sends."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def is_number(value: Any) -> TypeGuard[float]:
    """Whether ``value`` is an int or float (never a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# The rows of the core's table that carry a range or a limit, per endpoint: the server enforces
# those (its replies tolerate any other shape the table allows, and some it does not, such as
# base64 embeddings, which the raw openai SDK asks for).
_LIMITED: dict[Endpoint, tuple[str, ...]] = {
    endpoint: tuple(
        spec.name
        for spec in PARAMETERS
        if endpoint in spec.endpoints
        and (spec.low is not None or spec.high is not None or spec.max_items is not None)
    )
    for endpoint in ("chat", "completions", "embeddings", "rerank")
}


def check_ranges(body: dict[str, Any], endpoint: Endpoint) -> None:
    """Refuse a value outside the range :mod:`novita_core.params` gives it, as Novita does.

    Raises:
        ApiError: 400 naming the parameter and its range.
    """
    limited = {name: body[name] for name in _LIMITED[endpoint] if body.get(name) is not None}
    try:
        check_raw_values(endpoint, limited)
    except InvalidParameterError as exc:
        raise ApiError(400, str(exc)) from None


def require_model(body: Any, models: dict[str, ModelInfo], kind: str) -> ModelInfo:
    """The entry of the body's ``model``, a model of ``kind``.

    Raises:
        ApiError: 400 for a body that is not an object with a ``model`` or a model of another
            kind, 404 for an unknown model.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required and must be a non-empty string")
    entry = models.get(model)
    if entry is None:
        raise ApiError(404, f"model not found: {model}")
    if entry.kind != kind:
        raise ApiError(400, f"model {model} is not a {kind} model")
    return entry


def text_inputs(value: Any) -> list[str] | None:
    """Texts of a ``prompt`` or ``input``: a string, strings, or token arrays (as ``t<id>`` words).

    None when ``value`` is none of those shapes.
    """
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return None
    if all(isinstance(item, str) for item in value):
        return list(value)
    arrays = [value] if all(isinstance(item, int) for item in value) else value
    if all(isinstance(a, list) and a and all(isinstance(t, int) for t in a) for a in arrays):
        return [" ".join(f"t{token}" for token in array) for array in arrays]
    return None


def split_tokens(text: str) -> list[str]:
    """The tokens of ``text``: each word with its leading whitespace (no trailing whitespace)."""
    return _TOKEN.findall(text)


def content_text(content: Any) -> tuple[str, int]:
    """Return (text, image part count) of a message ``content`` (string or list of parts)."""
    if not isinstance(content, list):
        return ("" if content is None else str(content)), 0
    parts = [part if isinstance(part, dict) else {"text": part} for part in content]
    images = sum(1 for part in parts if part.get("type") in _IMAGE_PARTS)
    texts = [
        p["text"]
        for p in parts
        if p.get("type") not in _IMAGE_PARTS and isinstance(p.get("text"), str)
    ]
    return " ".join(texts), images


def word_count(text: str) -> int:
    """Whitespace-separated words: the server's token count."""
    return len(text.split())


def hash_hex(*parts: Any, length: int = 24) -> str:
    """A short stable digest of ``parts`` (reply and tool-call ids)."""
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()[:length]


def words_directive(texts: list[str]) -> int | None:
    """The ``N`` of the last ``[[words:N]]`` directive in ``texts``, if any."""
    found = [int(match.group(1)) for text in texts for match in WORDS_DIRECTIVE.finditer(text)]
    return found[-1] if found else None


def exact_words(seed_text: str, count: int) -> str:
    """Exactly ``count`` words, from the prompt's words and then a filler."""
    base = ["Echo:", *seed_text.split()] if seed_text.split() else list(_FILLER)
    if len(base) < count:
        # Cycle the prompt's words after the filler so long replies stay prompt-related yet
        # varied enough for tokenisers.
        pool = base + _FILLER
        base = [pool[i % len(pool)] for i in range(count)]
    return " ".join(base[:count])


def echo_text(text: str, images: int) -> str:
    """The echo reply: ``"Echo: <text>"`` (at most 100 words), images mentioned."""
    words = WORDS_DIRECTIVE.sub(" ", text).split()[:MAX_ECHO_WORDS]
    prefix = f"I see {images} image{'s' if images > 1 else ''}. " if images else ""
    return " ".join([prefix + "Echo:", *words])


def apply_limits(text: str, stop: list[str], max_tokens: int | None) -> tuple[str, str]:
    """``text`` cut at ``max_tokens`` tokens and the first stop sequence, and its finish reason."""
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


def wants_usage(body: dict[str, Any]) -> bool:
    """Whether a stream asks for a final usage chunk."""
    options = body.get("stream_options")
    return bool(body.get("stream") and isinstance(options, dict) and options.get("include_usage"))


def stop_list(body: dict[str, Any]) -> list[str]:
    """The body's stop sequences as a list."""
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    return [s for s in stops if isinstance(s, str)]
