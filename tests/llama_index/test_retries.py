"""Retries LlamaIndex instrumentation can see: one ``NovitaRetryEvent`` per retry, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import ChatMessage

from llama_index_novita import NovitaAI, NovitaEmbedding
from llama_index_novita.events import NovitaRetryEvent
from novita_core import RetryPolicy
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
QUICK = RetryPolicy(initial_backoff=0.01)
MESSAGES = [ChatMessage(role="user", content="Hi")]


class _Retries(BaseEventHandler):
    events: list[NovitaRetryEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Retries"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, NovitaRetryEvent):
            self.events.append(event)


@pytest.fixture
def retries() -> Iterator[_Retries]:
    root = get_dispatcher()
    handler = _Retries(events=[])
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers.remove(handler)


def _llm(server: OfflineNovitaServer, **kwargs: Any) -> NovitaAI:
    kwargs = {"model": MODEL, "retry_policy": QUICK, "max_retries": 2, **kwargs}
    return NovitaAI(api_key=server.api_key, api_base=server.base_url, **kwargs)


async def _astream_chat(llm: NovitaAI) -> str:
    return [r async for r in await llm.astream_chat(MESSAGES)][-1].message.content or ""


async def _astream_complete(llm: NovitaAI) -> str:
    return [r async for r in await llm.astream_complete("Hi")][-1].text


CALLS: dict[str, tuple[str, Callable[[NovitaAI], Any], bool]] = {
    "chat": ("/chat/completions", lambda llm: llm.chat(MESSAGES).message.content, False),
    "achat": ("/chat/completions", lambda llm: _run(llm.achat(MESSAGES)).message.content, False),
    "stream_chat": (
        "/chat/completions",
        lambda llm: list(llm.stream_chat(MESSAGES))[-1].message.content,
        False,
    ),
    "astream_chat": ("/chat/completions", lambda llm: _run(_astream_chat(llm)), False),
    "complete": ("/completions", lambda llm: llm.complete("Hi").text, True),
    "stream_complete": ("/completions", lambda llm: list(llm.stream_complete("Hi"))[-1].text, True),
    "astream_complete": ("/completions", lambda llm: _run(_astream_complete(llm)), True),
}


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize("call", list(CALLS))
def test_each_retry_is_an_instrumentation_event(
    server: OfflineNovitaServer, retries: _Retries, call: str
) -> None:
    path, run, completion_model = CALLS[call]
    server.inject(Fault.status(429, retry_after_ms=5), times=1)
    server.inject(Fault.status(503, retry_after_ms=5), times=1)
    llm = _llm(server, is_chat_model=not completion_model)
    answer = run(llm)
    assert str(answer).strip() == "Echo: Hi"
    assert [(e.attempt, e.error) for e in retries.events] == [(1, "HTTP 429"), (2, "HTTP 503")]
    assert all(e.wait == pytest.approx(0.005) for e in retries.events)
    assert [r.path.endswith(path) for r in server.requests] == [True] * 3


def test_embedding_retries_are_events(server: OfflineNovitaServer, retries: _Retries) -> None:
    server.inject(Fault.reset(), times=1)
    embed = NovitaEmbedding(
        api_key=server.api_key, api_base=server.base_url, retry_policy=QUICK, max_retries=1
    )
    assert len(embed.get_text_embedding("Hi")) > 0
    assert len(_run(embed.aget_text_embedding("Hi"))) > 0
    assert [e.attempt for e in retries.events] == [1]
    assert retries.events[0].error.startswith("API")  # a connection error, by its type name
    assert 0.005 <= retries.events[0].wait <= 0.01  # the policy's backoff: no Retry-After
    assert len(server.requests) == 3


def test_no_event_without_a_retry(server: OfflineNovitaServer, retries: _Retries) -> None:
    server.inject(Fault.status(503, retry_after_ms=5), times=1)
    llm = _llm(server, retry_policy=RetryPolicy(server_errors=False))
    with pytest.raises(openai.InternalServerError):
        llm.chat(MESSAGES)
    assert retries.events == []
    assert len(server.requests) == 1
