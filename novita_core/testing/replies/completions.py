"""``POST /completions`` (legacy text completions): Novita's checks and a deterministic reply.

The reply echoes each prompt (``" Echo: <prompt>"``), or follows a ``[[words:N]]`` directive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from novita_core.testing.replies.common import (
    SYSTEM_FINGERPRINT,
    WORDS_DIRECTIVE,
    ApiError,
    apply_limits,
    check_ranges,
    dumps,
    echo_text,
    exact_words,
    hash_hex,
    logprob,
    require_model,
    require_object_with_model,
    split_tokens,
    stop_list,
    text_inputs,
    wants_usage,
    word_count,
    words_directive,
)
from novita_core.testing.replies.models import ModelEntry

__all__ = ["CompletionPlan", "build_completion"]


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
    require_object_with_model(body)
    prompts = text_inputs(body.get("prompt"))
    if not prompts:
        raise ApiError(400, "prompt is required: a string, a list of strings or token arrays")
    entry = require_model(body, models, "chat")
    check_ranges(body, "completions")
    logprobs = body.get("logprobs")
    prompt_tokens = sum(word_count(p) for p in prompts)
    n = body.get("n") or 1
    stop = stop_list(body)
    max_tokens = body.get("max_tokens")
    echo = bool(body.get("echo"))
    texts: list[tuple[str, str, int]] = []
    for p in prompts:
        directive = words_directive([p])
        if directive is not None:
            reply = " " + exact_words(WORDS_DIRECTIVE.sub(" ", p), directive)
        else:
            reply = " " + echo_text(p, 0)
        text, finish = apply_limits(reply, stop, max_tokens)
        for _ in range(n):
            texts.append(((p + text) if echo else text, finish, 0 if echo else len(p)))
    include_usage = wants_usage(body)
    return CompletionPlan(
        id=f"cmpl-{hash_hex(body)}",
        model=entry.id,
        created=int(time.time()),
        texts=texts,
        logprobs=logprobs,
        prompt_tokens=prompt_tokens,
        include_usage=include_usage,
    )


def _completion_logprobs(tokens: list[str], top: int, offset: int) -> dict[str, Any]:
    offsets: list[int] = []
    pos = offset
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    tops: list[dict[str, float]] = []
    for i, token in enumerate(tokens):
        lp = logprob(token, i)
        entry = {token: lp}
        for k in range(1, top):
            entry[f"{token.strip()}#{k}"] = round(lp - 1.5 * k, 4)
        tops.append(entry)
    return {
        "tokens": tokens,
        "token_logprobs": [logprob(t, i) for i, t in enumerate(tokens)],
        "top_logprobs": tops,
        "text_offset": offsets,
    }
