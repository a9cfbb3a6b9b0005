"""Conversions between LlamaIndex objects and the OpenAI-shaped dicts the core sends and returns.

Nothing here knows about Novita: parameters, retries, streaming and model facts live in
:mod:`novita_core`. These functions only translate ``ChatMessage`` s and content blocks into
OpenAI message dicts and turn answers (JSON dicts and assembled streams) back into
``ChatMessage`` s, ``ToolSelection`` s and usage counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ImageBlock,
    LogProb,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from novita_core.answers import USAGE_KEYS

__all__ = [
    "chat_message_from_openai",
    "logprobs_from_openai",
    "parse_tool_arguments",
    "to_openai_message",
    "to_openai_messages",
    "tool_calls_from_message",
    "usage_kwargs",
]

_ROLE_MAP: dict[str, str] = {
    MessageRole.SYSTEM.value: "system",
    MessageRole.DEVELOPER.value: "system",
    MessageRole.USER.value: "user",
    MessageRole.ASSISTANT.value: "assistant",
    MessageRole.CHATBOT.value: "assistant",
    MessageRole.MODEL.value: "assistant",
    MessageRole.TOOL.value: "tool",
    MessageRole.FUNCTION.value: "tool",
}
"""LlamaIndex roles -> the four roles of OpenAI-compatible open models."""


# -- LlamaIndex -> OpenAI ---------------------------------------------------------------------


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert chat messages to OpenAI message dicts.

    Args:
        messages: LlamaIndex chat messages.

    Returns:
        One OpenAI message dict per message, in order.
    """
    return [to_openai_message(message) for message in messages]


def to_openai_message(message: ChatMessage) -> dict[str, Any]:
    """Convert one ``ChatMessage`` to an OpenAI message dict.

    Text blocks are joined into a string; a message with images (or audio/video) becomes a list
    of content parts. ``ThinkingBlock`` s are dropped (reasoning is never sent back), and
    ``ToolCallBlock`` s become ``tool_calls`` on assistant messages. Tool results carry
    ``tool_call_id`` from ``additional_kwargs``.

    Args:
        message: The message to convert.

    Returns:
        The OpenAI message dict.

    Raises:
        ValueError: the message holds a block type that cannot be sent.
    """
    role = _ROLE_MAP.get(str(message.role.value), str(message.role.value))
    out: dict[str, Any] = {"role": role}
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    has_media = False
    tool_calls: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            has_media = True
            parts.append(_image_part(block))
        elif isinstance(block, AudioBlock):
            has_media = True
            parts.append(
                {
                    "type": "input_audio",
                    "input_audio": {
                        "data": block.resolve_audio(as_base64=True).read().decode("utf-8"),
                        "format": block.format or "wav",
                    },
                }
            )
        elif isinstance(block, VideoBlock):
            has_media = True
            url = str(block.url) if block.url else block.inline_url()
            parts.append({"type": "video_url", "video_url": {"url": url}})
        elif isinstance(block, ToolCallBlock):
            tool_calls.append(_tool_call_dict(block))
        elif isinstance(block, (ThinkingBlock, CachePoint)):
            continue
        else:
            raise ValueError(
                f"Cannot send a {type(block).__name__} to Novita; use text, image, audio or "
                "video blocks."
            )

    if has_media and role in ("user", "system"):
        out["content"] = parts
    else:
        text = "\n".join(texts)
        if role == "tool" and has_media:
            text = "\n".join(part.get("text", "") for part in parts if part["type"] == "text")
        out["content"] = text

    if role == "assistant":
        # Interleaved-thinking models need their reasoning_details back in the next turn.
        if message.additional_kwargs.get("reasoning_details"):
            out["reasoning_details"] = message.additional_kwargs["reasoning_details"]
        if not tool_calls:
            legacy = message.additional_kwargs.get("tool_calls")
            if legacy:
                tool_calls = [_legacy_tool_call(call) for call in legacy]
        if tool_calls:
            out["tool_calls"] = tool_calls
            if not out["content"]:
                out["content"] = None
    if role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if call_id is not None:
            out["tool_call_id"] = call_id
    name = message.additional_kwargs.get("name")
    if name and role in ("user", "assistant", "system"):
        out["name"] = name
    return out


def _image_part(block: ImageBlock) -> dict[str, Any]:
    if block.url is not None and not block.image and not block.path:
        url = str(block.url)
    else:
        url = block.inline_url()
    image_url: dict[str, Any] = {"url": url}
    if block.detail:
        image_url["detail"] = block.detail
    return {"type": "image_url", "image_url": image_url}


def _tool_call_dict(block: ToolCallBlock) -> dict[str, Any]:
    args = block.tool_kwargs
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {
        "id": block.tool_call_id,
        "type": "function",
        "function": {"name": block.tool_name, "arguments": arguments},
    }


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    """Accept tool calls stored the older way (OpenAI dicts or SDK objects in additional_kwargs)."""
    if not isinstance(call, Mapping):
        call = call.model_dump() if hasattr(call, "model_dump") else dict(call)
    function = call.get("function") or {}
    arguments = function.get("arguments")
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": function.get("name"),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
        },
    }


# -- OpenAI -> LlamaIndex ---------------------------------------------------------------------


def parse_tool_arguments(arguments: Any, *, partial: bool = False) -> dict[str, Any] | str:
    """Parse a tool call's JSON ``arguments`` string.

    Args:
        arguments: The arguments as sent (a JSON string, usually).
        partial: Whether the string may be an unfinished stream fragment; then a best-effort
            partial parse is tried before giving up.

    Returns:
        The arguments as a dict; ``{}`` for empty input; the raw string if it is not JSON.
    """
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not arguments or not str(arguments).strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        if partial:
            try:
                parsed = parse_partial_json(arguments)
            except ValueError:
                return str(arguments)
        else:
            return str(arguments)
    return parsed if isinstance(parsed, dict) else str(arguments)


def chat_message_from_openai(message: Mapping[str, Any], *, partial: bool = False) -> ChatMessage:
    """Convert an OpenAI assistant message dict (JSON answer or assembled stream) to a message.

    ``reasoning_content`` becomes a leading ``ThinkingBlock`` and
    ``additional_kwargs["reasoning_content"]``; ``reasoning_details`` (MiniMax-style models) is
    kept in ``additional_kwargs`` and sent back with the message; tool calls become
    ``ToolCallBlock`` s and ``additional_kwargs["tool_calls"]`` (OpenAI form, for older
    consumers).

    Args:
        message: The ``choices[i].message`` dict.
        partial: Whether tool arguments may still be incomplete (streaming).

    Returns:
        The assistant ``ChatMessage``.
    """
    blocks: list[Any] = []
    additional: dict[str, Any] = {}
    reasoning = message.get("reasoning_content")
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning))
        additional["reasoning_content"] = reasoning
    if message.get("reasoning_details"):
        additional["reasoning_details"] = message["reasoning_details"]
    content = message.get("content")
    if content:
        blocks.append(TextBlock(text=content))
    calls = message.get("tool_calls") or []
    if calls:
        normalized = [_legacy_tool_call(call) for call in calls]
        additional["tool_calls"] = normalized
        for call in normalized:
            function = call["function"]
            blocks.append(
                ToolCallBlock(
                    tool_call_id=call.get("id"),
                    tool_name=function.get("name") or "",
                    tool_kwargs=parse_tool_arguments(function.get("arguments"), partial=partial),
                )
            )
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=additional)


def tool_calls_from_message(message: ChatMessage) -> list[ToolSelection]:
    """The tool calls of an assistant message as ``ToolSelection`` s (arguments parsed to dicts).

    Args:
        message: An assistant message, complete or from a stream in progress.

    Returns:
        One ``ToolSelection`` per call, in order.
    """
    selections: list[ToolSelection] = []
    blocks = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
    if not blocks:
        for call in message.additional_kwargs.get("tool_calls") or []:
            normalized = _legacy_tool_call(call)
            blocks.append(
                ToolCallBlock(
                    tool_call_id=normalized["id"],
                    tool_name=normalized["function"]["name"] or "",
                    tool_kwargs=normalized["function"]["arguments"],
                )
            )
    for block in blocks:
        kwargs = parse_tool_arguments(block.tool_kwargs, partial=True)
        selections.append(
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=kwargs if isinstance(kwargs, dict) else {},
            )
        )
    return selections


def usage_kwargs(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """The token counts of a ``usage`` dict under the keys ``TokenCountingHandler`` reads.

    Args:
        usage: The answer's ``usage`` dict, if any.

    Returns:
        ``prompt_tokens``/``completion_tokens``/``total_tokens`` that are present, and
        ``cached_tokens`` (prompt tokens served from Novita's prefix cache) when reported.
    """
    if not usage:
        return {}
    counts = {key: usage[key] for key in USAGE_KEYS if isinstance(usage.get(key), int)}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if isinstance(cached, int):
        counts["cached_tokens"] = cached
    return counts


def logprobs_from_openai(logprobs: Any) -> list[list[LogProb]] | None:
    """Convert chat ``logprobs`` (``{"content": [...]}``) to LlamaIndex's nested ``LogProb`` lists.

    Args:
        logprobs: ``choices[i].logprobs`` of a chat answer.

    Returns:
        Per generated token, the top alternatives (or the token itself); None without data.
    """
    if not isinstance(logprobs, Mapping):
        return None
    content = logprobs.get("content")
    if not content:
        return None
    result: list[list[LogProb]] = []
    for token in content:
        tops = token.get("top_logprobs") or [token]
        result.append(
            [
                LogProb(
                    token=str(top.get("token", "")),
                    logprob=float(top.get("logprob", 0.0)),
                    bytes=list(top.get("bytes") or []),
                )
                for top in tops
            ]
        )
    return result
