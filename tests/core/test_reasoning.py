"""Reasoning in every shape it arrives in: reasoning_content, reasoning, inline <think>."""

from __future__ import annotations

from typing import Any

import pytest

from novita_core.reasoning import ThinkSplitter, normalize_response, split_think
from novita_core.streaming import StreamAssembler


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "c",
        "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def feed_all(asm: StreamAssembler, chunks: list[dict[str, Any]]) -> tuple[str, str]:
    content, reasoning = [], []
    for item in chunks:
        for delta in asm.feed(item):
            content.append(delta.content)
            reasoning.append(delta.reasoning)
    return "".join(content), "".join(reasoning)


def test_split_think() -> None:
    assert split_think("<think>\nplan\n</think>\n\nAnswer") == ("plan\n", "Answer")
    assert split_think("  <think>x</think>y") == ("x", "y")
    assert split_think("Answer <think>not leading</think>") == (
        None,
        "Answer <think>not leading</think>",
    )
    assert split_think("<think>cut by max_tokens") == ("cut by max_tokens", "")


def test_normalize_response_moves_inline_and_reasoning_fields() -> None:
    data = {
        "choices": [
            {"message": {"role": "assistant", "content": "<think>a</think>\n\nB"}},
            {"message": {"role": "assistant", "content": "C", "reasoning": "r"}},
            {"message": {"role": "assistant", "content": "D", "reasoning_content": "rc"}},
        ]
    }
    messages = [c["message"] for c in normalize_response(data)["choices"]]
    assert (messages[0]["content"], messages[0]["reasoning_content"]) == ("B", "a")
    assert (messages[1]["content"], messages[1]["reasoning_content"]) == ("C", "r")
    assert (messages[2]["content"], messages[2]["reasoning_content"]) == ("D", "rc")


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>plan</think>Answer"],
        ["<thi", "nk>pl", "an</thi", "nk>", "\n\n", "Ans", "wer"],
        ["\n<think>", "p", "lan<", "/think>Answer"],
        list("<think>plan</think>Answer"),
    ],
)
def test_stream_think_split_across_chunks(pieces: list[str]) -> None:
    asm = StreamAssembler()
    chunks = [chunk({"content": p}) for p in pieces] + [chunk({}, "stop")]
    content, reasoning = feed_all(asm, chunks)
    assert (content, reasoning) == ("Answer", "plan")
    assert asm.message() == {"role": "assistant", "content": "Answer", "reasoning_content": "plan"}


def test_stream_without_think_passes_through_and_lt_is_kept() -> None:
    asm = StreamAssembler()
    content, reasoning = feed_all(
        asm, [chunk({"content": "<"}), chunk({"content": "b> x"}, "stop")]
    )
    assert (content, reasoning) == ("<b> x", "")
    asm = StreamAssembler()
    assert feed_all(asm, [chunk({"content": "<thi"}, "stop")]) == ("<thi", "")


def test_stream_reasoning_field_is_read_like_reasoning_content() -> None:
    asm = StreamAssembler()
    chunks = [chunk({"reasoning": "why"}), chunk({"content": "because"}, "stop")]
    assert feed_all(asm, chunks) == ("because", "why")


def test_think_splitter_flush_of_unterminated_reasoning() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<think>half") == ("half", "")
    assert splitter.flush() == ("", "")
    splitter = ThinkSplitter()
    assert splitter.feed("<think>a</thi") == ("a", "")
    assert splitter.flush() == ("</thi", "")


def test_later_tool_call_deltas_with_empty_type_assemble() -> None:
    asm = StreamAssembler()
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    later = [{"index": 0, "type": "", "function": {"arguments": part}} for part in ('{"a"', ": 1}")]
    for call in [first, *later]:
        asm.feed(chunk({"tool_calls": [call]}))
    asm.feed(chunk({}, "tool_calls"))
    assert asm.message()["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
