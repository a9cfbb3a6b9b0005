"""ChatNovita and Novita as Novita is today: profiles, reasoning controls, cost, access errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_core.tools import tool
from pydantic import BaseModel

from langchain_novita import ChatNovita, Novita
from novita_core.catalog import DEFAULT_CHAT_MODEL, clear_cache
from novita_core.testing import Fault, OfflineNovitaServer
from tests.replies import CACHED_USAGE, chat_completion

SOURCE = Path(__file__).resolve().parents[2] / "tools" / "data" / "novita-models.json"
NO_TOOLS = "meta-llama/llama-3.1-8b-instruct"
PLAIN = "meta-llama/llama-3.3-70b-instruct"  # tools, no structured outputs, no reasoning
INLINE_THINK = "qwen/qwen3-8b-fp8"


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Movie(BaseModel):
    title: str
    year: int


@pytest.fixture(autouse=True)
def _fresh_listings() -> Any:
    clear_cache()
    yield
    clear_cache()


def test_profile_of_every_model_in_the_data_without_a_request(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    entries = json.loads(SOURCE.read_text())["models"]
    for entry in entries:
        profile = ChatNovita(**connect, model=entry["id"]).profile
        assert profile is not None, entry["id"]
        assert profile["max_input_tokens"] == entry["limit"]["context"]
        assert profile["max_output_tokens"] == entry["limit"]["output"]
        assert profile["tool_calling"] is entry["tool_call"]
        assert profile["tool_choice"] is entry["tool_call"]
        assert profile["reasoning_output"] is entry["reasoning"]
        assert profile["structured_output"] is bool(entry.get("structured_output"))
        assert profile["image_inputs"] is ("image" in entry["modalities"]["input"])
    assert server.requests == []


def test_the_listing_wins_for_models_built_after_the_first_call(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    server.add_model(NO_TOOLS, context_size=131072, tool_calling=True)
    before = ChatNovita(**connect, model=NO_TOOLS, model_listing=True)
    assert before.profile is not None and before.profile["tool_calling"] is False
    before.invoke("hi")
    assert [r.method for r in server.requests] == ["GET", "POST"]
    after = ChatNovita(**connect, model=NO_TOOLS, model_listing=True)
    assert after.profile is not None
    assert after.profile["tool_calling"] is True
    assert after.profile["max_input_tokens"] == 131072
    after.bind_tools([multiply]).invoke("What is 6 times 7?")  # allowed now


def test_profile_never_waits_for_a_hanging_listing(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    server.inject(Fault.stall(30, path="/models"))
    for _ in range(3):
        assert ChatNovita(**connect, model_listing=True).profile is not None
    assert server.requests == []


def test_bind_tools_on_a_model_that_cannot_call_them(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(**connect, model=NO_TOOLS)
    with pytest.raises(ValueError, match=rf"{NO_TOOLS}.*cannot call tools.*{DEFAULT_CHAT_MODEL}"):
        llm.bind_tools([multiply])
    with pytest.raises(ValueError, match="cannot call tools"):
        llm.with_structured_output(Movie, method="function_calling")
    assert server.requests == []


def test_structured_output_default_method_follows_the_catalog(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    movie = ChatNovita(**connect).with_structured_output(Movie).invoke("'Matrix' came out in 1999")
    assert isinstance(movie, Movie)
    body = server.last_request.json
    assert body["response_format"]["type"] == "json_schema" and "tools" not in body
    ChatNovita(**connect, model=PLAIN).with_structured_output(Movie).invoke("'Matrix' in 1999")
    body = server.last_request.json
    assert "response_format" not in body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Movie"}}


def test_reasoning_controls_reach_the_wire(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = ChatNovita(
        **connect, thinking={"type": "disabled"}, reasoning_effort="low", max_completion_tokens=50
    )
    assert llm.max_tokens == 50
    reply = llm.invoke("hello")
    body = server.last_request.json
    assert body["thinking"] == {"type": "disabled"}
    assert body["reasoning_effort"] == "low"
    assert body["max_tokens"] == 50 and "max_completion_tokens" not in body
    assert "reasoning_content" not in reply.additional_kwargs  # thinking is off
    llm.bind(reasoning_effort="high", thinking={"type": "enabled"}).invoke("hello")
    body = server.last_request.json
    assert (body["reasoning_effort"], body["thinking"]) == ("high", {"type": "enabled"})
    llm.invoke("hello", enable_thinking=True, separate_reasoning=True, max_completion_tokens=7)
    body = server.last_request.json
    assert (body["enable_thinking"], body["separate_reasoning"], body["max_tokens"]) == (
        True,
        True,
        7,
    )
    Novita(**connect, max_completion_tokens=9).invoke("Once")
    assert server.last_request.json["max_tokens"] == 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reasoning_effort": "max"}, r"reasoning_effort .* must be one of \['minimal'"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
        ({"thinking": {"type": "on"}}, r"thinking\['type'\] must be one of"),
        ({"thinking": True}, "thinking"),
        ({"max_completion_tokens": 0}, "max_(completion_)?tokens must satisfy"),
    ],
)
def test_bad_reasoning_controls_fail_before_any_request(
    server: OfflineNovitaServer, connect: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ChatNovita(**connect, **kwargs)
    llm = ChatNovita(**connect)
    with pytest.raises(ValueError, match=message):
        llm.invoke("hi", **kwargs)
    with pytest.raises(ValueError, match=message):
        llm.bind(**kwargs)
    assert server.requests == []


def test_a_string_is_not_a_thinking_switch(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="enable_thinking must be a boolean"):
        ChatNovita(**connect, enable_thinking="yes")
    llm = ChatNovita(**connect)
    with pytest.raises(ValueError, match="enable_thinking must be a boolean"):
        llm.invoke("hi", enable_thinking="yes")
    with pytest.raises(ValueError, match="enable_thinking must be a boolean"):
        llm.bind(enable_thinking="yes")
    assert server.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_inline_think_becomes_reasoning(
    server: OfflineNovitaServer, connect: dict[str, Any], stream: bool
) -> None:
    llm = ChatNovita(**connect, model=INLINE_THINK)
    if stream:
        pieces = list(llm.stream("plan a trip"))
        assert all("<think>" not in str(p.content) for p in pieces)
        reply: Any = pieces[0]
        for piece in pieces[1:]:
            reply = reply + piece
    else:
        reply = llm.invoke("plan a trip")
    assert reply.content == "Echo: plan a trip"
    assert reply.additional_kwargs["reasoning_content"] == "Thinking about: plan a trip\n"


def test_cache_reads_and_cost(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    llm = ChatNovita(**connect)  # deepseek-v4-flash: 0.14 / 0.28 / 0.028 cache read
    question = [("system", "You answer tersely and well."), ("human", "first question")]
    first = llm.invoke(question)
    assert "input_token_details" not in (first.usage_metadata or {})
    answer = chat_completion(llm.model, {"content": "second answer"}, usage=CACHED_USAGE)
    server.script(json=answer)
    second = llm.invoke([*question, ("ai", first.content), ("human", "second one")])
    usage = second.usage_metadata
    assert usage is not None
    cached = usage["input_token_details"]["cache_read"]
    assert cached == 12
    expected = (
        (usage["input_tokens"] - cached) * 0.14 + cached * 0.028 + usage["output_tokens"] * 0.28
    ) / 1e6
    assert second.response_metadata["cost_usd"] == pytest.approx(expected)
    streamed: Any = None
    for piece in llm.stream("stream me"):
        streamed = piece if streamed is None else streamed + piece
    assert streamed.response_metadata["cost_usd"] > 0
    assert asyncio.run(llm.ainvoke("async me")).response_metadata["cost_usd"] > 0


def test_no_cost_without_prices(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    server.add_model("acme/unpriced")
    reply = ChatNovita(**connect, model="acme/unpriced").invoke("hi")
    assert reply.usage_metadata is not None
    assert "cost_usd" not in reply.response_metadata


@pytest.mark.parametrize("reason", ["model_access_denied", "NOT_ENOUGH_BALANCE"])
def test_permission_errors_are_typed_and_not_retried(
    server: OfflineNovitaServer, connect: dict[str, Any], reason: str
) -> None:
    if reason == "model_access_denied":
        server.deny_model(PLAIN)
    else:
        server.inject(Fault.status(403, reason=reason, message="top up your account"))
    llm = ChatNovita(**connect, model=PLAIN, max_retries=2)
    with pytest.raises(openai.PermissionDeniedError, match=reason) as caught:
        llm.invoke("hi")
    assert caught.value.status_code == 403
    assert len(server.requests) == 1
