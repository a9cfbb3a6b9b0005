"""Tool calling and structured output over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_novita import NovitaAI
from novita_core import InvalidParameterError
from novita_core.testing import OfflineNovitaServer


def get_weather(city: str) -> str:
    """Get the current weather of a city."""
    return f"sunny in {city}"


def get_time(zone: str) -> str:
    """Get the current time in a time zone."""
    return f"noon in {zone}"


WEATHER = FunctionTool.from_defaults(get_weather)
TIME = FunctionTool.from_defaults(get_time)


class Invoice(BaseModel):
    customer: str
    amount: float


def test_chat_with_tools_sends_tools_and_parses_call(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    history = [ChatMessage(role="system", content="use tools")]
    response = llm.chat_with_tools([WEATHER], user_msg="weather in 'Paris'?", chat_history=history)
    assert len(history) == 1  # caller's history untouched
    body = server.last_request.json
    assert body["tools"] == [WEATHER.metadata.to_openai_tool(skip_length_check=True)]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is False
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0].tool_id.startswith("call_")
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert blocks[0].tool_kwargs == {"city": "Paris"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"tool_required": True}, "required"),
        ({"tool_choice": "get_time"}, {"type": "function", "function": {"name": "get_time"}}),
        ({"tool_choice": "none"}, "none"),
    ],
)
def test_tool_choice_variants(
    llm: NovitaAI, server: OfflineNovitaServer, kwargs: dict[str, object], expected: object
) -> None:
    llm.chat_with_tools([WEATHER, TIME], user_msg="what now?", **kwargs)  # type: ignore[arg-type]
    assert server.last_request.json["tool_choice"] == expected


def test_a_tool_choice_naming_no_given_tool_fails_before_sending(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    with pytest.raises(InvalidParameterError, match=r"'get_time', which is not among"):
        llm.chat_with_tools([WEATHER], user_msg="what now?", tool_choice="get_time")
    assert server.requests == []


def test_allow_parallel_tool_calls_is_sent(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    llm.chat_with_tools([WEATHER], user_msg="weather?", allow_parallel_tool_calls=True)
    assert server.last_request.json["parallel_tool_calls"] is True


def test_no_tools_sends_no_tool_fields(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    llm.chat_with_tools([], user_msg="hi")
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(server.last_request.json)


def test_streamed_tool_call_is_assembled_by_index(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    chunks = list(llm.stream_chat_with_tools([WEATHER], user_msg="weather in 'Rome'?"))
    assert len(chunks) > 2
    # partial chunks never raise and end with the full call
    for chunk in chunks:
        llm.get_tool_calls_from_response(chunk, error_on_no_tool_call=False)
    calls = llm.get_tool_calls_from_response(chunks[-1])
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "Rome"})]
    assert server.last_request.json["stream"] is True


def test_async_streamed_tool_call(llm: NovitaAI) -> None:
    async def main() -> ChatResponse:
        last = None
        async for chunk in await llm.astream_chat_with_tools(
            [WEATHER], user_msg="weather in 'Oslo'?"
        ):
            last = chunk
        assert last is not None
        return last

    calls = llm.get_tool_calls_from_response(asyncio.run(main()))
    assert calls[0].tool_kwargs == {"city": "Oslo"}


def test_no_tool_call_raises_only_when_asked(llm: NovitaAI) -> None:
    response = llm.chat([ChatMessage(role="user", content="just talk")])
    with pytest.raises(ValueError, match="tool call"):
        llm.get_tool_calls_from_response(response)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


def test_validate_keeps_one_call_unless_parallel(llm: NovitaAI) -> None:
    def response() -> ChatResponse:
        return ChatResponse(
            message=ChatMessage(
                role="assistant",
                blocks=[
                    ToolCallBlock(tool_call_id="a", tool_name="get_weather", tool_kwargs={}),
                    ToolCallBlock(tool_call_id="b", tool_name="get_time", tool_kwargs={}),
                ],
            )
        )

    single = llm._validate_chat_with_tools_response(response(), [WEATHER, TIME])
    assert [c.tool_id for c in llm.get_tool_calls_from_response(single)] == ["a"]
    both = llm._validate_chat_with_tools_response(
        response(), [WEATHER, TIME], allow_parallel_tool_calls=True
    )
    assert len(llm.get_tool_calls_from_response(both)) == 2


def test_predict_and_call_runs_the_tool(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    result = llm.predict_and_call([WEATHER], user_msg="weather in 'Lima'?")
    assert result.response == "sunny in Lima"


def test_structured_predict_into_pydantic(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    from llama_index.core.prompts import PromptTemplate

    prompt = PromptTemplate("Extract the invoice: {text}")
    invoice = llm.structured_predict(Invoice, prompt, text="'ACME Corp' owes 120.5 dollars")
    assert isinstance(invoice, Invoice)
    assert invoice.amount == 120.5
    assert server.last_request.json["tool_choice"] == "required"

    ainvoice = asyncio.run(
        llm.astructured_predict(Invoice, prompt, text="'ACME Corp' owes 120.5 dollars")
    )
    assert ainvoice == invoice

    partials = list(llm.stream_structured_predict(Invoice, prompt, text="'Bob' owes 7 dollars"))
    final = partials[-1]
    assert isinstance(final, Invoice)
    assert final.amount == 7


def test_as_structured_llm(llm: NovitaAI) -> None:
    sllm = llm.as_structured_llm(Invoice)
    response = sllm.chat([ChatMessage(role="user", content="'Zed Ltd' owes 99 dollars")])
    assert isinstance(response.raw, Invoice)
    assert response.raw.amount == 99


def test_reasoning_model_tool_call_keeps_thinking(make_llm: Callable[..., NovitaAI]) -> None:
    llm = make_llm(model="deepseek/deepseek-r1-0528")
    response = llm.chat_with_tools([WEATHER], user_msg="weather in 'Paris'?")
    assert llm.get_tool_calls_from_response(response)[0].tool_kwargs == {"city": "Paris"}
    assert "reasoning_content" in response.message.additional_kwargs


def test_structured_predict_uses_json_schema_where_the_model_has_it(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = make_llm(model="deepseek/deepseek-v4-flash")  # structured outputs in the catalog
    prompt = PromptTemplate("Extract the invoice: {text}")
    invoice = llm.structured_predict(Invoice, prompt, text="'ACME Corp' owes 120.5 dollars")
    assert isinstance(invoice, Invoice)
    assert invoice.amount == 120.5
    body = server.last_request.json
    assert "tools" not in body and "tool_choice" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Invoice"
    assert body["response_format"]["json_schema"]["schema"] == Invoice.model_json_schema()
    ainvoice = asyncio.run(
        llm.astructured_predict(Invoice, prompt, text="'ACME Corp' owes 120.5 dollars")
    )
    assert ainvoice == invoice


def test_tools_on_a_model_that_cannot_call_them_fail_before_any_request(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(model="meta-llama/llama-3.1-8b-instruct")
    assert llm.metadata.is_function_calling_model is False
    with pytest.raises(ValueError, match=r"llama-3.1-8b-instruct.*cannot call tools.*deepseek"):
        llm.predict_and_call([WEATHER], user_msg="weather in 'Lima'?")
    with pytest.raises(ValueError, match="cannot call tools"):
        llm.chat_with_tools([WEATHER], user_msg="weather?")
    assert server.requests == []
