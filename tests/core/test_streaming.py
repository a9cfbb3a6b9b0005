"""The stream assembler on plain chunk dicts."""

from __future__ import annotations

import pytest

from novita_core.streaming import (
    EventDecoder,
    MalformedEventError,
    StreamAssembler,
    StreamErrorEvent,
    StreamIncompleteError,
    parse_event,
)


def decode(pieces: list[bytes]) -> list[bytes]:
    decoder = EventDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    return events + decoder.flush()


def chunk(delta: dict[str, object], finish: str | None = None, index: int = 0) -> dict[str, object]:
    return {
        "id": "c1",
        "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def test_sse_lines() -> None:
    body = b': keep-alive\r\n\r\ndata: {"a": 1}\n\ndata: {"b": "\xc3\xa9"}\n\ndata: [DONE]\n\n'
    # Arbitrary cuts, even inside a line or a UTF-8 sequence, give the same chunks.
    for size in (1, 3, 7, len(body)):
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        assert [parse_event(event) for event in decode(pieces)] == [
            {"a": 1},
            {"b": "é"},
            {"[DONE]": True},
        ]
    with pytest.raises(MalformedEventError):
        parse_event(b"{not json")


def test_tool_call_pieces_merge_by_index() -> None:
    asm = StreamAssembler()
    asm.feed(chunk({"role": "assistant", "content": None}))
    first = {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "add", "arguments": ""},
    }
    second = {
        "index": 1,
        "id": "call_b",
        "type": "function",
        "function": {"name": "mul", "arguments": '{"x"'},
    }
    asm.feed(chunk({"tool_calls": [first, second]}))
    asm.feed(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}))
    asm.feed(chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}, "tool_calls"))
    asm.feed({"[DONE]": True})
    calls = asm.finish().message()["tool_calls"]
    assert calls == [
        {"id": "call_a", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
        {"id": "call_b", "type": "function", "function": {"name": "mul", "arguments": '{"x": 2}'}},
    ]


def test_reasoning_and_usage() -> None:
    asm = StreamAssembler()
    asm.feed(chunk({"reasoning_content": "think"}))
    asm.feed(chunk({"content": "answer"}, "stop"))
    deltas = asm.feed({"id": "c1", "choices": [], "usage": {"total_tokens": 3}})
    assert deltas[0].usage == {"total_tokens": 3}
    assert asm.message() == {
        "role": "assistant",
        "content": "answer",
        "reasoning_content": "think",
    }


def test_truncation_is_detected() -> None:
    asm = StreamAssembler()
    asm.feed(chunk({"content": "partial"}))
    with pytest.raises(StreamIncompleteError, match="truncated"):
        asm.finish()


def test_finish_reason_without_done_is_complete() -> None:
    asm = StreamAssembler()
    asm.feed(chunk({"content": "all"}, "stop"))
    assert asm.finish().choices[0].text == "all"


def test_completions_chunks_use_text() -> None:
    asm = StreamAssembler()
    deltas = asm.feed({"id": "x", "choices": [{"index": 0, "text": "hi", "finish_reason": None}]})
    assert deltas[0].content == "hi"


def test_reasoning_details_pieces_merge_by_index() -> None:
    asm = StreamAssembler()
    first = {"type": "reasoning.text", "text": "Think", "index": 0, "id": "rd-1"}
    asm.feed(chunk({"reasoning_details": [first]}))
    asm.feed(chunk({"reasoning_details": [{"type": "reasoning.text", "text": "ing", "index": 0}]}))
    asm.feed(chunk({"content": "ok"}, "stop"))
    assert asm.finish().message()["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Thinking", "index": 0, "id": "rd-1"}
    ]


SPEC_STREAMS = {
    "cr_only": b'data: {"a": 1}\r\rdata: [DONE]\r\r',
    "crlf": b'data: {"a": 1}\r\n\r\ndata: [DONE]\r\n\r\n',
    "multi_line": b'data: {"a":\ndata: 1}\n\n: comment\nevent: x\nid: 2\ndata: [DONE]\n\n',
    "blank_data": b'data:\n\ndata:\ndata: {"a": 1}\n\ndata:\ndata:\n\ndata:[DONE]\n\n',
    "no_final_blank_line": b'data: {"a": 1}\n\ndata: [DONE]',
}


@pytest.mark.parametrize("name", list(SPEC_STREAMS))
def test_sse_spec_events_at_every_cut(name: str) -> None:
    body = SPEC_STREAMS[name]
    for cut in range(len(body) + 1):
        events = decode([body[:cut], body[cut:]])
        assert [parse_event(e) for e in events] == [{"a": 1}, {"[DONE]": True}], cut


def test_error_events_and_finish_reason_error_raise() -> None:
    asm = StreamAssembler()
    asm.feed(chunk({"content": "Hi"}))
    with pytest.raises(StreamErrorEvent) as info:
        asm.feed({"error": {"message": "boom", "code": 500}})
    assert info.value.error == {"message": "boom", "code": 500}
    with pytest.raises(StreamErrorEvent):
        asm.feed({"code": 500, "reason": "X", "message": "flat"})
    with pytest.raises(StreamErrorEvent):
        asm.feed(chunk({}, finish="error"))
    empty = StreamAssembler()
    empty.feed({"[DONE]": True})
    with pytest.raises(StreamIncompleteError, match="without any choice"):
        empty.finish()
