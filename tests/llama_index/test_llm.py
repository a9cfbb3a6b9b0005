"""NovitaAI over real HTTP to the offline server: wire JSON, streams, usage, reasoning."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ThinkingBlock, ToolCallBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock
from llama_index.core.llms.llm import LLM

from llama_index_novita import NovitaAI
from novita_core.testing import OfflineNovitaServer
from tests.replies import chat_completion, interleaved_thinking, logprob

MODEL = "meta-llama/llama-3.3-70b-instruct"  # the make_llm fixture's model (conftest.py)

USER = [ChatMessage(role="user", content="hello novita")]

# 1x1 transparent PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def chat_bodies(server: OfflineNovitaServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


def test_is_a_llamaindex_function_calling_llm(llm: NovitaAI) -> None:
    assert LLM.__name__ in [cls.__name__ for cls in type(llm).__mro__]
    assert NovitaAI.class_name() == "NovitaAI"


def test_chat_sends_exact_body_and_returns_usage(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    response = llm.chat(USER)
    assert response.message.content == "Echo: hello novita"
    assert response.message.role == "assistant"
    assert chat_bodies(server) == [
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "hello novita"}],
            "temperature": 0.1,
        }
    ]
    assert server.last_request.path == "/v3/openai/chat/completions"
    usage = response.raw["usage"]
    # llama-3.3-70b: 0.135 / 0.4 USD per million prompt / completion tokens in the catalog
    cost = (usage["prompt_tokens"] * 0.135 + usage["completion_tokens"] * 0.4) / 1e6
    assert response.additional_kwargs == {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
        "cost_usd": pytest.approx(cost),
    }
    assert usage["total_tokens"] > 0


def test_typed_fields_and_per_call_kwargs_reach_the_wire(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(
        temperature=0.7,
        max_tokens=64,
        top_p=0.9,
        stop=["END"],
        presence_penalty=0.5,
        frequency_penalty=0.25,
        repetition_penalty=1.1,
        top_k=40,
        min_p=0.05,
        seed=7,
        logit_bias={"50256": -100},
    )
    llm.chat(USER, temperature=0.2, extra_body={"custom_flag": True})
    body = server.last_request.json
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hello novita"}],
        "temperature": 0.2,
        "max_tokens": 64,
        "top_p": 0.9,
        "stop": ["END"],
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "repetition_penalty": 1.1,
        "top_k": 40,
        "min_p": 0.05,
        "seed": 7,
        "logit_bias": {"50256": -100},
        "custom_flag": True,
    }


def test_stream_chat_accumulates_and_reports_usage(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    chunks = list(llm.stream_chat([ChatMessage(role="user", content="one two three")]))
    assert "".join(c.delta or "" for c in chunks) == "Echo: one two three"
    # every chunk carries the full message so far
    assert [c.message.content for c in chunks if c.delta][-1] == "Echo: one two three"
    assert chunks[1].message.content.startswith(chunks[0].message.content or "")
    last = chunks[-1]
    assert last.additional_kwargs["total_tokens"] > 0
    assert last.raw["usage"]["prompt_tokens"] == last.additional_kwargs["prompt_tokens"]
    body = server.last_request.json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_complete_family_through_chat_endpoint(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    assert llm.complete("say hi").text == "Echo: say hi"
    assert "".join(c.delta or "" for c in llm.stream_complete("say hi")) == "Echo: say hi"

    async def main() -> tuple[str, str]:
        a = await llm.acomplete("say hi")
        text = ""
        async for chunk in await llm.astream_complete("say hi"):
            text = chunk.text
        return a.text, text

    assert asyncio.run(main()) == ("Echo: say hi", "Echo: say hi")
    paths = {r.path for r in server.requests}
    assert paths == {"/v3/openai/chat/completions"}
    assert server.requests[0].json["messages"] == [{"role": "user", "content": "say hi"}]


def test_async_chat_and_stream(llm: NovitaAI) -> None:
    async def main() -> tuple[str, str, dict[str, Any]]:
        response = await llm.achat(USER)
        last = None
        async for chunk in await llm.astream_chat(USER):
            last = chunk
        assert last is not None
        return response.message.content or "", last.message.content or "", last.additional_kwargs

    text, streamed, extra = asyncio.run(main())
    assert text == streamed == "Echo: hello novita"
    assert extra["completion_tokens"] > 0
    # a second event loop still works (clients are per loop)
    assert asyncio.run(llm.achat(USER)).message.content == "Echo: hello novita"


def test_non_chat_model_uses_completions_endpoint(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(is_chat_model=False, top_k=5, logprobs=True, top_logprobs=2)
    response = llm.complete("finish this")
    assert "Echo: finish this" in response.text
    assert response.additional_kwargs["total_tokens"] > 0
    request = server.last_request
    assert request.path == "/v3/openai/completions"
    assert request.json == {
        "model": MODEL,
        "prompt": "finish this",
        "temperature": 0.1,
        "top_k": 5,
        "logprobs": 2,
    }
    streamed = list(llm.stream_complete("finish this"))
    assert "Echo: finish this" in streamed[-1].text
    assert streamed[-1].additional_kwargs["total_tokens"] > 0
    chat = llm.chat([ChatMessage(role="user", content="via prompt")])
    assert "via prompt" in (chat.message.content or "")
    assert server.last_request.path == "/v3/openai/completions"
    assert llm.metadata.is_chat_model is False
    assert llm.metadata.is_function_calling_model is False


def test_token_counting_handler_counts_each_call_once(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    response = llm.complete("count these tokens")
    usage = response.raw["usage"]
    assert len(counter.llm_token_counts) == 1
    assert counter.prompt_llm_token_count == usage["prompt_tokens"]
    assert counter.completion_llm_token_count == usage["completion_tokens"]

    counter.reset_counts()
    chunks = list(llm.stream_complete("count these tokens"))
    assert len(counter.llm_token_counts) == 1
    assert counter.completion_llm_token_count == chunks[-1].raw["usage"]["completion_tokens"]

    counter.reset_counts()
    chat_chunks = list(llm.stream_chat(USER))
    assert len(counter.llm_token_counts) == 1
    assert counter.prompt_llm_token_count == chat_chunks[-1].raw["usage"]["prompt_tokens"]

    counter.reset_counts()
    asyncio.run(llm.acomplete("count these tokens"))
    assert len(counter.llm_token_counts) == 1
    assert counter.prompt_llm_token_count == usage["prompt_tokens"]


def test_reasoning_is_surfaced_as_thinking_block(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(model="deepseek/deepseek-r1-0528")
    response = llm.chat([ChatMessage(role="user", content="why is the sky blue")])
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking and thinking[0].content == "Thinking about: why is the sky blue"
    assert response.message.additional_kwargs["reasoning_content"] == thinking[0].content
    assert response.message.content == "Echo: why is the sky blue"  # reasoning not in content

    chunks = list(llm.stream_chat([ChatMessage(role="user", content="why is the sky blue")]))
    deltas = "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks)
    assert deltas == "Thinking about: why is the sky blue"
    final = chunks[-1].message
    assert [b.content for b in final.blocks if isinstance(b, ThinkingBlock)] == [deltas]
    assert final.content == "Echo: why is the sky blue"

    # reasoning is never sent back
    llm.chat([*USER, response.message, ChatMessage(role="user", content="and then")])
    assert server.last_request.json["messages"][1] == {
        "role": "assistant",
        "content": "Echo: why is the sky blue",
    }


def test_image_block_is_sent_as_image_url(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="what is this"),
            ImageBlock(image=PNG),
            ImageBlock(url="https://example.com/cat.png", detail="low"),
        ],
    )
    response = llm.chat([message])
    assert "2 images" in (response.message.content or "")
    content = server.last_request.json["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "what is this"}
    assert content[1]["type"] == "image_url"
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[2] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }


def test_logprobs_are_converted(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    logprobs = {"content": [logprob("Hello", "Hi"), logprob(" there", " you")]}
    server.script(json=chat_completion(MODEL, {"content": "Hello there"}, logprobs=logprobs))
    llm = make_llm(logprobs=True, top_logprobs=2)
    response = llm.chat(USER)
    assert response.logprobs is not None
    assert len(response.logprobs) > 0
    assert all(len(alternatives) >= 1 for alternatives in response.logprobs)


def test_tool_call_history_round_trips_on_the_wire(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    history = [
        ChatMessage(role="system", content="be brief"),
        ChatMessage(role="user", content="weather in Paris?"),
        ChatMessage(
            role="assistant",
            blocks=[
                ToolCallBlock(
                    tool_call_id="call_1", tool_name="get_weather", tool_kwargs={"city": "Paris"}
                )
            ],
        ),
        ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "call_1"}),
    ]
    response = llm.chat(history)
    assert response.message.content == "The tool returned: sunny"
    assert server.last_request.json["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
    ]


@pytest.mark.parametrize("method", ["chat", "stream_chat"])
def test_server_errors_surface_as_typed_openai_errors(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer, method: str
) -> None:
    import openai

    llm = make_llm(model="acme/does-not-exist")
    with pytest.raises(openai.NotFoundError, match="MODEL_NOT_FOUND"):
        result = getattr(llm, method)(USER)
        list(result) if method == "stream_chat" else None
    assert len(server.requests) == 1  # 404 is not retried


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_async_transport_can_be_chosen(
    make_llm: Callable[..., NovitaAI], transport: str
) -> None:
    llm = make_llm(async_transport=transport)
    response = await llm.achat([ChatMessage(role="user", content="hello transport")])
    assert response.message.content
    with pytest.raises(ValueError, match="async_transport"):
        make_llm(async_transport="carrier-pigeon")


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_details_go_back_to_the_model(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer, stream: bool
) -> None:
    llm = make_llm(model="minimax/minimax-m2")
    question = ChatMessage(role="user", content="Plan a trip")
    server.script(**interleaved_thinking("minimax/minimax-m2", stream=stream))
    if stream:
        *_, last = llm.stream_chat([question])
        reply = last.message
    else:
        reply = llm.chat([question]).message
    details = reply.additional_kwargs["reasoning_details"]
    assert details[0]["text"] == reply.additional_kwargs["reasoning_content"]
    llm.chat([question, reply, ChatMessage(role="user", content="And then?")])
    assistant = chat_bodies(server)[-1]["messages"][1]
    assert assistant["reasoning_details"] == details
    assert "reasoning_content" not in assistant
