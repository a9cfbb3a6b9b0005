"""Novita-shaped responses for the offline server's scripted replies (``server.script(...)``).

Tests whose point is how our code reads a reply (usage details, logprobs, reasoning details)
queue the exact reply here instead of relying on a server rule.
"""

from __future__ import annotations

from typing import Any

USAGE = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
CACHED_USAGE = {**USAGE, "prompt_tokens_details": {"cached_tokens": 12}}
"""Usage of a reply whose prompt was partly served from Novita's prefix cache."""


def chat_completion(
    model: str,
    message: dict[str, Any],
    *,
    usage: dict[str, Any] | None = None,
    logprobs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` with one choice holding ``message`` (an assistant message)."""
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": "stop",
                "logprobs": logprobs,
            }
        ],
        "usage": usage or USAGE,
    }


def chat_stream(
    model: str, deltas: list[dict[str, Any]], *, logprobs: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The chunks of a stream: one per delta (the last one finishes), then a usage chunk.

    ``logprobs`` gives each delta's choice ``logprobs`` (None for all when omitted).
    """
    envelope = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 1}
    chunks = []
    for position, delta in enumerate(deltas):
        choice = {
            "index": 0,
            "delta": delta,
            "finish_reason": "stop" if position == len(deltas) - 1 else None,
            "logprobs": None if logprobs is None else logprobs[position],
        }
        chunks.append({**envelope, "model": model, "choices": [choice]})
    return [*chunks, {**envelope, "model": model, "choices": [], "usage": USAGE}]


def logprob(token: str, *alternatives: str) -> dict[str, Any]:
    """One entry of a chat choice's ``logprobs.content``: ``token`` first among its tops."""
    tops = [
        {"token": text, "logprob": -0.1 * (rank + 1), "bytes": list(text.encode())}
        for rank, text in enumerate((token, *alternatives))
    ]
    return {**tops[0], "top_logprobs": tops}


def interleaved_thinking(model: str, *, stream: bool) -> dict[str, Any]:
    """``server.script`` arguments: a MiniMax-style reply thinking in ``reasoning_details``.

    Streamed, the thinking comes in two pieces of the same ``reasoning_details`` entry.
    """
    first = {"type": "reasoning.text", "text": "Think", "index": 0}
    first.update({"id": "rd-1", "format": "openai-responses-v1"})
    if not stream:
        whole = {**first, "text": "Thinking"}
        message = {
            "content": "Rome.",
            "reasoning_content": "Thinking",
            "reasoning_details": [whole],
        }
        return {"json": chat_completion(model, message)}
    rest = {"type": "reasoning.text", "text": "ing", "index": 0}
    deltas = [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Think", "reasoning_details": [first]},
        {"reasoning_content": "ing", "reasoning_details": [rest]},
        {"content": "Rome."},
    ]
    return {"stream": chat_stream(model, deltas)}


def text_completion(
    model: str, text: str, *, logprobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A legacy ``text_completion`` with one choice."""
    choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": logprobs}
    return {
        "id": "cmpl-scripted",
        "object": "text_completion",
        "created": 1,
        "model": model,
        "choices": [choice],
        "usage": USAGE,
    }
