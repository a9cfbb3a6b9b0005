"""NovitaAI through Novita's Batch API, against the offline server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from llama_index_novita import NovitaAI
from novita_core.batch import BatchLineError
from novita_core.params import InvalidParameterError
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
BATCH_ID = "batch_offline_000002"


def routes(server: OfflineNovitaServer) -> list[str]:
    return [f"{r.method} {r.path.removeprefix('/v3/openai')}" for r in server.requests]


def lines(server: OfflineNovitaServer) -> list[dict[str, Any]]:
    content = server.batches.files["file-offline-000001"].content
    return [json.loads(line) for line in content.splitlines()]


HAPPY_ROUTES = [
    "POST /files",
    "POST /batches",
    f"GET /batches/{BATCH_ID}",
    f"GET /batches/{BATCH_ID}",
    "GET /files/file-offline-000003/content",
]


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


@pytest.fixture
def novita(make_llm: Callable[..., NovitaAI]) -> NovitaAI:
    return make_llm(model=MODEL, temperature=0.1, top_k=3)


def test_batch_api_chat_sends_live_bodies_and_returns_chat_responses_in_order(
    novita: NovitaAI, server: OfflineNovitaServer
) -> None:
    chats = [user(f"q{i}") for i in range(5)]
    out = novita.batch_api_chat(chats, poll_interval=0.001, max_tokens=20)
    assert [r.message.content for r in out] == [f"Echo: q{i}" for i in range(5)]
    assert all(isinstance(r, ChatResponse) for r in out)
    assert out[0].additional_kwargs["total_tokens"] > 0
    assert routes(server) == HAPPY_ROUTES
    body = lines(server)[0]["body"]
    novita.chat(chats[0], max_tokens=20)
    assert server.last_request.json == body
    assert server.requests[1].json["endpoint"] == "/v1/chat/completions"


def test_batch_api_complete_on_a_chat_model(novita: NovitaAI, server: OfflineNovitaServer) -> None:
    out = novita.batch_api_complete(["Say hi", "Say bye"], poll_interval=0.001)
    assert [r.text for r in out] == ["Echo: Say hi", "Echo: Say bye"]
    assert all(isinstance(r, CompletionResponse) for r in out)
    assert lines(server)[1]["body"]["messages"] == [{"role": "user", "content": "Say bye"}]


def test_completion_model_uses_the_completions_batch(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(model=MODEL, is_chat_model=False)
    out = llm.batch_api_complete(["Once"], poll_interval=0.001)
    assert out[0].text == " Echo: Once"
    assert lines(server)[0]["url"] == "/v1/completions"
    chats = llm.batch_api_chat([user("hi")], poll_interval=0.001)
    assert chats[0].message.content.startswith(" Echo:")


async def test_async_chat_and_complete(novita: NovitaAI, server: OfflineNovitaServer) -> None:
    out = await novita.abatch_api_chat([user("a"), user("b")], poll_interval=0.001)
    assert [r.message.content for r in out] == ["Echo: a", "Echo: b"]
    assert routes(server) == HAPPY_ROUTES
    done = await novita.abatch_api_complete(["c"], poll_interval=0.001)
    assert done[0].text == "Echo: c"


def test_failed_lines_raise_after_the_batch_or_stay_in_place(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(model="nobody/none")
    with pytest.raises(BatchLineError, match="MODEL_NOT_FOUND"):
        llm.batch_api_chat([user("a"), user("b")], poll_interval=0.001)
    assert routes(server)[-1].endswith("/content")
    out = llm.batch_api_complete(["a", "b"], poll_interval=0.001, return_exceptions=True)
    kinds: list[type] = [type(r) for r in out]
    assert kinds == [BatchLineError, BatchLineError]


def test_verbs_submit_status_retrieve_cancel(novita: NovitaAI, server: OfflineNovitaServer) -> None:
    batch_id = novita.batch_api_submit([user("x"), "y"])
    assert novita.batch_api_status(batch_id)["status"] == "in_progress"
    out = novita.batch_api_retrieve(batch_id, poll_interval=0.001)
    assert [r.message.content for r in out] == ["Echo: x", "Echo: y"]
    other = novita.batch_api_submit(["z"])
    assert novita.batch_api_cancel(other)["status"] == "cancelling"
    cancelled = novita.batch_api_retrieve(other, return_exceptions=True)
    assert isinstance(cancelled[0], BatchLineError)


async def test_async_verbs(novita: NovitaAI) -> None:
    batch_id = await novita.abatch_api_submit(["x"])
    assert (await novita.abatch_api_status(batch_id))["request_counts"]["total"] == 1
    out = await novita.abatch_api_retrieve(batch_id, poll_interval=0.001)
    assert out[0].message.content == "Echo: x"
    other = await novita.abatch_api_submit(["z"])
    assert (await novita.abatch_api_cancel(other))["status"] == "cancelling"


def test_validation_before_any_upload(novita: NovitaAI, server: OfflineNovitaServer) -> None:
    with pytest.raises(InvalidParameterError, match="top_p"):
        novita.batch_api_chat([user("a")], top_p=5)
    with pytest.raises(InvalidParameterError, match="at least one"):
        novita.batch_api_submit([])
    assert server.requests == []


@pytest.mark.parametrize(
    ("path", "before", "extra"),
    # A retried create lists the batches first: one more request.
    [("/files", 0, 1), ("/batches", 1, 2), (f"/batches/{BATCH_ID}", 2, 1), ("/content", 4, 1)],
)
def test_401_and_5xx_per_step(
    novita: NovitaAI, server: OfflineNovitaServer, path: str, before: int, extra: int
) -> None:
    server.inject(Fault.status(500, retry_after_ms=1, path=path))
    assert novita.batch_api_chat([user("a")], poll_interval=0.001)[0].message.content
    assert len(server.requests) == len(HAPPY_ROUTES) + extra
    server.reset()
    server.inject(Fault.status(401, path=path.replace(BATCH_ID, "batch_offline_000005")))
    with pytest.raises(openai.AuthenticationError):
        novita.batch_api_chat([user("a")], poll_interval=0.001)
    assert len(server.requests) == before + 1
