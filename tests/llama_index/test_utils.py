"""Message and block conversion (pure functions of llama_index_novita.utils)."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import DocumentBlock, ThinkingBlock, ToolCallBlock
from llama_index.core.llms import ChatMessage, TextBlock

from llama_index_novita.utils import (
    chat_message_from_openai,
    parse_tool_arguments,
    to_openai_message,
    tool_calls_from_message,
    usage_kwargs,
)


def test_roles_and_text_join() -> None:
    message = ChatMessage(role="developer", blocks=[TextBlock(text="a"), TextBlock(text="b")])
    assert to_openai_message(message) == {"role": "system", "content": "a\nb"}
    named = ChatMessage(role="user", content="hi", additional_kwargs={"name": "ada"})
    assert to_openai_message(named) == {"role": "user", "content": "hi", "name": "ada"}


def test_thinking_blocks_are_not_sent() -> None:
    message = ChatMessage(
        role="assistant", blocks=[ThinkingBlock(content="hmm"), TextBlock(text="answer")]
    )
    assert to_openai_message(message) == {"role": "assistant", "content": "answer"}


def test_legacy_tool_calls_in_additional_kwargs_are_sent() -> None:
    message = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]
        },
    )
    assert to_openai_message(message)["tool_calls"][0]["id"] == "c1"
    assert to_openai_message(message)["content"] is None


def test_unsupported_block_is_a_clear_error() -> None:
    message = ChatMessage(
        role="user", blocks=[DocumentBlock(data=b"%PDF-1.4", document_mimetype="application/pdf")]
    )
    with pytest.raises(ValueError, match="DocumentBlock"):
        to_openai_message(message)


def test_from_openai_message_round_trip() -> None:
    wire = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "think",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
        ],
    }
    message = chat_message_from_openai(wire)
    assert isinstance(message.blocks[0], ThinkingBlock)
    assert isinstance(message.blocks[1], ToolCallBlock)
    assert message.content is None
    assert to_openai_message(message) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
        ],
    }
    [selection] = tool_calls_from_message(message)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("c1", "f", {"x": 1})


@pytest.mark.parametrize(
    ("raw", "partial", "expected"),
    [
        ("", True, {}),
        ("", False, {}),
        ('{"city": "Pa', True, {"city": None}),
        ("{", True, {}),
        ('{"a": 1}', False, {"a": 1}),
        ("not json", False, "not json"),
        ({"a": 1}, False, {"a": 1}),
    ],
)
def test_parse_tool_arguments(raw: object, partial: bool, expected: object) -> None:
    assert parse_tool_arguments(raw, partial=partial) == expected


def test_usage_kwargs() -> None:
    assert usage_kwargs(None) == {}
    assert usage_kwargs(
        {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "x": 9}
    ) == {
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "total_tokens": 3,
    }
