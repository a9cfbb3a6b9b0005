"""ChatNovita over real HTTP to the offline server: the JSON it sends and what it returns."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, loads
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field

from langchain_novita import ChatNovita
from langchain_novita._messages import dict_to_message, message_to_dict
from novita_core import InvalidParameterError
from novita_core.catalog import DEFAULT_CHAT_MODEL
from novita_core.testing import Fault, OfflineNovitaServer
from tests.langchain.helpers import PNG_1X1
from tests.replies import chat_completion, chat_stream, interleaved_thinking, logprob

R1 = "deepseek/deepseek-r1-turbo"


def sent(server: OfflineNovitaServer) -> dict[str, Any]:
    """The JSON body of the only chat request the server received."""
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 1, [r.path for r in server.requests]
    body = chats[0].json
    assert isinstance(body, dict)
    return body


# -- the JSON on the wire ------------------------------------------------------------------------


def test_minimal_request_sends_only_model_and_messages(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    ChatNovita(**connect).invoke("hello")
    assert sent(server) == {
        "model": DEFAULT_CHAT_MODEL,
        "messages": [{"role": "user", "content": "hello"}],
    }


ALL_FIELDS: dict[str, Any] = {
    "temperature": 0.3,
    "top_p": 0.9,
    "max_tokens": 50,
    "stop": ["END"],
    "n": 2,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "repetition_penalty": 1.1,
    "top_k": 40,
    "min_p": 0.05,
    "logit_bias": {"50256": -100},
    "seed": 7,
    "logprobs": True,
    "top_logprobs": 2,
}


def test_every_field_goes_to_the_top_level_of_the_body(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    ChatNovita(**connect, **ALL_FIELDS).invoke("hello")
    body = sent(server)
    assert body == {
        "model": DEFAULT_CHAT_MODEL,
        "messages": [{"role": "user", "content": "hello"}],
        **ALL_FIELDS,
    }


def test_reasoning_switches_and_extra_body(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(
        **connect, model=R1, separate_reasoning=True, enable_thinking=False, extra_body={"x_a": 1}
    )
    llm.invoke("hi", extra_body={"x_b": 2})
    body = sent(server)
    assert body["separate_reasoning"] is True
    assert body["enable_thinking"] is False
    assert body["x_a"] == 1 and body["x_b"] == 2


def test_per_call_kwargs_override_fields(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(**connect, temperature=0.9, top_k=10)
    llm.invoke("hi", temperature=0, top_k=3, stop=["x"])
    body = sent(server)
    assert (body["temperature"], body["top_k"], body["stop"]) == (0, 3, ["x"])


def test_bound_kwargs_reach_the_body(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    ChatNovita(**connect).bind(min_p=0.2, user="u-1").invoke("hi")
    body = sent(server)
    assert body["min_p"] == 0.2 and body["user"] == "u-1"


def test_model_kwargs_for_table_params_without_a_field(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(**connect, user="someone")
    assert llm.model_kwargs == {"user": "someone"}
    llm.invoke("hi")
    assert sent(server)["user"] == "someone"


def test_aliases(connect: dict[str, Any]) -> None:
    llm = ChatNovita(
        model_name="qwen/qwen-2.5-72b-instruct",
        novita_api_key=connect["api_key"],
        novita_api_base=connect["base_url"],
        stop_sequences=["a"],
        request_timeout=5,
    )
    assert llm.model == "qwen/qwen-2.5-72b-instruct"
    assert llm.api_key is not None and llm.api_key.get_secret_value() == connect["api_key"]
    assert (llm.base_url, llm.stop, llm.timeout) == (connect["base_url"], ["a"], 5.0)


def test_env_resolution(monkeypatch: pytest.MonkeyPatch, server: OfflineNovitaServer) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", server.api_key)
    monkeypatch.setenv("NOVITA_API_BASE", server.base_url)
    assert ChatNovita().invoke("hi").content
    assert sent(server)["model"] == DEFAULT_CHAT_MODEL


def test_streaming_request_asks_for_usage_unless_disabled(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    list(ChatNovita(**connect).stream("hi"))
    list(ChatNovita(**connect, stream_usage=False).stream("hi"))
    list(ChatNovita(**connect).stream("hi", stream_usage=False))
    bodies = [r.json for r in server.requests]
    assert [b["stream_options"] for b in bodies] == [
        {"include_usage": True},
        {"include_usage": False},
        {"include_usage": False},
    ]
    assert all(b["stream"] is True for b in bodies)


def test_headers_key_and_source(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    ChatNovita(**connect, default_headers={"X-Trace": "t1"}).invoke("hi")
    request = server.requests[0]
    assert request.authorized
    assert request.headers["x-trace"] == "t1"


def test_a_field_set_or_copied_after_a_call_reaches_the_next_request(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(**connect, temperature=0.1)
    llm.invoke("one")
    llm.temperature = 0.7
    llm.invoke("two")
    llm.model_copy(update={"top_k": 5}).invoke("three")
    llm.invoke("four")
    bodies = [r.json for r in server.requests if r.path.endswith("/chat/completions")]
    assert [(b["temperature"], b.get("top_k")) for b in bodies] == [
        (0.1, None),
        (0.7, None),
        (0.7, 5),
        (0.7, None),
    ]


# -- validation: clear errors, nothing sent ------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"min_p": 1.5}, "min_p"),
        ({"n": 0}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"logit_bias": {"1": 500}}, "logit_bias"),
        ({"top_logprobs": 2}, "top_logprobs requires logprobs"),
        ({"frobnicate": 1}, "Unknown parameter 'frobnicate'"),
        ({"model_kwargs": {"temperature": 1}}, "is a field"),
        ({"model_kwargs": {"bogus": 1}}, "bogus"),
    ],
)
def test_bad_constructor_values_fail_at_construction(
    server: OfflineNovitaServer, connect: dict[str, Any], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        ChatNovita(**connect, **kwargs)
    assert server.requests == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": -1}, "temperature"),
        ({"top_k": 1000}, "top_k"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"frobnicate": True}, "Unknown parameter 'frobnicate'"),
    ],
)
def test_bad_call_kwargs_fail_before_any_request(
    server: OfflineNovitaServer, connect: dict[str, Any], kwargs: dict[str, Any], match: str
) -> None:
    llm = ChatNovita(**connect)
    with pytest.raises(ValueError, match=match):
        llm.invoke("hi", **kwargs)
    with pytest.raises(ValueError, match=match):
        list(llm.stream("hi", **kwargs))
    with pytest.raises(ValueError, match=match):
        asyncio.run(llm.ainvoke("hi", **kwargs))
    with pytest.raises(ValueError, match=match):
        llm.bind(**kwargs)
    assert server.requests == []


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="NOVITA_API_KEY"):
        ChatNovita()


# -- key secrecy ---------------------------------------------------------------------------------


def test_key_never_printed_or_serialized(connect: dict[str, Any]) -> None:
    llm = ChatNovita(**connect)
    key = connect["api_key"]
    assert key not in repr(llm) and key not in str(llm)
    assert key not in dumps(llm)
    assert key not in json.dumps(dumpd(llm))
    assert key not in repr(llm._client)


def test_server_errors_do_not_leak_the_key(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    wrong = ChatNovita(api_key="sk-wrong-secret-123", base_url=connect["base_url"], max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.invoke("hi")
    assert "sk-wrong-secret-123" not in str(info.value)
    assert "sk-wrong-secret-123" not in repr(info.value)
    with pytest.raises(openai.NotFoundError, match="404"):
        ChatNovita(**connect, model="nobody/nothing").invoke("hi")


@pytest.mark.filterwarnings("ignore:The function `loads` is in beta")
def test_dumps_loads_round_trip_without_key(
    monkeypatch: pytest.MonkeyPatch, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(**connect, temperature=0.2, top_k=5, repetition_penalty=1.05)
    text = dumps(llm)
    assert connect["api_key"] not in text
    monkeypatch.setenv("NOVITA_API_KEY", "from-env")
    revived = loads(
        text,
        allowed_objects=[ChatNovita],
        valid_namespaces=["langchain_novita"],
        secrets_from_env=True,
    )
    assert isinstance(revived, ChatNovita)
    assert revived.api_key is not None and revived.api_key.get_secret_value() == "from-env"
    assert (revived.temperature, revived.top_k, revived.repetition_penalty) == (0.2, 5, 1.05)
    assert revived.base_url == connect["base_url"]


# -- retries go through the core -----------------------------------------------------------------


def test_retry_on_503_then_success(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    server.inject(Fault.status(503), times=1)
    assert ChatNovita(**connect, max_retries=1).invoke("hi").content
    assert len(server.requests) == 2


# -- conversions ---------------------------------------------------------------------------------


def test_messages_to_wire(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    history = [
        SystemMessage("be brief"),
        HumanMessage("what is 2+2?", name="ada"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "add", "args": {"a": 2, "b": 2}, "id": "call_1", "type": "tool_call"}
            ],
        ),
        ToolMessage("4", tool_call_id="call_1"),
        AIMessage("It is 4.", additional_kwargs={"reasoning_content": "dropped"}),
        HumanMessage([{"type": "text", "text": "thanks"}]),
    ]
    ChatNovita(**connect).invoke(history)
    assert sent(server)["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is 2+2?", "name": "ada"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'},
                }
            ],
        },
        {"role": "tool", "content": "4", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
    ]


def test_image_input_base64_and_url(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    data_url = f"data:image/png;base64,{PNG_1X1}"
    llm = ChatNovita(**connect, model="qwen/qwen2.5-vl-72b-instruct")
    llm.invoke(
        [
            HumanMessage(
                [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": data_url}},
                    {"type": "image", "base64": PNG_1X1, "mime_type": "image/png"},
                    {"type": "image", "url": "https://example.com/cat.png"},
                ]
            )
        ]
    )
    content = sent(server)["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "describe"}
    assert content[1] == {"type": "image_url", "image_url": {"url": data_url}}
    assert content[2]["image_url"]["url"] == data_url
    assert content[3]["image_url"]["url"] == "https://example.com/cat.png"


def test_wire_to_messages_round_trip() -> None:
    wire = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "think",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{oops"}},
        ],
    }
    message = dict_to_message(wire)
    assert isinstance(message, AIMessage)
    assert message.additional_kwargs == {"reasoning_content": "think"}
    assert message.tool_calls == [{"name": "f", "args": {"x": 1}, "id": "c1", "type": "tool_call"}]
    assert message.invalid_tool_calls[0]["id"] == "c2"
    back = message_to_dict(message)
    assert back["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
    assert back["tool_calls"][1]["function"] == {"name": "g", "arguments": "{oops"}
    for wire_msg, cls in [
        ({"role": "user", "content": "u", "name": "n"}, HumanMessage),
        ({"role": "system", "content": "s"}, SystemMessage),
        ({"role": "tool", "content": "t", "tool_call_id": "c"}, ToolMessage),
    ]:
        converted = dict_to_message(wire_msg)
        assert isinstance(converted, cls)
        assert message_to_dict(converted) == wire_msg


# -- results -------------------------------------------------------------------------------------


def test_invoke_result_metadata_and_usage(connect: dict[str, Any]) -> None:
    result = ChatNovita(**connect).invoke("hello world")
    assert result.content == "Echo: hello world"
    assert result.id and result.id.startswith("chatcmpl-")
    meta = result.response_metadata
    assert meta["model_name"] == DEFAULT_CHAT_MODEL
    assert meta["model_provider"] == "novita"
    assert meta["finish_reason"] == "stop"
    assert meta["system_fingerprint"]
    assert result.usage_metadata is not None
    usage = result.usage_metadata
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0


def test_logprobs_in_response_metadata(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    logprobs = {"content": [logprob("Hi", "Hey")]}
    server.script(json=chat_completion(DEFAULT_CHAT_MODEL, {"content": "Hi"}, logprobs=logprobs))
    result = ChatNovita(**connect, logprobs=True, top_logprobs=2).invoke("hello")
    content = result.response_metadata["logprobs"]["content"]
    assert content and len(content[0]["top_logprobs"]) == 2
    pieces = [{"role": "assistant", "content": ""}, {"content": "Hi"}, {"content": " there"}]
    per_piece = [None, {"content": [logprob("Hi")]}, {"content": [logprob(" there")]}]
    server.script(stream=chat_stream(DEFAULT_CHAT_MODEL, pieces, logprobs=per_piece))
    streamed = ChatNovita(**connect).stream("hello", logprobs=True)
    merged = _aggregate(list(streamed))
    assert merged.response_metadata["logprobs"]["content"]


def test_n_choices_give_n_generations(connect: dict[str, Any]) -> None:
    result = ChatNovita(**connect, n=3).generate([[HumanMessage("hi")]])
    assert len(result.generations[0]) == 3


def _aggregate(chunks: list[Any]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    return full


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_reasoning_content_everywhere(connect: dict[str, Any], mode: str) -> None:
    llm = ChatNovita(**connect, model=R1)

    async def collect() -> list[Any]:
        return [c async for c in llm.astream("why is the sky blue")]

    if mode == "invoke":
        message: AIMessage = llm.invoke("why is the sky blue")
    elif mode == "ainvoke":
        message = asyncio.run(llm.ainvoke("why is the sky blue"))
    elif mode == "stream":
        message = _aggregate(list(llm.stream("why is the sky blue")))
    else:
        message = _aggregate(asyncio.run(collect()))
    assert message.additional_kwargs["reasoning_content"]
    assert message.content
    assert message.usage_metadata is not None
    assert message.usage_metadata.get("output_token_details", {}).get("reasoning", 0) > 0
    assert any(block["type"] == "reasoning" for block in message.content_blocks)


def test_stream_usage_once_and_metadata_once(connect: dict[str, Any]) -> None:
    chunks = list(ChatNovita(**connect).stream("one two three four"))
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert chunks[-1].chunk_position == "last"
    full = _aggregate(chunks)
    assert full.content == "Echo: one two three four"
    assert full.response_metadata["model_name"] == DEFAULT_CHAT_MODEL
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.usage_metadata is not None and full.usage_metadata["input_tokens"] == 4


class TokenCounter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.ends = 0

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.ends += 1


def test_callbacks_on_every_path(connect: dict[str, Any]) -> None:
    counter = TokenCounter()
    llm = ChatNovita(**connect, callbacks=[counter])
    streamed = "".join(c.text for c in llm.stream("alpha beta"))
    assert "".join(counter.tokens) == streamed
    llm.invoke("x")
    asyncio.run(llm.ainvoke("x"))
    streaming = ChatNovita(**connect, streaming=True, callbacks=[counter])
    before = len(counter.tokens)
    assert streaming.invoke("gamma delta").content == "Echo: gamma delta"
    assert len(counter.tokens) > before
    assert counter.ends == 4


# -- tools ---------------------------------------------------------------------------------------


class GetWeather(BaseModel):
    """Get the current weather in a city."""

    city: str = Field(description="City name")


def test_bind_tools_wire_format_and_choice_mapping(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(**connect)
    llm.bind_tools([GetWeather], tool_choice="any", parallel_tool_calls=False, strict=True).invoke(
        "weather in Paris"
    )
    body = sent(server)
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    function = body["tools"][0]["function"]
    assert function["name"] == "GetWeather" and function["strict"] is True
    server.reset()
    llm.bind_tools([GetWeather], tool_choice="GetWeather").invoke("weather in Paris")
    assert sent(server)["tool_choice"] == {"type": "function", "function": {"name": "GetWeather"}}


def test_a_tool_choice_naming_no_bound_tool_fails_before_sending(
    connect: dict[str, Any], server: OfflineNovitaServer
) -> None:
    # The core checks the request itself, however the tools and the choice were bound.
    weather = convert_to_openai_tool(GetWeather)
    choice = {"type": "function", "function": {"name": "GetTime"}}
    llm = ChatNovita(**connect)
    with pytest.raises(InvalidParameterError, match=r"'GetTime', which is not among.*GetWeather"):
        llm.bind(tools=[weather], tool_choice=choice)
    with pytest.raises(InvalidParameterError, match=r"'GetTime', which is not among.*GetWeather"):
        llm.invoke("weather in Paris", tools=[weather], tool_choice=choice)
    with pytest.raises(InvalidParameterError, match=r"'GetTime', which is not among.*GetWeather"):
        llm.bind_tools([GetWeather], tool_choice="GetTime")
    assert server.requests == []


def test_streamed_tool_call_assembly(connect: dict[str, Any]) -> None:
    llm = ChatNovita(**connect).bind_tools([GetWeather], tool_choice="GetWeather")
    chunks: list[Any] = list(llm.stream("What is the weather in Paris?"))
    assert sum(len(c.tool_call_chunks) for c in chunks) > 1  # arrived in pieces
    full = _aggregate(chunks)
    assert len(full.tool_calls) == 1
    call = full.tool_calls[0]
    assert call["name"] == "GetWeather" and call["id"]
    assert isinstance(call["args"]["city"], str) and call["args"]["city"]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    invoked = llm.invoke("What is the weather in Paris?")
    assert invoked.tool_calls[0]["args"] == call["args"]


def test_tool_calling_loop_executes_the_tool(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    calls: list[tuple[int, int]] = []

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append((a, b))
        return a * b

    llm = ChatNovita(**connect).bind_tools([multiply])
    messages: list[Any] = [HumanMessage("What is 6 times 7?")]
    for _ in range(3):
        reply = llm.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            messages.append(multiply.invoke(call))
    assert calls == [(6, 7)]
    assert isinstance(messages[-1], AIMessage) and not messages[-1].tool_calls
    assert messages[-1].content
    last_body = server.requests[-1].json
    assert last_body["messages"][-1] == {
        "role": "tool",
        "content": "42",
        "tool_call_id": messages[1].tool_calls[0]["id"],
    }


# -- structured output ---------------------------------------------------------------------------


class Person(BaseModel):
    """A person."""

    name: str
    age: int


class Pet(BaseModel):
    """A pet."""

    name: str
    kind: str


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_structured_output_into_pydantic(
    server: OfflineNovitaServer, connect: dict[str, Any], method: str
) -> None:
    # json_mode sends no schema (only the prompt names the keys), so its target has string fields
    schema: type[BaseModel] = Pet if method == "json_mode" else Person
    structured = ChatNovita(**connect).with_structured_output(schema, method=method)  # type: ignore[arg-type]
    result = structured.invoke('Alice is 30 years old. Reply in JSON with keys "name" and "kind".')
    assert isinstance(result, schema)
    if isinstance(result, Person):
        assert result.age == 30
    body = sent(server)
    if method == "function_calling":
        assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    elif method == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["name"] == "Person"
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["name", "age"]
    else:
        assert body["response_format"] == {"type": "json_object"}


def test_structured_output_include_raw(connect: dict[str, Any]) -> None:
    structured = ChatNovita(**connect).with_structured_output(Person, include_raw=True)
    out = structured.invoke("Bob is 41")
    assert isinstance(out, dict)
    assert isinstance(out["raw"], AIMessage)
    assert isinstance(out["parsed"], Person)
    assert out["parsing_error"] is None


def test_structured_output_rejects_unknown_method(connect: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Unknown method"):
        ChatNovita(**connect).with_structured_output(Person, method="telepathy")  # type: ignore[arg-type]


# -- end to end ----------------------------------------------------------------------------------


def test_lcel_chain(connect: dict[str, Any]) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be nice."), ("human", "Hi {name}")])
    chain = prompt | ChatNovita(**connect) | StrOutputParser()
    assert chain.invoke({"name": "Ada"}) == "Echo: Hi Ada"


def test_batch_of_twenty(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    prompts = [f"prompt number {i}" for i in range(20)]
    results = ChatNovita(**connect).batch(prompts)
    assert [r.content for r in results] == [f"Echo: {p}" for p in prompts]
    assert len(server.requests) == 20


def test_abatch_with_max_concurrency(connect: dict[str, Any]) -> None:
    server = OfflineNovitaServer(api_key="k", latency=0.02).start()
    try:
        llm = ChatNovita(api_key="k", base_url=server.base_url)
        prompts = [f"item {i}" for i in range(12)]
        results = asyncio.run(llm.abatch(prompts, config={"max_concurrency": 3}))
        assert [r.content for r in results] == [f"Echo: {p}" for p in prompts]
        assert 1 < server.max_in_flight <= 3
    finally:
        server.stop()


def test_profile_from_core_catalog(connect: dict[str, Any]) -> None:
    profile = ChatNovita(**connect, model=R1).profile
    assert profile is not None
    assert profile["reasoning_output"] is True
    assert profile["max_input_tokens"] == 64000
    assert profile["tool_calling"] is True
    assert ChatNovita(**connect, model="unknown/model").profile is None


def test_ls_params(connect: dict[str, Any]) -> None:
    llm = ChatNovita(**connect, temperature=0.5, max_tokens=9, stop="x")
    params = llm._get_ls_params()
    assert params == {
        "ls_provider": "novita",
        "ls_model_name": DEFAULT_CHAT_MODEL,
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 9,
        "ls_stop": ["x"],
    }
    assert llm._llm_type == "chat-novita"


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_async_transport_can_be_chosen(connect: dict[str, Any], transport: str) -> None:
    llm = ChatNovita(**connect, async_transport=transport)
    assert (await llm.ainvoke("hello transport")).content
    with pytest.raises(ValueError, match="async_transport"):
        ChatNovita(**connect, async_transport="carrier-pigeon")


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_details_go_back_to_the_model(
    server: OfflineNovitaServer, connect: dict[str, Any], stream: bool
) -> None:
    llm = ChatNovita(**connect, model="minimax/minimax-m2")
    question = HumanMessage("Plan a trip")
    server.script(**interleaved_thinking("minimax/minimax-m2", stream=stream))
    if stream:
        reply: Any = None
        for piece in llm.stream([question]):
            reply = piece if reply is None else reply + piece
    else:
        reply = llm.invoke([question])
    details = reply.additional_kwargs["reasoning_details"]
    assert details[0]["type"] == "reasoning.text"
    assert details[0]["text"] == reply.additional_kwargs["reasoning_content"]
    llm.invoke([question, reply, HumanMessage("And then?")])
    assistant = server.requests[-1].json["messages"][1]
    assert assistant["reasoning_details"] == details
    assert "reasoning_content" not in assistant
