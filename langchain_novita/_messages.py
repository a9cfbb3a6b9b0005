"""LangChain messages <-> OpenAI-shaped dicts, and core stream deltas -> message chunks.

Module-level functions only, so they can be tested (and reused by ``llms.py``) without a model.
Nothing here knows about Novita beyond the OpenAI wire shape it speaks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolMessage,
    is_data_content_block,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.block_translators.openai import convert_to_openai_data_block
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call

from novita_core.streaming import StreamDelta

MODEL_PROVIDER = "novita"
"""``response_metadata["model_provider"]``: selects LangChain's block translator."""

_ROLES: dict[type[BaseMessage], str] = {
    SystemMessage: "system",
    HumanMessage: "user",
    AIMessage: "assistant",
    ToolMessage: "tool",
    FunctionMessage: "function",
}
"""Message class -> wire role (``ChatMessage`` carries its own role)."""

_DROPPED_BLOCKS = frozenset(
    {
        "tool_use",
        "tool_call",
        "tool_call_chunk",
        "thinking",
        "reasoning",
        "reasoning_content",
        "function_call",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_result",
    }
)
"""Content block types that never go on the chat-completions wire (they travel elsewhere)."""


# -- LangChain -> OpenAI -------------------------------------------------------------------------


def _format_block(block: Any) -> dict[str, Any] | None:
    """One content part in chat-completions form, or None to drop it."""
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, Mapping):
        return None
    kind = block.get("type")
    if kind in _DROPPED_BLOCKS:
        return None
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "image_url":
        return {"type": "image_url", "image_url": block["image_url"]}
    if is_data_content_block(dict(block)):
        return convert_to_openai_data_block(dict(block), api="chat/completions")
    return dict(block)


def format_content(content: str | Sequence[Any]) -> str | list[dict[str, Any]]:
    """Message content for the wire: strings as they are, lists as OpenAI content parts.

    Handles text parts, ``image_url`` parts (URL or ``data:`` base64) and LangChain's standard
    data blocks (``{"type": "image", "base64"|"url": ...}``); reasoning and tool-call blocks are
    dropped because they travel in their own fields.
    """
    if isinstance(content, str):
        return content
    parts = [part for part in (_format_block(block) for block in content) if part is not None]
    return parts


def _text_only(content: str | Sequence[Any]) -> str | list[dict[str, Any]]:
    """Assistant/tool content: a plain string when every part is text."""
    formatted = format_content(content)
    if isinstance(formatted, str):
        return formatted
    if all(part.get("type") == "text" for part in formatted):
        return "".join(part["text"] for part in formatted)
    return formatted


def _tool_call_to_dict(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
    }


def _invalid_tool_call_to_dict(call: InvalidToolCall) -> dict[str, Any]:
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": call.get("name"), "arguments": call.get("args")},
    }


def message_to_dict(message: BaseMessage) -> dict[str, Any]:
    """Convert a LangChain message to an OpenAI chat message dict.

    Args:
        message: System, human, AI, tool, function or generic chat message.

    Returns:
        The wire dict: ``role``, ``content`` and, where they apply, ``name``, ``tool_calls``
        and ``tool_call_id``.

    Raises:
        TypeError: for a message class with no wire role.
    """
    if isinstance(message, ChatMessage):
        role = message.role
    else:
        found = next((r for cls, r in _ROLES.items() if isinstance(message, cls)), None)
        if found is None:
            raise TypeError(f"Cannot send a {type(message).__name__} to Novita")
        role = found
    result: dict[str, Any] = {"role": role}
    if isinstance(message, (AIMessage, ToolMessage, FunctionMessage)):
        result["content"] = _text_only(message.content)
    else:
        result["content"] = format_content(message.content)
    name = message.name or message.additional_kwargs.get("name")
    if name and role != "tool":  # the tool role has no ``name`` in the chat-completions schema
        result["name"] = name
    if isinstance(message, AIMessage):
        # Interleaved-thinking models need their reasoning_details back in the next turn;
        # reasoning_content is never sent back.
        if message.additional_kwargs.get("reasoning_details"):
            result["reasoning_details"] = message.additional_kwargs["reasoning_details"]
        calls = [_tool_call_to_dict(c) for c in message.tool_calls]
        calls += [_invalid_tool_call_to_dict(c) for c in message.invalid_tool_calls]
        if not calls and message.additional_kwargs.get("tool_calls"):
            calls = list(message.additional_kwargs["tool_calls"])
        if calls:
            result["tool_calls"] = calls
            if not result["content"]:
                result["content"] = None
    elif isinstance(message, ToolMessage):
        result["tool_call_id"] = message.tool_call_id
    return result


def messages_to_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Convert a conversation with :func:`message_to_dict`."""
    return [message_to_dict(m) for m in messages]


# -- OpenAI -> LangChain -------------------------------------------------------------------------


def usage_to_metadata(usage: Mapping[str, Any]) -> UsageMetadata:
    """OpenAI ``usage`` -> LangChain ``UsageMetadata`` (with cache-read and reasoning details)."""
    input_tokens = int(usage.get("prompt_tokens") or 0)
    output_tokens = int(usage.get("completion_tokens") or 0)
    metadata: dict[str, Any] = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": int(usage.get("total_tokens") or input_tokens + output_tokens),
    }
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        metadata["input_token_details"] = InputTokenDetails(cache_read=cached)
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
    if reasoning is not None:
        metadata["output_token_details"] = OutputTokenDetails(reasoning=reasoning)
    return cast("UsageMetadata", metadata)


def _parse_tool_calls(
    raw_calls: Sequence[Mapping[str, Any]],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls:
        try:
            parsed = parse_tool_call(dict(raw), return_id=True)
        except Exception as exc:  # malformed JSON arguments from the model
            invalid.append(make_invalid_tool_call(dict(raw), str(exc)))
        else:
            if parsed is not None:
                calls.append(
                    tool_call(name=parsed["name"], args=parsed["args"], id=parsed.get("id"))
                )
    return calls, invalid


def dict_to_message(data: Mapping[str, Any]) -> BaseMessage:
    """Convert an OpenAI chat message dict to a LangChain message.

    ``reasoning_content`` (Novita's reasoning models) goes to
    ``additional_kwargs["reasoning_content"]`` and ``reasoning_details`` (MiniMax-style models) to
    ``additional_kwargs["reasoning_details"]``; tool calls are parsed into ``tool_calls``
    (``invalid_tool_calls`` when their arguments are not JSON).
    """
    role = data.get("role")
    content = data.get("content") or ""
    name = data.get("name")
    if role == "assistant":
        additional: dict[str, Any] = {}
        if data.get("reasoning_content"):
            additional["reasoning_content"] = data["reasoning_content"]
        if data.get("reasoning_details"):
            additional["reasoning_details"] = data["reasoning_details"]
        calls, invalid = _parse_tool_calls(data.get("tool_calls") or ())
        return AIMessage(
            content=content,
            additional_kwargs=additional,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            name=name,
        )
    if role == "user":
        return HumanMessage(content=content, name=name)
    if role == "system":
        return SystemMessage(content=content, name=name)
    if role == "tool":
        return ToolMessage(content=content, tool_call_id=data.get("tool_call_id") or "", name=name)
    if role == "function":
        return FunctionMessage(content=content, name=name or "")
    return ChatMessage(content=content, role=role or "", name=name)


def response_metadata(
    response: Mapping[str, Any], choice: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The ``response_metadata`` of a message: model, finish reason, fingerprint, logprobs."""
    fields = (
        ("model_name", response.get("model")),
        ("system_fingerprint", response.get("system_fingerprint")),
        ("id", response.get("id")),
        ("finish_reason", (choice or {}).get("finish_reason")),
        ("logprobs", (choice or {}).get("logprobs")),
    )
    return {
        "model_provider": MODEL_PROVIDER,
        **{key: value for key, value in fields if value is not None},
    }


def choice_to_message(response: Mapping[str, Any], choice: Mapping[str, Any]) -> BaseMessage:
    """One choice of a chat completion as an ``AIMessage`` with id, usage and metadata."""
    message = dict_to_message(choice.get("message") or {"role": "assistant"})
    if isinstance(message, AIMessage):
        message.id = response.get("id")
        message.response_metadata = response_metadata(response, choice)
        if response.get("usage"):
            message.usage_metadata = usage_to_metadata(response["usage"])
    return message


# -- stream deltas -------------------------------------------------------------------------------


def delta_to_chunk(
    delta: StreamDelta,
    *,
    response_id: str | None = None,
    model_name: str | None = None,
    system_fingerprint: str | None = None,
    reasoning_details: list[dict[str, Any]] | None = None,
    tool_index_offset: int = 0,
) -> AIMessageChunk:
    """One core :class:`StreamDelta` as an ``AIMessageChunk``.

    Text goes to ``content``, reasoning to ``additional_kwargs["reasoning_content"]``, tool-call
    pieces to ``tool_call_chunks`` (keyed by ``index`` so LangChain merges them). The finish
    delta carries ``finish_reason``, ``model_name`` and ``system_fingerprint``; the usage delta
    carries ``usage_metadata``. Both arrive once per stream, so summing chunks counts them once.
    ``reasoning_details`` (the assembled list) is passed only with the finish delta, for the
    same reason: LangChain would otherwise concatenate its string fields piece by piece.
    ``tool_index_offset`` is added to each tool-call piece's ``index`` (see ``ChatNovita``'s
    v1 output).
    """
    additional: dict[str, Any] = {}
    if delta.reasoning:
        additional["reasoning_content"] = delta.reasoning
    if reasoning_details:
        additional["reasoning_details"] = reasoning_details
    chunks = [
        tool_call_chunk(
            name=piece.get("name"),
            args=piece.get("arguments") or "",
            id=piece.get("id"),
            index=piece["index"] + tool_index_offset,
        )
        for piece in delta.tool_calls or ()
    ]
    metadata: dict[str, Any] = {"model_provider": MODEL_PROVIDER}
    if delta.logprobs is not None:
        metadata["logprobs"] = delta.logprobs
    if delta.finish_reason:
        metadata["finish_reason"] = delta.finish_reason
        if model_name:
            metadata["model_name"] = model_name
        if system_fingerprint:
            metadata["system_fingerprint"] = system_fingerprint
    # Only the fields that are set: a text delta is most of a stream, and every field given
    # costs pydantic a validation (the defaults are the same empty values).
    fields: dict[str, Any] = {}
    if additional:
        fields["additional_kwargs"] = additional
    if chunks:
        fields["tool_call_chunks"] = chunks
    if delta.usage:
        fields["usage_metadata"] = usage_to_metadata(delta.usage)
    return AIMessageChunk(
        content=delta.content, response_metadata=metadata, id=response_id, **fields
    )
