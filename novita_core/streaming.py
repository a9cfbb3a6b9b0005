"""The one stream assembler: SSE lines -> chunk dicts -> deltas, plus the running totals.

It works on plain dicts parsed from the ``data:`` lines instead of the SDK's typed chunks: it has to
see ``data: [DONE]`` (which the SDK's stream hides) to tell a finished stream from a dropped one,
and skipping the typed objects is most of what makes streaming cheap.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from novita_core.reasoning import ThinkSplitter

DONE_MARKER = "[DONE]"
DONE_MARKER_BYTES = b"[DONE]"


class MalformedEventError(ValueError):
    """A ``data:`` line that is neither JSON nor ``[DONE]``."""


class StreamIncompleteError(ValueError):
    """The event stream ended before ``[DONE]`` or a ``finish_reason`` for every choice."""


def parse_data_line(line: bytes) -> dict[str, Any] | None:
    """Parse one SSE line: a chunk dict for ``data: {...}``, None for anything to skip.

    Raises:
        MalformedEventError: a ``data:`` payload that is not JSON.
    """
    if not line.startswith(b"data:"):
        return None  # blank separators, ``:`` keep-alive comments, ``event:``/``id:`` fields
    payload = line[5:].strip()
    if payload == DONE_MARKER_BYTES:
        return {DONE_MARKER: True}
    try:
        chunk = json.loads(payload)
    except ValueError as exc:
        raise MalformedEventError(f"malformed SSE data line: {_preview(payload)}") from exc
    if not isinstance(chunk, dict):
        raise MalformedEventError(f"SSE data is not a JSON object: {_preview(payload)}")
    return chunk


def _preview(payload: bytes) -> str:
    return repr(payload[:200].decode("utf-8", "replace"))


class _LineSplitter:
    r"""Cuts a byte stream into lines (``\n`` or ``\r\n``) without decoding it to text.

    Working on bytes skips the incremental text decoder of the HTTP library, which costs time
    and a few KB per open stream; ``json.loads`` reads UTF-8 bytes directly.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        lines = (self._pending + data).split(b"\n") if self._pending else data.split(b"\n")
        self._pending = lines.pop()
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def flush(self) -> list[bytes]:
        rest, self._pending = self._pending, b""
        return [rest] if rest else []


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """SSE lines from the raw byte chunks of a response body."""
    splitter = _LineSplitter()
    for data in chunks:
        yield from splitter.feed(data)
    yield from splitter.flush()


async def asplit_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Async twin of :func:`split_lines`."""
    splitter = _LineSplitter()
    async for data in chunks:
        for line in splitter.feed(data):
            yield line
    for line in splitter.flush():
        yield line


@dataclass(slots=True)
class StreamDelta:
    """What one chunk changed for one choice (or, with ``usage`` set, the final usage).

    Args:
        choice: Index of the choice this delta belongs to.
        content: New text (chat ``delta.content`` or completions ``text``).
        reasoning: New ``reasoning_content`` text.
        tool_calls: Tool-call pieces as sent: ``{"index", "id", "name", "arguments"}`` where
            ``id``/``name`` appear on the first piece of a call and ``arguments`` is a fragment.
        finish_reason: Set on the choice's last chunk.
        logprobs: The chunk's logprobs for this choice, when asked for.
        usage: Token usage; only on the usage delta that closes the stream.
        role: The role announced by the first chunk.
        reasoning_details: ``reasoning_details`` pieces as sent (MiniMax-style models).
    """

    choice: int = 0
    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    logprobs: Any = None
    usage: dict[str, Any] | None = None
    role: str | None = None
    reasoning_details: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ChoiceState:
    """Everything a choice has accumulated so far."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: list[Any] = field(default_factory=list)
    reasoning_details: dict[int, dict[str, Any]] = field(default_factory=dict)
    think: ThinkSplitter = field(default_factory=ThinkSplitter)
    """Routes a leading ``<think>`` block of ``content`` to the reasoning."""

    @property
    def text(self) -> str:
        """The full text so far."""
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str:
        """The full reasoning_content so far."""
        return "".join(self.reasoning)

    def reasoning_detail_list(self) -> list[dict[str, Any]]:
        """Merged ``reasoning_details`` items, ordered by their ``index``."""
        return [item for _, item in sorted(self.reasoning_details.items())]

    def tool_call_list(self) -> list[dict[str, Any]]:
        """Merged tool calls in OpenAI message form, ordered by their stream index."""
        return [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for _, call in sorted(self.tool_calls.items())
        ]


class StreamAssembler:
    """Turns chunk dicts into :class:`StreamDelta` s and keeps the totals per choice.

    Example:
        >>> asm = StreamAssembler()
        >>> chunk = {"id": "c1", "model": "m", "choices": [
        ...     {"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
        >>> [d.content for d in asm.feed(chunk)]
        ['Hi']
        >>> asm.feed({"[DONE]": True})
        []
        >>> asm.finish().choices[0].text
        'Hi'
    """

    __slots__ = ("choices", "created", "done", "id", "model", "system_fingerprint", "usage")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (a retried request starts from scratch)."""
        self.choices: dict[int, ChoiceState] = {}
        self.id: str | None = None
        self.model: str | None = None
        self.system_fingerprint: str | None = None
        self.created: int | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def feed(self, chunk: dict[str, Any]) -> list[StreamDelta]:
        """Account for one chunk and return what it changed (usage-only chunks give one delta)."""
        if DONE_MARKER in chunk:
            self.done = True
            return []
        if self.id is None:
            self.id = chunk.get("id")
            self.model = chunk.get("model")
            self.created = chunk.get("created")
        fingerprint = chunk.get("system_fingerprint")
        if fingerprint:
            self.system_fingerprint = fingerprint
        deltas = [self._feed_choice(choice) for choice in chunk.get("choices") or ()]
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
            deltas.append(StreamDelta(choice=0, usage=usage))
        return deltas

    def _feed_choice(self, choice: dict[str, Any]) -> StreamDelta:
        index = choice.get("index") or 0
        state = self.choices.get(index)
        if state is None:
            state = self.choices[index] = ChoiceState()
        delta_obj = choice.get("delta")
        if delta_obj is None:  # the completions endpoint streams ``text`` instead of ``delta``
            delta_obj = {"content": choice.get("text")}
        delta = StreamDelta(choice=index, role=delta_obj.get("role"))
        reasoning = delta_obj.get("reasoning_content") or delta_obj.get("reasoning")
        content = delta_obj.get("content")
        finish = choice.get("finish_reason")
        if not state.think.passthrough and (content or finish):
            inline, content = state.think.feed(content or "")
            if finish:
                held_reasoning, held_content = state.think.flush()
                inline += held_reasoning
                content += held_content
            if inline:
                reasoning = f"{reasoning}{inline}" if isinstance(reasoning, str) else inline
        if content:
            delta.content = content
            state.content.append(content)
        if reasoning and isinstance(reasoning, str):
            delta.reasoning = reasoning
            state.reasoning.append(reasoning)
        details = delta_obj.get("reasoning_details")
        if details:
            delta.reasoning_details = details
            self._merge_reasoning_details(state, details)
        raw_calls = delta_obj.get("tool_calls")
        if raw_calls:
            delta.tool_calls = [self._merge_tool_call(state, call) for call in raw_calls]
        if finish:
            delta.finish_reason = state.finish_reason = finish
        logprobs = choice.get("logprobs")
        if logprobs:
            delta.logprobs = logprobs
            state.logprobs.append(logprobs)
        return delta

    @staticmethod
    def _merge_reasoning_details(state: ChoiceState, items: list[dict[str, Any]]) -> None:
        # Pieces of one item share its ``index``: their ``text`` is concatenated, and the other
        # fields (type, id, format) are taken from the first piece that has them. The whole list
        # must go back to the model in the next turn for interleaved thinking (reference §4).
        for position, item in enumerate(items):
            index = item.get("index", position)
            merged = state.reasoning_details.get(index)
            if merged is None:
                state.reasoning_details[index] = dict(item)
                continue
            for key, value in item.items():
                if key == "text" and isinstance(value, str):
                    merged["text"] = merged.get("text", "") + value
                else:
                    merged.setdefault(key, value)

    @staticmethod
    def _merge_tool_call(state: ChoiceState, call: dict[str, Any]) -> dict[str, Any]:
        # Pieces are keyed by ``index``; a server that omits it sends one call per chunk.
        index = call.get("index")
        if index is None:
            index = len(state.tool_calls) if call.get("id") else max(state.tool_calls, default=0)
        function = call.get("function") or {}
        piece = {
            "index": index,
            "id": call.get("id"),
            "name": function.get("name"),
            "arguments": function.get("arguments") or "",
        }
        merged = state.tool_calls.get(index)
        if merged is None:
            state.tool_calls[index] = {
                "id": piece["id"],
                "name": piece["name"] or "",
                "arguments": piece["arguments"],
            }
        else:
            if piece["id"] and not merged["id"]:
                merged["id"] = piece["id"]
            if piece["name"] and not merged["name"]:
                merged["name"] = piece["name"]
            merged["arguments"] += piece["arguments"]
        return piece

    def finish(self) -> StreamAssembler:
        """Check the stream really ended; return self.

        Raises:
            StreamIncompleteError: neither ``[DONE]`` nor a ``finish_reason`` on every choice
                arrived, i.e. the connection dropped mid-answer.
        """
        if self.done:
            return self
        if self.choices and all(state.finish_reason for state in self.choices.values()):
            return self
        received = sum(len(state.content) for state in self.choices.values())
        raise StreamIncompleteError(
            "The stream ended before it was complete (no finish_reason and no [DONE]) after "
            f"{received} content chunk(s); the answer is truncated and was not returned."
        )

    def message(self, index: int = 0) -> dict[str, Any]:
        """The assembled assistant message of choice ``index`` in OpenAI form."""
        state = self.choices.get(index, ChoiceState())
        message: dict[str, Any] = {"role": "assistant", "content": state.text}
        if state.reasoning:
            message["reasoning_content"] = state.reasoning_text
        if state.reasoning_details:
            message["reasoning_details"] = state.reasoning_detail_list()
        if state.tool_calls:
            message["tool_calls"] = state.tool_call_list()
        return message
