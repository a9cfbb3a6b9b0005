"""A planned chat reply, rendered as one ``chat.completion`` or as its stream of chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from novita_core.testing.replies.common import (
    SYSTEM_FINGERPRINT,
    dumps,
    split_tokens,
    word_count,
)

__all__ = ["ChatPlan", "ToolCall"]


@dataclass
class ToolCall:
    """A generated tool call."""

    id: str
    name: str
    arguments: str

    def entry(self, arguments: str) -> dict[str, Any]:
        """The call as a message's ``tool_calls`` entry, with these ``arguments``."""
        function = {"name": self.name, "arguments": arguments}
        return {"id": self.id, "type": "function", "function": function}


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
    prompt_tokens: int
    include_usage: bool

    def tokens(self) -> list[str]:
        """Content tokens (with leading whitespace)."""
        return split_tokens(self.content or "")

    def usage(self) -> dict[str, Any]:
        """Usage for all choices."""
        per_choice = len(self.tokens())
        if self.tool_calls:
            per_choice = sum(max(1, word_count(c.arguments)) for c in self.tool_calls)
        reasoning_tokens = len(split_tokens(self.reasoning or ""))
        completion = (per_choice + reasoning_tokens) * self.n
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }
        if self.reasoning is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens * self.n}
        return usage

    def response(self) -> dict[str, Any]:
        """The non-stream ``chat.completion`` object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = [call.entry(call.arguments) for call in self.tool_calls]
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
                    "logprobs": None,
                }
                for i in range(self.n)
            ],
            "usage": self.usage(),
        }

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def _chunk(
        self,
        index: int,
        delta: dict[str, Any],
        finish_reason: str | None = None,
    ) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        usage = {"usage": None} if self.include_usage else {}
        return {**self._envelope(), "choices": [choice], **usage}

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
                finish = self.finish_reason if i == len(tokens) - 1 else None
                yield self._chunk(index, {"content": token}, finish_reason=finish)
        if self.include_usage:
            yield {**self._envelope(), "choices": [], "usage": self.usage()}

    def encoded_chunks(self) -> Iterator[bytes]:
        """The stream chunks as compact JSON bytes (same content as :meth:`chunks`).

        Content deltas, the bulk of any long stream, are spliced into a pre-encoded template
        instead of being serialised as whole objects: benchmarks share the GIL with this server,
        so its per-token cost shows up in their numbers.
        """
        if self.tool_calls:
            for chunk in self.chunks():
                yield dumps(chunk)
            return
        head = dumps(self._envelope())[:-1] + b',"choices":[{"index":'
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
            yield dumps({**self._envelope(), "choices": [], "usage": self.usage()})

    def _reasoning_chunks(self, index: int, reasoning: list[str]) -> Iterator[dict[str, Any]]:
        for piece in reasoning:
            yield self._chunk(index, {"reasoning_content": piece})

    def _tool_chunks(self, index: int, reasoning: list[str]) -> Iterator[dict[str, Any]]:
        yield self._chunk(index, {"role": "assistant", "content": None})
        yield from self._reasoning_chunks(index, reasoning)
        for position, call in enumerate(self.tool_calls):
            yield self._chunk(index, {"tool_calls": [{"index": position, **call.entry("")}]})
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
