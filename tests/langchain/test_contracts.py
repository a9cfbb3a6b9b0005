"""The LangChain contracts users rely on: one message per stream, early refusals, live settings."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool

from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from langchain_novita._common import wire_fields
from novita_core._compat import http_lib
from novita_core.params import CHAT, COMPLETIONS, EMBEDDINGS, InvalidParameterError, spec_for
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class TokenChunks(BaseCallbackHandler):
    """What LangGraph's ``stream_mode="messages"`` sees: the chunks of ``on_llm_new_token``."""

    def __init__(self) -> None:
        self.messages: list[AIMessageChunk] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.messages.append(chunk.message)


def chat(connect: dict[str, Any], **kwargs: Any) -> ChatNovita:
    return ChatNovita(model=MODEL, **connect, **kwargs)


def assert_one_message(chunks: list[AIMessageChunk], *, usage: bool = True) -> None:
    assert len(chunks) >= 2
    assert len({chunk.id for chunk in chunks}) == 1, [chunk.id for chunk in chunks]
    assert chunks[0].id and chunks[0].id.startswith("chatcmpl-")
    assert [chunk.chunk_position for chunk in chunks].count("last") == 1
    assert chunks[-1].chunk_position == "last"
    if usage:
        last = chunks[-1].usage_metadata
        assert last is not None and last["total_tokens"] > 0
        assert [chunk.usage_metadata is not None for chunk in chunks].count(True) == 1
    else:
        assert all(chunk.usage_metadata is None for chunk in chunks)


# -- a stream is one message -----------------------------------------------------------------


def test_stream_is_one_message_with_usage_on_the_last_chunk(connect: dict[str, Any]) -> None:
    seen = TokenChunks()
    chunks = list(chat(connect).stream("hi", config={"callbacks": [seen]}))
    assert_one_message(chunks)
    assert_one_message(seen.messages)
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.content == "Echo: hi"
    assert merged.usage_metadata is not None and merged.usage_metadata["total_tokens"] == 3


def test_astream_is_one_message_with_usage_on_the_last_chunk(connect: dict[str, Any]) -> None:
    seen = TokenChunks()

    async def collect() -> list[AIMessageChunk]:
        llm = chat(connect)
        return [chunk async for chunk in llm.astream("hi", config={"callbacks": [seen]})]

    chunks = asyncio.run(collect())
    assert_one_message(chunks)
    assert_one_message(seen.messages)


def test_stream_without_usage_still_closes_its_own_message(connect: dict[str, Any]) -> None:
    chunks = list(chat(connect, stream_usage=False).stream("hi"))
    assert_one_message(chunks, usage=False)


def test_streamed_tool_call_is_one_message(connect: dict[str, Any]) -> None:
    llm = chat(connect).bind_tools([multiply], tool_choice="multiply")
    chunks = list(llm.stream("What is 6 times 7?"))
    assert_one_message(chunks)
    merged: Any = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert [call["name"] for call in merged.tool_calls] == ["multiply"]


def test_invoke_with_streaming_true_is_one_message(connect: dict[str, Any]) -> None:
    seen = TokenChunks()
    message = chat(connect, streaming=True).invoke("hi", config={"callbacks": [seen]})
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] == 3
    assert {chunk.id for chunk in seen.messages} == {message.id}


# -- n > 1 is not streamed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda llm: list(llm.stream("hi", n=2)), id="stream-per-call"),
        pytest.param(lambda llm: list(llm.with_config({}).stream("hi", n=3)), id="bound"),
        pytest.param(
            lambda llm: asyncio.run(_drain(llm.astream("hi", n=2))), id="astream-per-call"
        ),
    ],
)
def test_n_above_one_is_refused_on_streams(
    server: OfflineNovitaServer, connect: dict[str, Any], run: Any
) -> None:
    with pytest.raises(InvalidParameterError, match=r"n=\d cannot be streamed"):
        run(chat(connect))
    assert server.requests == []


def test_n_field_with_streaming_is_refused_and_invoke_without_is_fine(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    with pytest.raises(InvalidParameterError, match="n=2 cannot be streamed"):
        chat(connect, n=2, streaming=True).invoke("hi")
    with pytest.raises(InvalidParameterError, match="n=2 cannot be streamed"):
        list(chat(connect, n=2).stream("hi"))
    assert server.requests == []
    result = chat(connect, n=2).generate([[HumanMessage("hi")]])
    assert len(result.generations[0]) == 2
    assert server.last_request.json["n"] == 2


def test_completions_n_above_one_is_refused_on_streams(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = Novita(model=MODEL, n=2, **connect)
    with pytest.raises(InvalidParameterError, match="n=2 cannot be streamed"):
        list(llm.stream("Once"))
    with pytest.raises(InvalidParameterError, match="n=2 cannot be streamed"):
        asyncio.run(_drain(llm.astream("Once")))
    assert server.requests == []


async def _drain(stream: Any) -> list[Any]:
    return [item async for item in stream]


# -- timeout as ChatOpenAI takes it ----------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "read"),
    [
        (7, "7.0"),
        (2.5, "2.5"),
        ((3, 9), "9.0"),
        (http_lib.Timeout(11.0, connect=2.0), "11.0"),
    ],
    ids=["int", "float", "connect-read-pair", "timeout-object"],
)
def test_timeout_forms_reach_the_openai_client(
    server: OfflineNovitaServer, connect: dict[str, Any], timeout: Any, read: str
) -> None:
    chat(connect, timeout=timeout).invoke("hi")
    # The SDK announces the read timeout of the request it sent.
    assert server.last_request.headers["x-stainless-read-timeout"] == read
    NovitaEmbeddings(**connect, timeout=timeout).embed_query("x")
    assert server.last_request.headers["x-stainless-read-timeout"] == read


def test_request_timeout_alias_takes_a_pair(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    Novita(model=MODEL, request_timeout=(1, 4), **connect).invoke("Once")
    assert server.last_request.headers["x-stainless-read-timeout"] == "4.0"


@pytest.mark.parametrize("timeout", [True, 0, -1, "10", (1, 2, 3), (0, 5), float("nan")])
def test_bad_timeouts_are_refused_at_construction(
    server: OfflineNovitaServer, connect: dict[str, Any], timeout: Any
) -> None:
    with pytest.raises(ValueError, match="timeout must be"):
        chat(connect, timeout=timeout)
    assert server.requests == []


@pytest.mark.parametrize("model_cls", [ChatNovita, Novita, NovitaEmbeddings])
@pytest.mark.parametrize("retries", [True, "3", 2.0, -1])
def test_bad_max_retries_are_refused_at_construction(
    server: OfflineNovitaServer, connect: dict[str, Any], model_cls: Any, retries: Any
) -> None:
    # True is an int to Python: it must not quietly become one retry.
    with pytest.raises(ValueError, match="max_retries"):
        model_cls(**connect, max_retries=retries)
    assert server.requests == []


# -- constructor errors ----------------------------------------------------------------------


@pytest.mark.parametrize("model_cls", [ChatNovita, Novita, NovitaEmbeddings])
def test_unknown_argument_error_lists_every_constructor_field(
    connect: dict[str, Any], model_cls: Any
) -> None:
    with pytest.raises(ValueError) as info:
        model_cls(**connect, no_such_option=1)
    message = str(info.value)
    for field in model_cls.model_fields:
        assert field in message, field


def _numeric_fields(model_cls: Any, endpoint: Any) -> list[str]:
    fields = [
        name
        for name in wire_fields(model_cls, endpoint)
        if bool not in (spec_for(endpoint, name).types)  # type: ignore[union-attr]
        and (int in spec_for(endpoint, name).types)  # type: ignore[union-attr]
    ]
    assert fields
    return fields


@pytest.mark.parametrize(
    ("model_cls", "endpoint"),
    [(ChatNovita, CHAT), (Novita, COMPLETIONS), (NovitaEmbeddings, EMBEDDINGS)],
)
@pytest.mark.parametrize("flag", [True, False])
def test_constructors_refuse_booleans_for_numbers(
    server: OfflineNovitaServer, connect: dict[str, Any], model_cls: Any, endpoint: Any, flag: bool
) -> None:
    for name in _numeric_fields(model_cls, endpoint):
        with pytest.raises(ValueError, match=f"{name} must be"):
            model_cls(**connect, **{name: flag})
    with pytest.raises(ValueError, match="must be a number"):
        ChatNovita(**connect, logit_bias={"50256": flag})
    assert server.requests == []


def test_numbers_still_pass(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    chat(connect, temperature=1, top_p=0.5, max_tokens=5, logit_bias={50256: -100}).invoke("hi")
    body = server.last_request.json
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (1.0, 0.5, 5)
    assert body["logit_bias"] == {"50256": -100}


# -- tool_choice must name a bound tool ------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    ["divide", {"type": "function", "function": {"name": "divide"}}],
    ids=["name", "dict"],
)
def test_named_tool_choice_must_match_a_bound_tool(
    server: OfflineNovitaServer, connect: dict[str, Any], choice: Any
) -> None:
    with pytest.raises(InvalidParameterError, match=r"'divide'.*\['multiply'\]"):
        chat(connect).bind_tools([multiply], tool_choice=choice)
    assert server.requests == []


def test_named_tool_choice_of_a_bound_tool_is_sent(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    chat(connect).bind_tools([multiply], tool_choice="multiply").invoke("6 times 7?")
    assert server.last_request.json["tool_choice"] == {
        "type": "function",
        "function": {"name": "multiply"},
    }


# -- base_url is checked at construction -----------------------------------------------------


@pytest.mark.parametrize(
    "url", ["api.novita.ai/v3/openai", "ftp://api.novita.ai/v3", "http://", "https://:80/x"]
)
@pytest.mark.parametrize("model_cls", [ChatNovita, Novita, NovitaEmbeddings])
def test_bad_base_url_is_refused_at_construction(model_cls: Any, url: str) -> None:
    with pytest.raises(ValueError, match=r"base_url=.*not an http\(s\) URL with a host"):
        model_cls(api_key="k", base_url=url)


def test_malformed_port_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match=r"base_url=.*not a valid URL"):
        ChatNovita(api_key="k", base_url="http://127.0.0.1:notaport/v1")


# -- model_copy(update=...) talks to the new settings ----------------------------------------


def test_model_copy_of_base_url_and_api_key_goes_to_the_new_server(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = chat(connect)
    llm.invoke("first")
    with OfflineNovitaServer(api_key="second-key") as other:
        moved = llm.model_copy(update={"base_url": other.base_url, "api_key": "second-key"})
        moved.invoke("second")
        assert [r.json["messages"][0]["content"] for r in other.requests] == ["second"]
        assert other.last_request.authorized
        assert "second-key" not in repr(moved)
    llm.invoke("third")  # the original keeps its own connection
    assert [r.json["messages"][0]["content"] for r in server.requests] == ["first", "third"]


def test_model_copy_of_api_key_alone_is_used(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    wrong = chat(connect, max_retries=0).model_copy(update={"api_key": "not-the-key"})
    with pytest.raises(openai.AuthenticationError):
        wrong.invoke("hi")
    assert not server.last_request.authorized


def test_model_copy_of_retries_timeout_and_headers_is_used(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = chat(connect, max_retries=0)
    copied = llm.model_copy(
        update={"max_retries": 1, "timeout": 13, "default_headers": {"X-Trace": "copy"}}
    )
    server.inject(Fault.status(503), times=1)
    copied.invoke("hi")
    assert len(server.requests) == 2  # one retry
    assert server.last_request.headers["x-stainless-read-timeout"] == "13.0"
    assert server.last_request.headers["x-trace"] == "copy"
    server.reset()
    server.inject(Fault.status(503), times=1)
    with pytest.raises(openai.InternalServerError):
        llm.invoke("hi")
    assert len(server.requests) == 1
    assert "x-trace" not in server.last_request.headers


def test_model_copy_with_a_bad_base_url_fails_at_once(connect: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="base_url="):
        chat(connect).model_copy(update={"base_url": "not a url"})


def test_model_copy_of_embeddings_uses_the_new_server(connect: dict[str, Any]) -> None:
    with OfflineNovitaServer(api_key="second-key") as other:
        moved = NovitaEmbeddings(**connect).model_copy(
            update={"base_url": other.base_url, "api_key": "second-key"}
        )
        assert len(moved.embed_query("x")) == 1024
        assert len(other.requests) == 1
