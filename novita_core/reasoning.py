"""Reasoning in the shapes Novita's models send it, brought to one: ``reasoning_content``.

Most reasoning models send ``reasoning_content`` beside ``content``; some gateways name the same
field ``reasoning``; and some models (the original Qwen3 releases) write their reasoning inline,
as a leading ``<think>...</think>`` block of ``content``. Answers leave the core with the
reasoning in ``reasoning_content`` and only the answer in ``content``, whole or streamed.
"""

from __future__ import annotations

from typing import Any

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_UNDECIDED, _THINK_START, _THINKING, _ANSWER_START, _ANSWER = range(5)


def split_think(content: str) -> tuple[str | None, str]:
    """Split a leading ``<think>...</think>`` block off ``content``.

    Args:
        content: A whole answer.

    Returns:
        ``(reasoning, answer)``; ``reasoning`` is None when there is no leading block. An
        unterminated block (an answer cut by ``max_tokens``) is all reasoning.
    """
    stripped = content.lstrip()
    if not stripped.startswith(THINK_OPEN):
        return None, content
    end = stripped.find(THINK_CLOSE, len(THINK_OPEN))
    if end < 0:
        return stripped[len(THINK_OPEN) :].lstrip(), ""
    return stripped[len(THINK_OPEN) : end].lstrip(), stripped[end + len(THINK_CLOSE) :].lstrip()


def normalize_message(message: dict[str, Any]) -> None:
    """Move ``reasoning`` and inline ``<think>`` into ``reasoning_content``, in place."""
    reasoning = message.get("reasoning_content")
    if not reasoning and isinstance(message.get("reasoning"), str):
        reasoning = message["reasoning"]
    content = message.get("content")
    if isinstance(content, str) and content:
        inline, answer = split_think(content)
        if inline is not None:
            reasoning = f"{reasoning}{inline}" if reasoning else inline
            message["content"] = answer
    if reasoning:
        message["reasoning_content"] = reasoning


def normalize_response(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise the message of every choice of a chat completion; returns ``data``."""
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            normalize_message(message)
    return data


class ThinkSplitter:
    r"""Routes a stream's leading ``<think>...</think>`` block to reasoning, chunk by chunk.

    Tags may be split across chunks; text that might still be the start of a tag is held back
    until the next chunk (or :meth:`flush`) decides it. After the block, or when the answer does
    not start with one, text passes straight through.

    Example:
        >>> splitter = ThinkSplitter()
        >>> [splitter.feed(piece) for piece in ("<thi", "nk>plan</th", "ink>\n\nHi")]
        [('', ''), ('plan', ''), ('', 'Hi')]
    """

    __slots__ = ("_pending", "_phase")

    def __init__(self) -> None:
        self._phase = _UNDECIDED
        self._pending = ""

    @property
    def passthrough(self) -> bool:
        """Whether text now goes straight to the answer (the common, cheap case)."""
        return self._phase == _ANSWER

    def feed(self, text: str) -> tuple[str, str]:
        """Account for one chunk of ``content``; returns ``(reasoning, answer)`` text."""
        if self._phase == _ANSWER:
            return "", text
        if self._phase == _UNDECIDED:
            pending = self._pending + text
            lead = pending.lstrip()
            if len(lead) < len(THINK_OPEN) and THINK_OPEN.startswith(lead):
                self._pending = pending
                return "", ""
            self._pending = ""
            if not lead.startswith(THINK_OPEN):
                self._phase = _ANSWER
                return "", pending
            self._phase = _THINK_START
            text = lead[len(THINK_OPEN) :]
        if self._phase == _THINK_START:
            text = text.lstrip()
            if not text:
                return "", ""
            self._phase = _THINKING
        if self._phase == _THINKING:
            return self._feed_thinking(text)
        return "", self._feed_answer_start(text)

    def _feed_thinking(self, text: str) -> tuple[str, str]:
        buffer = self._pending + text
        end = buffer.find(THINK_CLOSE)
        if end >= 0:
            self._pending = ""
            self._phase = _ANSWER_START
            return buffer[:end], self._feed_answer_start(buffer[end + len(THINK_CLOSE) :])
        keep = _partial_suffix(buffer, THINK_CLOSE)
        self._pending = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep], ""

    def _feed_answer_start(self, text: str) -> str:
        answer = text.lstrip()
        if answer:
            self._phase = _ANSWER
        return answer

    def flush(self) -> tuple[str, str]:
        """What is held back, at the end of the choice: ``(reasoning, answer)``."""
        pending, self._pending = self._pending, ""
        if self._phase in (_THINK_START, _THINKING):
            return pending, ""
        if self._phase == _UNDECIDED:
            self._phase = _ANSWER
            return "", pending
        return "", ""


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper start of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
