"""Retries LangChain callbacks can see: ``on_retry`` once per retry, over HTTP with real faults."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import openai
import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from tenacity import RetryCallState

from langchain_novita import ChatNovita, Novita
from novita_core import RetryPolicy
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
QUICK = RetryPolicy(initial_backoff=0.01)


class Retries(BaseCallbackHandler):
    """Records the failed attempt number of each ``on_retry``."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    def on_retry(self, retry_state: RetryCallState, *, run_id: UUID, **kwargs: Any) -> Any:
        self.attempts.append(retry_state.attempt_number)


class AsyncRetries(AsyncCallbackHandler):
    """The async handler's ``on_retry`` is awaited by the retry loop."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    async def on_retry(self, retry_state: RetryCallState, *, run_id: UUID, **kwargs: Any) -> None:
        self.attempts.append(retry_state.attempt_number)


def _faults(server: OfflineNovitaServer) -> None:
    server.inject(Fault.status(429, retry_after_ms=5), times=1)
    server.inject(Fault.status(503, retry_after_ms=5), times=1)


def _sent(server: OfflineNovitaServer, path: str) -> int:
    return sum(1 for r in server.requests if r.path.endswith(path))


def _make(cls: type[Any], server: OfflineNovitaServer, **kwargs: Any) -> Any:
    kwargs = {"model": MODEL, "retry_policy": QUICK, "max_retries": 2, **kwargs}
    return cls(api_key=server.api_key, base_url=server.base_url, **kwargs)


def _text(answer: Any) -> str:
    return (answer if isinstance(answer, str) else str(answer.content)).strip()


# langchain-core streams a chat model (``stream`` and ``streaming=True``) through ``_stream``
# without the run's callback manager, so only ChatNovita's non-streamed retries can reach the
# callbacks (as with ChatFireworks); BaseLLM passes it, so Novita's streamed retries do too.
STREAMED = [(ChatNovita, "/chat/completions", False), (Novita, "/completions", False)]
STREAMED += [(Novita, "/completions", True)]
STREAMED_IDS = ["ChatNovita", "Novita", "Novita-streaming"]


@pytest.mark.parametrize(("cls", "path", "streaming"), STREAMED, ids=STREAMED_IDS)
def test_each_retry_reaches_the_callbacks(
    server: OfflineNovitaServer, cls: type[Any], path: str, streaming: bool
) -> None:
    _faults(server)
    handler = Retries()
    answer = _make(cls, server, streaming=streaming).invoke("Hi", config={"callbacks": [handler]})
    assert _text(answer) == "Echo: Hi"
    assert handler.attempts == [1, 2]
    assert _sent(server, path) == 3
    assert [r.json.get("stream", False) for r in server.requests] == [streaming] * 3


@pytest.mark.parametrize(("cls", "path", "streaming"), STREAMED, ids=STREAMED_IDS)
async def test_each_async_retry_reaches_the_async_callbacks(
    server: OfflineNovitaServer, cls: type[Any], path: str, streaming: bool
) -> None:
    _faults(server)
    handler = AsyncRetries()
    model = _make(cls, server, streaming=streaming)
    answer = await model.ainvoke("Hi", config={"callbacks": [handler]})
    assert _text(answer) == "Echo: Hi"
    assert handler.attempts == [1, 2]
    assert _sent(server, path) == 3
    assert [r.json.get("stream", False) for r in server.requests] == [streaming] * 3


def test_novita_stream_retries_reach_the_callbacks(server: OfflineNovitaServer) -> None:
    _faults(server)
    handler = Retries()
    text = "".join(_make(Novita, server).stream("Hi", config={"callbacks": [handler]}))
    assert text.strip() == "Echo: Hi"
    assert handler.attempts == [1, 2]
    assert _sent(server, "/completions") == 3


async def test_novita_astream_retries_reach_the_async_callbacks(
    server: OfflineNovitaServer,
) -> None:
    _faults(server)
    handler = AsyncRetries()
    pieces = [p async for p in _make(Novita, server).astream("Hi", config={"callbacks": [handler]})]
    assert "".join(pieces).strip() == "Echo: Hi"
    assert handler.attempts == [1, 2]
    assert _sent(server, "/completions") == 3


def test_no_retry_no_callback_and_a_policy_can_exclude_a_status(
    server: OfflineNovitaServer,
) -> None:
    handler = Retries()
    model = _make(ChatNovita, server, retry_policy=RetryPolicy(server_errors=False))
    model.invoke("Hi", config={"callbacks": [handler]})
    assert handler.attempts == []
    server.inject(Fault.status(503, retry_after_ms=5), times=1)
    with pytest.raises(openai.InternalServerError):
        model.invoke("Hi", config={"callbacks": [handler]})
    assert handler.attempts == []
    assert _sent(server, "/chat/completions") == 2


def test_the_callbacks_see_the_last_allowed_retry_only(server: OfflineNovitaServer) -> None:
    server.inject(Fault.status(503, retry_after_ms=5), times=3)
    handler = Retries()
    with pytest.raises(openai.InternalServerError):
        _make(ChatNovita, server, max_retries=1).invoke("Hi", config={"callbacks": [handler]})
    assert handler.attempts == [1]
    assert _sent(server, "/chat/completions") == 2


async def test_novita_ainvoke_honours_streaming(server: OfflineNovitaServer) -> None:
    model = _make(Novita, server, streaming=True)
    tokens: list[str] = []

    class Tokens(AsyncCallbackHandler):
        async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    answer = await model.ainvoke("Hi", config={"callbacks": [Tokens()]})
    assert answer == model.invoke("Hi")
    assert [r.json.get("stream") for r in server.requests] == [True, True]
    assert "".join(tokens) == answer
    assert len(tokens) > 1
