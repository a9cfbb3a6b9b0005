"""The one stream assembler: SSE lines -> chunk dicts -> deltas, plus the running totals.

It works on plain dicts parsed from the ``data:`` lines instead of the SDK's typed chunks: it has to
see ``data: [DONE]`` (which the SDK's stream hides) to tell a finished stream from a dropped one,
and skipping the typed objects is most of what makes streaming cheap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from novita_core.reasoning import ThinkSplitter

DONE_MARKER = "[DONE]"
DONE_MARKER_BYTES = b"[DONE]"


class MalformedEventError(ValueError):
    """A ``data:`` payload that is neither JSON nor ``[DONE]``."""


class StreamIncompleteError(ValueError):
    """The event stream ended before ``[DONE]`` or a ``finish_reason`` for every choice."""


class StreamErrorEvent(ValueError):
    """The server reported an error inside the stream (an ``error`` event or ``finish_reason``).

    Args:
        error: The provider's error object (``message``, ``code`` ...), as sent.
    """

    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(error.get("message") or "the server reported an error in the stream")
        self.error = error


def parse_event(payload: bytes) -> dict[str, Any]:
    """Parse the data of one SSE event: a chunk dict, or ``{"[DONE]": True}``.

    Raises:
        MalformedEventError: a payload that is not a JSON object.
    """
    if len(payload) < 16 and payload.strip() == DONE_MARKER_BYTES:
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


class EventDecoder:
    r"""Cuts a byte stream into the data of its server-sent events, without decoding it to text.

    It follows the SSE rules: lines end in ``\n``, ``\r\n`` or a lone ``\r``; the ``data:``
    lines of one event are joined with ``\n`` and the event ends at a blank line; comments
    (``:``), ``event:``, ``id:`` and ``retry:`` lines are skipped; an event whose data is empty or
    blank is not dispatched. At the end of the body an event still open is dispatched too, so a last
    ``data: [DONE]`` without its blank line is not lost. The common ``data: {...}\n\n`` case
    is a ``split`` and one ``startswith`` per line: working on bytes skips the HTTP library's
    incremental text decoder, and ``json.loads`` reads UTF-8 bytes directly.

    Example:
        >>> decoder = EventDecoder()
        >>> decoder.feed(b'data: {"a":\r\ndata: 1}\r\n\r\n: ping\n\ndata: [DO')
        [b'{"a":\n1}']
        >>> decoder.feed(b"NE]") + decoder.flush()
        [b'[DONE]']
    """

    __slots__ = ("_data", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._data: bytes | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event that ``chunk`` completes."""
        text = self._pending + chunk if self._pending else chunk
        tail = b""
        if b"\r" in text:
            if text.endswith(b"\r"):  # may be the first half of a CRLF cut by the network
                text, tail = text[:-1], b"\r"
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = text.split(b"\n")
        self._pending = lines.pop() + tail
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data and not data.isspace():  # a blank event carries nothing to parse
                    events.append(data)
                data = None
            elif line.startswith(b"data:"):
                value = line[6:] if line[5:6] == b" " else line[5:]
                data = value if data is None else data + b"\n" + value
            elif line == b"data":
                data = b"" if data is None else data + b"\n"
        self._data = data
        return events

    def flush(self) -> list[bytes]:
        """The event the body ended in, if one was still open."""
        return self.feed(b"\n\n")


def error_object(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The error a 200 body or stream event carries instead of an answer, else None.

    Recognises OpenAI's ``{"error": {...}}`` envelope (or ``{"error": "text"}``) and Novita's flat
    ``{"code", "reason", "message"}`` body.
    """
    error = body.get("error")
    if error is not None:
        if isinstance(error, Mapping):
            return error
        return {"message": str(error)}
    flat = "message" in body and ("code" in body or "reason" in body)
    if flat and not any(key in body for key in ("choices", "data", "object")):
        return body
    return None


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
        reasoning_details: ``reasoning_details`` pieces as sent (MiniMax-style models).
    """

    choice: int = 0
    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    logprobs: Any = None
    usage: dict[str, Any] | None = None
    reasoning_details: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ChoiceState:
    """Everything a choice has accumulated so far."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
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
        """Account for one chunk and return what it changed (usage-only chunks give one delta).

        Raises:
            StreamErrorEvent: the chunk is an error object, or ends a choice with
                ``finish_reason: "error"``.
        """
        if DONE_MARKER in chunk:
            self.done = True
            return []
        if "error" in chunk or "choices" not in chunk:
            error = error_object(chunk)
            if error is not None:
                raise StreamErrorEvent(error)
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
        delta = StreamDelta(choice=index)
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
            if finish == "error":
                raise StreamErrorEvent({"message": "the server ended the answer with an error"})
            delta.finish_reason = state.finish_reason = finish
        logprobs = choice.get("logprobs")
        if logprobs:
            delta.logprobs = logprobs
        return delta

    @staticmethod
    def _merge_reasoning_details(state: ChoiceState, items: list[dict[str, Any]]) -> None:
        # Pieces of one item share its ``index``: their ``text`` is concatenated, and the other
        # fields (type, id, format) are taken from the first piece that has them. The whole list
        # must go back to the model in the next turn: interleaved-thinking models need it.
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
                arrived, i.e. the connection dropped mid-answer; or the stream carried no
                choice at all.
        """
        if self.done and self.choices:
            return self
        if self.choices and all(state.finish_reason for state in self.choices.values()):
            return self
        if self.done:
            raise StreamIncompleteError(
                "The stream ended with [DONE] without any choice; there is no answer to return."
            )
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
