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
    require_model,
    split_tokens,
    stop_list,
    text_inputs,
    wants_usage,
    word_count,
    words_directive,
)
from novita_core.testing.replies.models import ModelInfo

__all__ = ["CompletionPlan", "build_completion"]


@dataclass
class CompletionPlan:
    """Everything needed to render one legacy completion reply."""

    id: str
    model: str
    created: int
    texts: list[tuple[str, str]]  # (text, finish_reason) per choice
    prompt_tokens: int
    include_usage: bool

    def usage(self) -> dict[str, Any]:
        """Usage for all choices."""
        completion = sum(len(split_tokens(t)) for t, _ in self.texts)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def _envelope(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
            **fields,
        }

    def _choice(self, index: int, text: str, finish: str | None) -> dict[str, Any]:
        return {"index": index, "text": text, "finish_reason": finish, "logprobs": None}

    def response(self) -> dict[str, Any]:
        """The non-stream ``text_completion`` object."""
        choices = [self._choice(i, *choice) for i, choice in enumerate(self.texts)]
        return self._envelope(choices=choices, usage=self.usage())

    def encoded_chunks(self) -> Iterator[bytes]:
        """The stream chunks as compact JSON bytes, without ``[DONE]``."""
        usage = {"usage": None} if self.include_usage else {}
        for index, (text, finish) in enumerate(self.texts):
            tokens = split_tokens(text) or [""]
            for position, token in enumerate(tokens):
                last = position == len(tokens) - 1
                choice = self._choice(index, token, finish if last else None)
                yield dumps(self._envelope(choices=[choice], **usage))
        if self.include_usage:
            yield dumps(self._envelope(choices=[], usage=self.usage()))


def build_completion(body: Any, models: dict[str, ModelInfo]) -> CompletionPlan:
    """Validate a ``/completions`` body and plan the deterministic reply.

    Raises:
        ApiError: For invalid bodies (400) and unknown models (404).
    """
    entry = require_model(body, models, "chat")
    prompts = text_inputs(body.get("prompt"))
    if not prompts:
        raise ApiError(400, "prompt is required: a string, a list of strings or token arrays")
    check_ranges(body, "completions")
    echo = bool(body.get("echo"))
    texts: list[tuple[str, str]] = []
    for prompt in prompts:
        directive = words_directive([prompt])
        if directive is not None:
            reply = " " + exact_words(WORDS_DIRECTIVE.sub(" ", prompt), directive)
        else:
            reply = " " + echo_text(prompt, 0)
        text, finish = apply_limits(reply, stop_list(body), body.get("max_tokens"))
        choice = ((prompt + text) if echo else text, finish)
        texts += [choice] * (body.get("n") or 1)
    return CompletionPlan(
        id=f"cmpl-{hash_hex(body)}",
        model=entry.id,
        created=int(time.time()),
        texts=texts,
        prompt_tokens=sum(word_count(p) for p in prompts),
        include_usage=wants_usage(body),
    )
