"""NovitaAI as Novita is today: metadata, reasoning controls, cost, access errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from llama_index.core.base.llms.types import ThinkingBlock
from llama_index.core.llms import ChatMessage

from llama_index_novita import NovitaAI
from novita_core.catalog import clear_cache
from novita_core.testing import Fault, OfflineNovitaServer
from tests.replies import CACHED_USAGE, chat_completion

SOURCE = Path(__file__).resolve().parents[2] / "tools" / "data" / "novita-models.json"
USER = [ChatMessage(role="user", content="plan a trip")]


@pytest.fixture(autouse=True)
def _fresh_listings() -> Any:
    clear_cache()
    yield
    clear_cache()


def test_metadata_of_every_model_in_the_data_without_a_request(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    for entry in json.loads(SOURCE.read_text())["models"]:
        meta = make_llm(model=entry["id"]).metadata
        assert meta.context_window == entry["limit"]["context"], entry["id"]
        assert meta.is_function_calling_model is entry["tool_call"]
        assert 0 < meta.num_output <= entry["limit"]["output"]
    assert server.requests == []


def test_metadata_never_waits_for_a_hanging_listing(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    server.inject(Fault.stall(30, path="/models"))
    llm = make_llm(model_listing=True)
    for _ in range(3):
        assert llm.metadata.context_window > 0
        assert llm.to_payload()["model_name"] == llm.model
    assert server.requests == []


def test_the_listing_wins_for_models_built_after_the_first_call(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    model = "meta-llama/llama-3.1-8b-instruct"
    server.add_model(model, context_size=131072, tool_calling=True)
    before = make_llm(model=model, model_listing=True)
    assert before.metadata.is_function_calling_model is False
    asyncio.run(before.achat(USER))  # the async path reads it too, without blocking the loop
    assert [r.method for r in server.requests] == ["GET", "POST"]
    after = make_llm(model=model)
    assert after.metadata.is_function_calling_model is True
    assert after.metadata.context_window == 131072


def test_reasoning_controls_reach_the_wire(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(
        model="deepseek/deepseek-v4-flash",
        thinking={"type": "disabled"},
        reasoning_effort="low",
        max_completion_tokens=40,
    )
    assert llm.max_tokens == 40
    response = llm.chat(USER)
    body = server.last_request.json
    assert body["thinking"] == {"type": "disabled"}
    assert body["reasoning_effort"] == "low"
    assert body["max_tokens"] == 40 and "max_completion_tokens" not in body
    assert not any(isinstance(b, ThinkingBlock) for b in response.message.blocks)
    llm.chat(USER, max_completion_tokens=5, enable_thinking=True)
    body = server.last_request.json
    assert (body["max_tokens"], body["enable_thinking"]) == (5, True)
    make_llm(additional_kwargs={"max_completion_tokens": 6, "separate_reasoning": True}).chat(USER)
    body = server.last_request.json
    assert (body["max_tokens"], body["separate_reasoning"]) == (6, True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reasoning_effort": "max"}, r"reasoning_effort for deepseek/deepseek-v4-flash"),
        ({"thinking": {"type": "on"}}, r"thinking\['type'\] must be one of"),
        ({"additional_kwargs": {"thinking": "off"}}, "thinking must be a dict"),
        ({"additional_kwargs": {"reasoning_effort": "max"}}, "reasoning_effort for"),
    ],
)
def test_bad_reasoning_controls_fail_before_any_request(
    make_llm: Callable[..., NovitaAI],
    server: OfflineNovitaServer,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        make_llm(model="deepseek/deepseek-v4-flash", **kwargs)
    llm = make_llm(model="deepseek/deepseek-v4-flash")
    call = kwargs.get("additional_kwargs", kwargs)
    with pytest.raises(ValueError, match=message):
        llm.chat(USER, **call)
    assert server.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_inline_think_becomes_a_thinking_block(
    make_llm: Callable[..., NovitaAI], stream: bool
) -> None:
    llm = make_llm(model="qwen/qwen3-8b-fp8")
    if stream:
        chunks = list(llm.stream_chat(USER))
        thinking = "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks)
        assert "".join(c.delta or "" for c in chunks) == "Echo: plan a trip"
        assert thinking == "Thinking about: plan a trip\n"
        message = chunks[-1].message
    else:
        message = llm.chat(USER).message
    assert message.content == "Echo: plan a trip"
    blocks = [b for b in message.blocks if isinstance(b, ThinkingBlock)]
    assert blocks and blocks[0].content == "Thinking about: plan a trip\n"


def test_cached_tokens_and_cost(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(model="deepseek/deepseek-v4-flash")  # 0.14 / 0.28 / 0.028 cache read
    history = [ChatMessage(role="system", content="You answer tersely and well.")]
    first = llm.chat([*history, ChatMessage(role="user", content="first")])
    assert "cached_tokens" not in first.additional_kwargs
    answer = chat_completion(llm.model, {"content": "second answer"}, usage=CACHED_USAGE)
    server.script(json=answer)
    second = llm.chat([*history, ChatMessage(role="user", content="first"), first.message, USER[0]])
    extra = second.additional_kwargs
    cached = extra["cached_tokens"]
    assert cached == 12
    expected = (
        (extra["prompt_tokens"] - cached) * 0.14
        + cached * 0.028
        + extra["completion_tokens"] * 0.28
    ) / 1e6
    assert extra["cost_usd"] == pytest.approx(expected)
    assert list(llm.stream_chat(USER))[-1].additional_kwargs["cost_usd"] > 0


def test_no_cost_without_prices(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    server.add_model("acme/unpriced")
    response = make_llm(model="acme/unpriced").chat(USER)
    assert response.additional_kwargs["total_tokens"] > 0
    assert "cost_usd" not in response.additional_kwargs


@pytest.mark.parametrize("reason", ["model_access_denied", "NOT_ENOUGH_BALANCE"])
def test_permission_errors_are_typed_and_not_retried(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer, reason: str
) -> None:
    llm = make_llm(max_retries=2)
    if reason == "model_access_denied":
        server.deny_model(llm.model)
    else:
        server.inject(Fault.status(403, reason=reason, message="top up your account"))
    with pytest.raises(openai.PermissionDeniedError, match=reason):
        llm.chat(USER)
    assert len(server.requests) == 1
