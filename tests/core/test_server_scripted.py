"""The offline server's scripted replies, and the heuristic replies users asked for.

Scripted replies are exact responses a test queues (like respx routes); requests nothing matches
get the heuristic replies. Everything goes over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import openai
import pytest

from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
PREFIX = "/v3/openai"


def post(
    server: OfflineNovitaServer, path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        sent = {"Authorization": f"Bearer {server.api_key}", **(headers or {})}
        conn.request("POST", PREFIX + path, json.dumps(body), sent)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def chat_body(content: str = "hi", **params: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **params}


def sdk(server: OfflineNovitaServer) -> openai.OpenAI:
    return openai.OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


PARALLEL = {
    "id": "chatcmpl-parallel",
    "object": "chat.completion",
    "created": 1,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{city}",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": json.dumps({"city": city}),
                        },
                    }
                    for city in ("Paris", "Oslo")
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15},
}


def test_a_scripted_json_reply_is_sent_exactly_then_heuristics_resume(
    novita_server: OfflineNovitaServer,
) -> None:
    novita_server.script(json=PARALLEL)
    status, headers, body = post(novita_server, "/chat/completions", chat_body())
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == PARALLEL
    assert novita_server.pending_scripts() == []
    status, _, body = post(novita_server, "/chat/completions", chat_body("again"))
    assert json.loads(body)["choices"][0]["message"]["content"] == "Echo: again"
    assert [r.json["messages"][0]["content"] for r in novita_server.requests] == ["hi", "again"]


def test_scripted_parallel_tool_calls_reach_the_sdk(novita_server: OfflineNovitaServer) -> None:
    novita_server.script(json=PARALLEL)
    reply = sdk(novita_server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "weather in Paris and Oslo"}]
    )
    calls = reply.choices[0].message.tool_calls or []
    assert [(c.id, json.loads(c.function.arguments)) for c in calls] == [
        ("call_Paris", {"city": "Paris"}),
        ("call_Oslo", {"city": "Oslo"}),
    ]


def test_scripted_replies_match_by_path_and_model_in_order(
    novita_server: OfflineNovitaServer,
) -> None:
    other = "deepseek/deepseek-r1-turbo"
    novita_server.script(json={"first": True}, model=other)
    novita_server.script(json={"second": True}, times=2)
    novita_server.script(json={"data": []}, path="/embeddings")
    assert json.loads(post(novita_server, "/chat/completions", chat_body())[2]) == {"second": True}
    embedded = post(novita_server, "/embeddings", {"model": "baai/bge-m3", "input": "x"})
    assert json.loads(embedded[2]) == {"data": []}
    assert json.loads(post(novita_server, "/chat/completions", chat_body())[2]) == {"second": True}
    for_other = {**chat_body(), "model": other}
    assert json.loads(post(novita_server, "/chat/completions", for_other)[2]) == {"first": True}
    assert novita_server.pending_scripts() == []


def test_a_scripted_status_with_headers(novita_server: OfflineNovitaServer) -> None:
    error = {"code": 429, "reason": "RATE_LIMIT_EXCEEDED", "message": "slow down"}
    novita_server.script(json=error, status=429, headers={"Retry-After": "7"})
    status, headers, body = post(novita_server, "/chat/completions", chat_body())
    assert (status, headers["retry-after"], json.loads(body)) == (429, "7", error)


def test_a_scripted_stream_of_dicts_and_raw_sse(novita_server: OfflineNovitaServer) -> None:
    novita_server.script(
        stream=[
            chunk({"role": "assistant", "content": ""}),
            b": keep-alive comment\n\n",
            chunk({"content": "odd"}),
            "event: message\ndata: " + json.dumps(chunk({"content": " shape"}, "stop")) + "\n\n",
        ]
    )
    status, headers, body = post(novita_server, "/chat/completions", chat_body(stream=True))
    assert status == 200 and headers["content-type"] == "text/event-stream"
    text = body.decode()
    assert text.startswith('data: {"id":"chatcmpl-scripted"')
    assert ": keep-alive comment\n\n" in text and "event: message\n" in text
    assert text.endswith("data: [DONE]\n\n")

    novita_server.script(stream=[chunk({"content": "odd"})])
    pieces = sdk(novita_server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
    )
    assert [c.choices[0].delta.content for c in pieces] == ["odd"]


def test_a_scripted_in_stream_error_reaches_the_sdk(novita_server: OfflineNovitaServer) -> None:
    novita_server.script(
        stream=[chunk({"content": "half"}), {"error": {"message": "upstream overloaded"}}],
        done=False,
    )
    status, _, body = post(novita_server, "/chat/completions", chat_body(stream=True))
    assert status == 200 and b"[DONE]" not in body
    assert body.endswith(b'{"error":{"message":"upstream overloaded"}}\n\n')
    novita_server.script(
        stream=[chunk({"content": "half"}), {"error": {"message": "upstream overloaded"}}],
        done=False,
    )
    stream = sdk(novita_server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError, match="upstream overloaded"):
        list(stream)


def test_a_fault_still_applies_to_a_scripted_stream(novita_server: OfflineNovitaServer) -> None:
    novita_server.script(stream=[chunk({"content": str(i)}) for i in range(5)])
    novita_server.inject(Fault.drop_stream(after_chunks=2))
    conn = http.client.HTTPConnection("127.0.0.1", novita_server.port, timeout=5)
    conn.request(
        "POST",
        PREFIX + "/chat/completions",
        json.dumps(chat_body(stream=True)),
        {"Authorization": f"Bearer {novita_server.api_key}"},
    )
    with pytest.raises(http.client.IncompleteRead) as info:
        conn.getresponse().read()
    conn.close()
    assert info.value.partial.count(b"data: ") == 2


def test_scripted_replies_still_check_the_key_and_reset_forgets_them(
    novita_server: OfflineNovitaServer,
) -> None:
    novita_server.script(json={"ok": True})
    conn = http.client.HTTPConnection("127.0.0.1", novita_server.port, timeout=5)
    conn.request("POST", PREFIX + "/chat/completions", json.dumps(chat_body()))
    assert conn.getresponse().status == 401
    conn.close()
    assert len(novita_server.pending_scripts()) == 1
    novita_server.reset()
    assert novita_server.pending_scripts() == []
    with pytest.raises(ValueError):
        novita_server.script()


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather at a location.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}, "offset": {"type": "integer"}},
            "required": ["zone", "offset"],
        },
    },
}


def test_two_named_tools_get_two_parallel_calls(novita_server: OfflineNovitaServer) -> None:
    prompt = "Call get_weather for 'Paris' and get_time for 'CET' with offset 2."
    body = chat_body(prompt, tools=[WEATHER, TIME])
    message = json.loads(post(novita_server, "/chat/completions", body)[2])["choices"][0]
    calls = message["message"]["tool_calls"]
    assert message["finish_reason"] == "tool_calls"
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_weather", {"location": "Paris"}),
        ("get_time", {"zone": "CET", "offset": 2}),
    ]
    assert len({c["id"] for c in calls}) == 2

    single = chat_body(prompt, tools=[WEATHER, TIME], parallel_tool_calls=False)
    calls = json.loads(post(novita_server, "/chat/completions", single)[2])["choices"][0]
    assert [c["function"]["name"] for c in calls["message"]["tool_calls"]] == ["get_weather"]

    streamed = chat_body(prompt, tools=[WEATHER, TIME], stream=True)
    events = post(novita_server, "/chat/completions", streamed)[2].decode().split("\n\n")
    chunks = [json.loads(e[6:]) for e in events if e.startswith("data: {")]
    indexes = {
        call["index"] for c in chunks for call in (c["choices"][0]["delta"].get("tool_calls") or [])
    }
    assert indexes == {0, 1}


def test_response_format_is_honoured_after_a_tool_result(
    novita_server: OfflineNovitaServer,
) -> None:
    schema = {
        "type": "object",
        "properties": {"temperature": {"type": "integer"}, "summary": {"type": "string"}},
        "required": ["temperature", "summary"],
    }
    messages = [
        {"role": "user", "content": "How warm is it in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "21 degrees and sunny"},
    ]
    fmt = {"type": "json_schema", "json_schema": {"name": "Weather", "schema": schema}}
    body = {"model": MODEL, "messages": messages, "tools": [WEATHER], "response_format": fmt}
    message = json.loads(post(novita_server, "/chat/completions", body)[2])["choices"][0]
    answer = json.loads(message["message"]["content"])
    assert answer["temperature"] == 21 and isinstance(answer["summary"], str)
    assert "tool_calls" not in message["message"]

    plain = {"model": MODEL, "messages": messages, "tools": [WEATHER]}
    content = json.loads(post(novita_server, "/chat/completions", plain)[2])["choices"][0]
    assert content["message"]["content"] == "The tool returned: 21 degrees and sunny"


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Return JSON with 'name' and 'age': 36 for Ada.", {"age": 36}),
        ("Return JSON with 'name' and 'age' (an integer). Ada is 36.", {"age": 36}),
        ("Return JSON with 'city' and 'population' keys: 2100000 people.", {}),
        ("Return JSON with 'title' and 'year' keys, it came out in 1999.", {"year": 1999}),
        ("Return JSON with 'price': 2.5 and 'item'.", {"price": 2.5}),
    ],
)
def test_json_mode_fills_numeric_keys_with_numbers(
    novita_server: OfflineNovitaServer, prompt: str, expected: dict[str, Any]
) -> None:
    body = chat_body(prompt, response_format={"type": "json_object"})
    value = json.loads(
        json.loads(post(novita_server, "/chat/completions", body)[2])["choices"][0]["message"][
            "content"
        ]
    )
    for key, number in expected.items():
        assert value[key] == number and type(value[key]) is type(number)
    strings = [k for k in value if k not in expected]
    assert strings and all(isinstance(value[k], str) for k in strings)
