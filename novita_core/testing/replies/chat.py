"""``POST /chat/completions``: Novita's checks and a deterministic reply.

The "model" is a handful of documented rules, so tests can predict it:

* Text replies echo the last user message (``"Echo: <text>"``), capped at 100 words;
  ``[[words:N]]`` anywhere in the messages makes the reply exactly ``N`` tokens.
* With tools, the reply calls the tool the prompt points at (its name, the parts of its name, the
  words of its description). When the prompt names two or more tools and
  ``parallel_tool_calls`` is not false, it calls each of them, filling each call's arguments
  from the text between its name and the next tool's name.
* After tool results, the reply reports them (``"The tool returned: ..."``), or, with a
  ``response_format``, answers the JSON it asks for, filled from the results and the prompt.
* ``response_format`` ``json_schema`` gets a value of the schema; ``json_object`` the keys the
  prompt quotes (numbers for the keys that look numeric), else ``{"answer": ...}``.
* Reasoning models think first (``reasoning_content``, or ``<think>`` inline for some).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from novita_core.testing.replies.chat_plan import ChatPlan, ToolCall
from novita_core.testing.replies.common import (
    IMAGE_TOKENS,
    WORDS_DIRECTIVE,
    ApiError,
    apply_limits,
    check_ranges,
    content_text,
    echo_text,
    exact_words,
    hash_hex,
    require_model,
    stop_list,
    wants_usage,
    word_count,
    words_directive,
)
from novita_core.testing.replies.models import ModelInfo
from novita_core.testing.replies.schema import fill_schema, json_object

__all__ = ["build_chat"]

_STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        "the a an and or of to in on for with is are was be this that what which use using "
        "tool tools value please call function from by at as it its into me my you your",
    )
)
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_TOOL_CHOICES = (None, "auto", "none", "required", "any")
_FORMATS = ("text", "json_object", "json_schema")


def build_chat(body: Any, models: dict[str, ModelInfo]) -> ChatPlan:
    """Validate a ``/chat/completions`` body and plan the deterministic reply.

    Raises:
        ApiError: For invalid bodies (400) and unknown models (404).
    """
    entry = require_model(body, models, "chat")
    messages = _parse_messages(body)
    check_ranges(body, "chat")
    tools = _validate_tools(body)
    forced = _forced_tool(body.get("tool_choice"), tools)
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in _FORMATS):
        raise ApiError(400, "response_format.type must be text, json_object or json_schema")

    user_text, user_images = content_text(_last_user(messages).get("content"))
    digest = hash_hex(body)
    calls = _tool_calls(body, messages, tools, forced, user_text, digest)
    content: str | None = None
    finish = "tool_calls"
    if not calls:
        text = _reply_text(body, messages, user_text, user_images)
        content, finish = apply_limits(text, stop_list(body), body.get("max_tokens"))
    reasoning = None
    if _is_reasoning(entry, body):
        reasoning = f"Thinking about: {' '.join(user_text.split()[:8])}".strip()
        if entry.inline_think and content is not None:
            content, reasoning = f"<think>\n{reasoning}\n</think>\n\n{content}", None
    return ChatPlan(
        id=f"chatcmpl-{digest}",
        model=entry.id,
        created=int(time.time()),
        n=body.get("n") or 1,
        content=content,
        reasoning=reasoning,
        finish_reason=finish,
        tool_calls=calls,
        prompt_tokens=sum(_message_tokens(message) for message in messages),
        include_usage=wants_usage(body),
    )


def _message_tokens(message: dict[str, Any]) -> int:
    text, images = content_text(message.get("content"))
    return word_count(text) + IMAGE_TOKENS * images


def _last_user(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return next((m for m in reversed(messages) if m["role"] == "user"), messages[-1])


def _forced_tool(tool_choice: Any, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tool ``tool_choice`` names, if it names one."""
    if not isinstance(tool_choice, dict):
        if tool_choice not in _TOOL_CHOICES:
            raise ApiError(400, f"tool_choice is invalid: {json.dumps(tool_choice)}")
        return None
    name = tool_choice.get("function", {}).get("name")
    if not isinstance(name, str):
        raise ApiError(400, "tool_choice.function.name is required")
    tool = next((t for t in tools if t["function"]["name"] == name), None)
    if tool is None:
        raise ApiError(400, f"tool_choice names an unknown tool: {name}")
    return tool


def _tool_calls(
    body: dict[str, Any],
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    forced: dict[str, Any] | None,
    user_text: str,
    digest: str,
) -> list[ToolCall]:
    """The calls of the reply: none after tool results, several when the prompt names several."""
    if not tools or body.get("tool_choice") == "none" or messages[-1]["role"] == "tool":
        return []
    chosen = [(forced, user_text)] if forced is not None else []
    if not chosen and body.get("parallel_tool_calls") is not False:
        chosen = _named_tools(tools, user_text)
    if len(chosen) < 2 and forced is None:
        chosen = [(_pick_tool(tools, user_text), user_text)]
    return [_call(tool, text, digest) for tool, text in chosen]


def _named_tools(tools: list[dict[str, Any]], text: str) -> list[tuple[dict[str, Any], str]]:
    """The tools the text names, in order, each with the text from its name to the next one."""
    found = []
    for tool in tools:
        name = tool["function"]["name"]
        match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
        if match is not None:
            found.append((match.start(), tool))
    found.sort(key=lambda item: item[0])
    if not found:
        return []
    ends = [start for start, _ in found[1:]] + [len(text)]
    return [(tool, text[start:end]) for (start, tool), end in zip(found, ends, strict=True)]


def _call(tool: dict[str, Any], text: str, digest: str) -> ToolCall:
    fn = tool["function"]
    arguments = fill_schema(fn.get("parameters") or {"type": "object", "properties": {}}, text)
    return ToolCall(
        id=f"call_{hash_hex(digest, fn['name'])}",
        name=fn["name"],
        arguments=json.dumps(arguments if isinstance(arguments, dict) else {}, ensure_ascii=False),
    )


def _reply_text(
    body: dict[str, Any], messages: list[dict[str, Any]], user_text: str, user_images: int
) -> str:
    fmt = body.get("response_format") or {}
    results = _tool_results(messages)
    values_text = " ".join([*results, user_text])
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return json.dumps(
            fill_schema(schema or {"type": "object"}, values_text), ensure_ascii=False
        )
    if fmt.get("type") == "json_object":
        answer = json_object(user_text, messages, values_text=values_text)
        return json.dumps(answer, ensure_ascii=False)
    if results:
        return "The tool returned: " + "; ".join(results)
    directive = words_directive([content_text(m.get("content"))[0] for m in messages])
    if directive is not None:
        return exact_words(WORDS_DIRECTIVE.sub(" ", user_text), directive)
    return echo_text(user_text, user_images)


def _tool_results(messages: list[dict[str, Any]]) -> list[str]:
    """The contents of the tool messages that end the conversation."""
    results: list[str] = []
    for message in reversed(messages):
        if message["role"] != "tool":
            break
        results.append(content_text(message.get("content"))[0])
    return results[::-1]


def _pick_tool(tools: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """The tool the text points at most: its name, the parts of its name, its description."""
    lowered = text.lower()
    words = set(re.findall(r"\w+", lowered))

    def score(tool: dict[str, Any]) -> int:
        name = str(tool["function"]["name"])
        spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
        parts = {p for p in re.split(r"[^a-z0-9]+", spaced) if len(p) >= 3}
        described = set(re.findall(r"\w{4,}", str(tool["function"].get("description", "")).lower()))
        return (
            10 * (name.lower() in lowered)
            + 3 * len(parts & words)
            + len(described & words - _STOPWORDS)
        )

    return max(tools, key=score)


def _parse_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages is required and must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a string role")
        if message["role"] not in _ROLES:
            raise ApiError(400, f"messages[{i}].role is invalid: {message['role']!r}")
    return messages


def _validate_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ApiError(400, "tools must be a list")
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ApiError(400, f"tools[{i}] must be {{'type': 'function', 'function': {{name}}}}")
    return tools


def _is_reasoning(entry: ModelInfo, body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    switched_off = body.get("enable_thinking") is False or (
        isinstance(thinking, dict) and thinking.get("type") == "disabled"
    )
    if switched_off or body.get("reasoning_effort") == "none":
        return False
    lowered = entry.id.lower()
    markers = ("r1", "thinking", "gpt-oss", "qwen3-8b")
    return entry.reasoning or any(m in lowered for m in markers)
