"""The offline Novita server, exercised over real HTTP with the standard library only."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from novita_core.params import (
    ENDPOINT_PATHS,
    PARAMETERS,
    Endpoint,
    InvalidParameterError,
    ParamSpec,
    check_raw_values,
)
from novita_core.testing import Fault, OfflineNovitaServer
from novita_core.testing.replies import fill_schema

MODEL = "meta-llama/llama-3.1-8b-instruct"
REASONING_MODEL = "deepseek/deepseek-r1-turbo"
PREFIX = "/v3/openai"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[str]:
        text = self.body.decode()
        assert text.endswith("\n\n")
        return [block.removeprefix("data: ") for block in text.split("\n\n") if block]

    def chunks(self) -> list[dict[str, Any]]:
        events = self.events()
        assert events[-1] == "[DONE]"
        return [json.loads(e) for e in events[:-1]]


def request(
    server: OfflineNovitaServer,
    path: str,
    body: Any = None,
    *,
    method: str = "POST",
    key: str | None = "test-key",
    headers: dict[str, str] | None = None,
    prefix: str = PREFIX,
    conn: http.client.HTTPConnection | None = None,
    timeout: float = 5,
) -> Reply:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    data: bytes | None = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, prefix + path, data, sent)
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        if own:
            conn.close()


def chat(server: OfflineNovitaServer, content: Any = "hello there", **params: Any) -> Reply:
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], **params}
    return request(server, "/chat/completions", body)


def test_chat_response_shape(novita_server: OfflineNovitaServer) -> None:
    reply = chat(novita_server, "Tell me about otters")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    data = reply.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == MODEL
    assert data["id"].startswith("chatcmpl-")
    choice = data["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Echo: Tell me about otters"
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}


@pytest.mark.parametrize("prefix", ["/v3/openai", "/openai/v1", "/openai", ""])
def test_any_path_prefix(novita_server: OfflineNovitaServer, prefix: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    assert request(novita_server, "/chat/completions", body, prefix=prefix).status == 200
    assert request(novita_server, "/models", method="GET", prefix=prefix).status == 200


def test_words_directive_max_tokens_stop_and_n(novita_server: OfflineNovitaServer) -> None:
    long = chat(novita_server, "story please [[words:200]]").json()
    assert len(long["choices"][0]["message"]["content"].split()) == 200
    assert long["usage"]["completion_tokens"] == 200

    cut = chat(novita_server, "story please [[words:200]]", max_tokens=7).json()
    assert len(cut["choices"][0]["message"]["content"].split()) == 7
    assert cut["choices"][0]["finish_reason"] == "length"

    stopped = chat(novita_server, "alpha beta gamma delta", stop=[" gamma"]).json()
    assert stopped["choices"][0]["message"]["content"] == "Echo: alpha beta"
    assert stopped["choices"][0]["finish_reason"] == "stop"

    many = chat(novita_server, "hi", n=3, seed=7).json()
    assert [c["index"] for c in many["choices"]] == [0, 1, 2]
    assert many["usage"]["completion_tokens"] == 3 * 2


def test_completions_echo_the_prompt(novita_server: OfflineNovitaServer) -> None:
    body = {"model": MODEL, "prompt": "one two", "logprobs": 1}
    completion = request(novita_server, "/completions", body).json()
    assert completion["object"] == "text_completion"
    choice = completion["choices"][0]
    assert choice["text"] == " Echo: one two"


def test_image_parts_count_and_are_mentioned(novita_server: OfflineNovitaServer) -> None:
    content = [
        {"type": "text", "text": "describe this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    data = chat(novita_server, content).json()
    assert "image" in data["choices"][0]["message"]["content"]
    assert data["usage"]["prompt_tokens"] == 2 + 85


def test_streaming_with_usage(novita_server: OfflineNovitaServer) -> None:
    reply = chat(novita_server, "a b c", stream=True, stream_options={"include_usage": True})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["transfer-encoding"] == "chunked"
    chunks = reply.chunks()
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Echo: a b c"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_streaming_without_usage_and_keep_alive(novita_server: OfflineNovitaServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", novita_server.port, timeout=5)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": True}
    for _ in range(3):
        reply = request(novita_server, "/chat/completions", body, conn=conn)
        assert all(c["choices"] for c in reply.chunks())
    conn.close()


def test_reasoning_model_streams_reasoning_first(novita_server: OfflineNovitaServer) -> None:
    body = {
        "model": REASONING_MODEL,
        "messages": [{"role": "user", "content": "why is the sky blue"}],
    }
    full = request(novita_server, "/chat/completions", body).json()
    assert full["choices"][0]["message"]["reasoning_content"]
    assert full["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0

    chunks = request(novita_server, "/chat/completions", {**body, "stream": True}).chunks()
    kinds = [
        "r" if "reasoning_content" in c["choices"][0]["delta"] else "c"
        for c in chunks
        if c["choices"][0]["delta"].get("reasoning_content")
        or c["choices"][0]["delta"].get("content")
    ]
    assert kinds == sorted(kinds, reverse=True) and kinds[0] == "r" and kinds[-1] == "c"


MAGIC = {
    "type": "function",
    "function": {
        "name": "magic_function",
        "description": "Apply a magic function to an input.",
        "parameters": {
            "type": "object",
            "properties": {
                "input": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
            },
            "required": ["input"],
        },
    },
}
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


def test_tool_call_from_schema(novita_server: OfflineNovitaServer) -> None:
    reply = chat(
        novita_server,
        "What is the weather in San Francisco, CA?",
        tools=[MAGIC, WEATHER],
    ).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert not choice["message"]["content"]
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "San Francisco, CA"}

    forced = chat(
        novita_server,
        "What is the value of magic_function(3)? Use the tool.",
        tools=[WEATHER, MAGIC],
        tool_choice={"type": "function", "function": {"name": "magic_function"}},
    ).json()
    call = forced["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "magic_function"
    assert json.loads(call["function"]["arguments"]) == {"input": 3}

    none = chat(novita_server, "hi", tools=[MAGIC], tool_choice="none").json()
    assert none["choices"][0]["message"]["content"] == "Echo: hi"


def test_tool_call_streaming_fragments(novita_server: OfflineNovitaServer) -> None:
    chunks = chat(
        novita_server, "magic_function(5)", tools=[MAGIC], tool_choice="required", stream=True
    ).chunks()
    deltas = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]
    calls = [d[0] for d in deltas if d]
    assert calls[0]["id"].startswith("call_") and calls[0]["function"]["name"] == "magic_function"
    fragments = [c["function"]["arguments"] for c in calls[1:]]
    # Novita sends ``"type": ""`` on every tool-call delta after the first
    assert len(fragments) >= 2 and all(set(c) == {"index", "type", "function"} for c in calls[1:])
    assert all(c["type"] == "" for c in calls[1:])
    assert json.loads("".join(fragments)) == {"input": 5}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_unicode_and_schema_features() -> None:
    schema = {
        "type": "object",
        "$defs": {"Color": {"enum": ["red", "blue"]}},
        "properties": {
            "customer_name": {"type": "string"},
            "color": {"$ref": "#/$defs/Color"},
            "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "nested": {
                "type": "object",
                "properties": {"flag": {"type": "boolean"}, "score": {"type": "number"}},
                "required": ["flag", "score"],
            },
            "optional_note": {"type": "string"},
        },
        "required": ["customer_name", "color", "count", "tags", "nested"],
    }
    value = fill_schema(schema, "Create a customer named '你好啊集团' with 4 seats and 2.5 stars")
    assert value["customer_name"] == "你好啊集团"
    assert value["color"] == "red"
    assert value["count"] == 4
    assert isinstance(value["tags"], list) and value["tags"]
    assert value["nested"] == {"flag": True, "score": 2.5}
    assert "optional_note" not in value


def test_tool_result_answer(novita_server: OfflineNovitaServer) -> None:
    messages = [
        {"role": "user", "content": "What is 1 + 2"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "abc123",
                    "type": "function",
                    "function": {"name": "my_adder_tool", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "abc123", "content": '{"result": 3}'},
    ]
    body = {"model": MODEL, "messages": messages, "tools": [MAGIC]}
    data = request(novita_server, "/chat/completions", body).json()
    message = data["choices"][0]["message"]
    assert "tool_calls" not in message
    assert message["content"] == 'The tool returned: {"result": 3}'


def test_json_schema_and_json_object(novita_server: OfflineNovitaServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "setup": {"type": "string", "description": "question to set up a joke"},
            "punchline": {"type": "string"},
            "rating": {"type": "integer", "minimum": 1, "maximum": 10},
        },
        "required": ["setup", "punchline", "rating"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "Joke", "schema": schema}}
    data = chat(novita_server, "Tell me a joke about cats.", response_format=fmt).json()
    joke = json.loads(data["choices"][0]["message"]["content"])
    assert set(joke) == {"setup", "punchline", "rating"}
    assert all(isinstance(joke[k], str) and joke[k] for k in ("setup", "punchline"))
    assert 1 <= joke["rating"] <= 10

    prompt = "Tell me a joke. Return JSON with 'setup' and 'punchline' keys."
    data = chat(novita_server, prompt, response_format={"type": "json_object"}).json()
    assert set(json.loads(data["choices"][0]["message"]["content"])) == {"setup", "punchline"}

    streamed = chat(novita_server, prompt, response_format={"type": "json_object"}, stream=True)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in streamed.chunks())
    assert set(json.loads(text)) == {"setup", "punchline"}


def test_auth_missing_and_wrong(novita_server: OfflineNovitaServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    for key in (None, "wrong"):
        reply = request(novita_server, "/chat/completions", body, key=key)
        assert reply.status == 401
        assert reply.json() == {
            "code": 401,
            "reason": "FAILED_TO_AUTH",
            "message": "failed to authenticate API key",
            "metadata": {},
        }
    assert [r.authorized for r in novita_server.requests] == [False, False]


def test_unknown_model_404(novita_server: OfflineNovitaServer) -> None:
    body = {"model": "nope/nope", "messages": [{"role": "user", "content": "hi"}]}
    reply = request(novita_server, "/chat/completions", body)
    assert reply.status == 404
    assert reply.json()["reason"] == "MODEL_NOT_FOUND"

    novita_server.add_model("nope/nope", context_size=1000)
    assert request(novita_server, "/chat/completions", body).status == 200


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"n": 0}, "n must"),
        ({"presence_penalty": -3}, "presence_penalty"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"top_k": 129}, "top_k"),
        ({"min_p": 1.5}, "min_p"),
    ],
)
def test_invalid_params_400(
    novita_server: OfflineNovitaServer, params: dict[str, Any], needle: str
) -> None:
    reply = chat(novita_server, "hi", **params)
    assert reply.status == 400
    body = reply.json()
    assert body["reason"] == "INVALID_REQUEST_BODY"
    assert needle in body["message"]


def _out_of_range(spec: ParamSpec) -> float:
    if spec.low is not None:
        return spec.low if spec.low_open else spec.low - 1
    assert spec.high is not None
    return spec.high if spec.high_open else spec.high + 1


@pytest.mark.parametrize(
    ("endpoint", "spec"),
    [
        (endpoint, spec)
        for spec in PARAMETERS
        for endpoint in sorted(spec.endpoints & {"chat", "completions"})
        if (spec.low is not None or spec.high is not None) and spec.types != (dict,)
    ],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_every_range_of_the_core_table_is_enforced(
    novita_server: OfflineNovitaServer, endpoint: Endpoint, spec: ParamSpec
) -> None:
    value = _out_of_range(spec)
    value = int(value) if spec.types == (int,) else value
    base = {"model": MODEL, **({"prompt": "hi"} if endpoint == "completions" else {})}
    body = {**base, "messages": [{"role": "user", "content": "hi"}]} if endpoint == "chat" else base
    reply = request(novita_server, ENDPOINT_PATHS[endpoint], {**body, spec.name: value})
    assert reply.status == 400
    with pytest.raises(InvalidParameterError) as expected:
        check_raw_values(endpoint, {spec.name: value})
    assert reply.json()["message"] == str(expected.value)


def test_malformed_bodies_400(novita_server: OfflineNovitaServer) -> None:
    assert request(novita_server, "/chat/completions", b"{nope").status == 400
    missing = request(novita_server, "/chat/completions", {"model": MODEL})
    assert missing.status == 400 and "messages" in missing.json()["message"]
    no_prompt = request(novita_server, "/completions", {"model": MODEL})
    assert no_prompt.status == 400 and "prompt" in no_prompt.json()["message"]
    no_model = request(novita_server, "/chat/completions", {"messages": []})
    assert no_model.status == 400 and "model" in no_model.json()["message"]


def test_fault_status_with_retry_after(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(429, retry_after=1, retry_after_ms=1000), times=2)
    for _ in range(2):
        reply = chat(novita_server)
        assert reply.status == 429
        assert reply.headers["retry-after"] == "1"
        assert reply.headers["retry-after-ms"] == "1000"
        assert reply.json()["reason"] == "RATE_LIMIT_EXCEEDED"
    assert chat(novita_server).status == 200

    novita_server.inject(Fault.status(503, message="overloaded"))
    body = chat(novita_server).json()
    assert body == {
        "code": 503,
        "reason": "SERVICE_NOT_AVAILABLE",
        "message": "overloaded",
        "metadata": {},
    }


def test_fault_path_filter(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(500, path="/embeddings"))
    assert chat(novita_server).status == 200
    body = {"model": "baai/bge-m3", "input": "x"}
    assert request(novita_server, "/embeddings", body).status == 500
    assert novita_server.pending_faults() == []


def test_fault_reset(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.reset())
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        chat(novita_server)
    assert chat(novita_server).status == 200
    assert len(novita_server.requests) == 2


def test_fault_drop_stream(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.drop_stream(after_chunks=2))
    conn = http.client.HTTPConnection("127.0.0.1", novita_server.port, timeout=5)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "a b c d"}], "stream": True}
    conn.request(
        "POST", PREFIX + "/chat/completions", json.dumps(body), {"Authorization": "Bearer test-key"}
    )
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    conn.close()
    partial = info.value.partial.decode()
    assert partial.count("data: ") == 2 and "[DONE]" not in partial

    novita_server.inject(Fault.drop_stream())
    with pytest.raises(http.client.IncompleteRead):
        chat(novita_server)


def test_fault_stall_does_not_block_others(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.stall(0.6))
    results: dict[str, float] = {}

    def slow() -> None:
        start = time.perf_counter()
        assert chat(novita_server).status == 200
        results["slow"] = time.perf_counter() - start

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.1)
    start = time.perf_counter()
    assert chat(novita_server).status == 200
    results["fast"] = time.perf_counter() - start
    thread.join()
    assert results["slow"] >= 0.55
    assert results["fast"] < 0.3
    assert novita_server.max_in_flight == 2


def test_fault_stall_times_out_client(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.stall(1.0))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(TimeoutError):
        request(novita_server, "/chat/completions", body, timeout=0.2)


def test_fault_malformed_json(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.malformed_json())
    reply = chat(novita_server)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        reply.json()


def test_fault_malformed_sse(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.malformed_sse())
    events = chat(novita_server, "a b c", stream=True).events()
    assert events[-1] == "[DONE]"
    json.loads(events[0])
    with pytest.raises(ValueError):
        json.loads(events[1])
    for event in events[2:-1]:
        json.loads(event)


@pytest.mark.parametrize(
    ("spec", "check"),
    [
        ("status=503", lambda r: r.status == 503),
        ("status=429;retry_after=2", lambda r: r.headers["retry-after"] == "2"),
        ("malformed_json", lambda r: r.status == 200 and r.body.startswith(b'{"id"')),
    ],
)
def test_header_triggered_fault(novita_server: OfflineNovitaServer, spec: str, check: Any) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    reply = request(novita_server, "/chat/completions", body, headers={"X-Offline-Fault": spec})
    assert check(reply)
    assert novita_server.requests[-1].headers["x-offline-fault"] == spec


def test_header_fault_reset_and_parse_errors(novita_server: OfflineNovitaServer) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        request(novita_server, "/chat/completions", body, headers={"X-Offline-Fault": "reset"})
    bad = request(novita_server, "/chat/completions", body, headers={"X-Offline-Fault": "zap"})
    assert bad.status == 400
    for fault in (Fault.status(429, retry_after=1), Fault.drop_stream(4), Fault.stall(2.5)):
        assert Fault.parse(fault.spec()) == fault


def test_request_recording(novita_server: OfflineNovitaServer) -> None:
    chat(novita_server, "record me", temperature=0.5)
    request(novita_server, "/chat/completions", {"model": MODEL, "temperature": 9})
    first, second = novita_server.requests
    assert first.method == "POST"
    assert first.path == "/v3/openai/chat/completions"
    assert "authorization" not in first.headers
    assert first.headers["content-type"] == "application/json"
    assert first.json["temperature"] == 0.5
    assert first.authorized
    assert second.json == {"model": MODEL, "temperature": 9}
    novita_server.inject(Fault.reset())
    novita_server.reset()
    assert novita_server.requests == []
    assert novita_server.pending_faults() == []


def test_embeddings(novita_server: OfflineNovitaServer) -> None:
    body = {"model": "baai/bge-m3", "input": ["the cat sat", "the cat sat", "stock prices"]}
    data = request(novita_server, "/embeddings", body).json()
    assert data["object"] == "list" and data["model"] == "baai/bge-m3"
    vectors = [d["embedding"] for d in data["data"]]
    assert [d["index"] for d in data["data"]] == [0, 1, 2]
    assert all(len(v) == 1024 for v in vectors)
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-9
    assert vectors[0] == vectors[1] != vectors[2]
    assert data["usage"] == {"prompt_tokens": 8, "total_tokens": 8}

    small = request(novita_server, "/embeddings", {**body, "input": "hi", "dimensions": 16})
    assert len(small.json()["data"][0]["embedding"]) == 16
    b64 = request(novita_server, "/embeddings", {**body, "encoding_format": "base64"})
    assert isinstance(b64.json()["data"][0]["embedding"], str)
    assert request(novita_server, "/embeddings", {**body, "input": []}).status == 400


def test_models_listing(novita_server: OfflineNovitaServer) -> None:
    data = request(novita_server, "/models", method="GET").json()
    ids = {m["id"] for m in data["data"]}
    assert {MODEL, "baai/bge-m3", REASONING_MODEL} <= ids
    entry = next(m for m in data["data"] if m["id"] == MODEL)
    assert entry["object"] == "model"
    assert entry["context_size"] == 16384
    for key in (
        "created",
        "title",
        "description",
        "max_output_tokens",
        "input_token_price_per_m",
        "output_token_price_per_m",
    ):
        assert key in entry
    one = request(novita_server, "/models/" + MODEL, method="GET")
    assert one.status == 200 and one.json()["id"] == MODEL


def test_max_in_flight_and_many_concurrent_streams(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.stall(0.3), times=20)
    errors: list[BaseException] = []

    def one() -> None:
        try:
            reply = chat(novita_server, "hi [[words:20]]", stream=True)
            assert len(reply.chunks()) == 21  # role chunk + 20 tokens
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert novita_server.max_in_flight == 20
    deadline = time.monotonic() + 5
    while novita_server.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)  # the server decrements after the client already has its last byte
    novita_server.reset()
    assert novita_server.max_in_flight == 0


def test_context_manager_and_restart() -> None:
    server = OfflineNovitaServer(api_key="k2", extra_models=["acme/model"])
    with server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v3/openai"
        body = {"model": "acme/model", "messages": [{"role": "user", "content": "hi"}]}
        assert request(server, "/chat/completions", body, key="k2").status == 200
    server.start()
    with pytest.raises(RuntimeError):
        server.start()
    assert request(server, "/models", method="GET", key="k2").status == 200
    server.stop()
    server.stop()
    with pytest.raises(ValueError):
        OfflineNovitaServer(host="0.0.0.0")


def test_cli_prints_base_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "novita_core.testing", "--port", str(port), "--api-key", "cli"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == f"http://127.0.0.1:{port}/v3/openai"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/openai/v1/models", headers={"Authorization": "Bearer cli"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()


def test_models_listing_has_novitas_shape(novita_server: OfflineNovitaServer) -> None:
    data = request(novita_server, "/models", method="GET").json()["data"]
    by_id = {entry["id"]: entry for entry in data}
    assert len(by_id) >= 100
    flash = by_id["deepseek/deepseek-v4-flash"]
    assert flash["context_size"] == 1048576
    assert flash["max_output_tokens"] == 393216
    assert {"function-calling", "structured-outputs", "reasoning"} <= set(flash["features"])
    assert "vision" not in flash["features"]
    assert flash["input_token_price_per_m"] == 1400  # 0.14 USD per million, in 1/10000 USD
    assert flash["output_token_price_per_m"] == 2800
    assert flash["status"] == 1
    small = by_id["meta-llama/llama-3.1-8b-instruct"]
    assert "function-calling" not in small["features"]
    assert "vision" in by_id["qwen/qwen3-vl-8b-instruct"]["features"]
    assert by_id["qwen/qwen3-vl-8b-instruct"]["input_modalities"] == ["text", "image", "video"]


def test_inline_think_models_write_reasoning_into_content(
    novita_server: OfflineNovitaServer,
) -> None:
    body = {"model": "qwen/qwen3-8b-fp8", "messages": [{"role": "user", "content": "hi"}]}
    message = request(novita_server, "/chat/completions", body).json()["choices"][0]["message"]
    assert message["content"] == "<think>\nThinking about: hi\n</think>\n\nEcho: hi"
    assert "reasoning_content" not in message


def test_denied_model_answers_403(novita_server: OfflineNovitaServer) -> None:
    novita_server.deny_model(MODEL)
    reply = chat(novita_server)
    assert reply.status == 403
    assert reply.json()["reason"] == "model_access_denied"
