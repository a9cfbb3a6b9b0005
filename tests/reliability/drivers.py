"""One table of "drivers": adapter x mode -> a callable that makes one call through the adapter.

Every driver has the same shape, so a fault-matrix row is one test parametrized over the table:

    driver.run(server, prompt, init={...}, call={...}, sink=[...]) -> answer

``init`` goes to the constructor (``max_retries``, ``timeout`` ...), ``call`` to the call itself
(per-call request parameters), and streaming drivers append each piece of text to ``sink`` as it
reaches the caller, so a test can see what arrived before an error. The answer is the text
(streams: the joined pieces) or, for embeddings, the vector. Async drivers run their own event
loop with ``asyncio.run``, like a script would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llama_index.core.llms import ChatMessage

from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core import RetryPolicy
from novita_core.testing import OfflineNovitaServer

Answer = Any  # str for text, list[float] for embeddings
Run = Callable[[OfflineNovitaServer, str, dict[str, Any], dict[str, Any], list[str]], Answer]

QUICK_BACKOFF = 0.02
QUICK_RETRIES = RetryPolicy(initial_backoff=QUICK_BACKOFF)
"""Every driver's policy (unless ``init`` names another): exponential backoff starts at
QUICK_BACKOFF s instead of 0.25 s, the rest is the default policy."""

CHAT_PATH = "/chat/completions"
COMPLETIONS_PATH = "/completions"
EMBEDDINGS_PATH = "/embeddings"


@dataclass(frozen=True)
class Driver:
    adapter: str
    mode: str  # "sync" | "async" | "stream" | "astream"
    path: str
    fn: Run

    @property
    def id(self) -> str:
        return f"{self.adapter}-{self.mode}"

    @property
    def streaming(self) -> bool:
        return self.mode in ("stream", "astream")

    @property
    def embedding(self) -> bool:
        return self.path == EMBEDDINGS_PATH

    def run(
        self,
        server: OfflineNovitaServer,
        prompt: str,
        *,
        init: dict[str, Any] | None = None,
        call: dict[str, Any] | None = None,
        sink: list[str] | None = None,
    ) -> Answer:
        return self.fn(
            server, prompt, dict(init or {}), dict(call or {}), [] if sink is None else sink
        )

    def expected(self, prompt: str) -> str:
        """The offline server's deterministic text answer to ``prompt``."""
        return f"Echo: {prompt}"


# -- constructors ----------------------------------------------------------------------------


CHAT_MODEL = "meta-llama/llama-3.3-70b-instruct"
"""A chat model without reasoning: every streamed chunk is answer text the drivers can collect."""


def _lc_kwargs(server: OfflineNovitaServer, init: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_key": server.api_key,
        "base_url": server.base_url,
        "retry_policy": QUICK_RETRIES,
        **init,
    }


def _li_kwargs(server: OfflineNovitaServer, init: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_key": server.api_key,
        "api_base": server.base_url,
        "retry_policy": QUICK_RETRIES,
        **init,
    }


def lc_chat(server: OfflineNovitaServer, init: dict[str, Any]) -> ChatNovita:
    return ChatNovita(**_lc_kwargs(server, {"model": CHAT_MODEL, **init}))


def lc_llm(server: OfflineNovitaServer, init: dict[str, Any]) -> Novita:
    return Novita(**_lc_kwargs(server, {"model": CHAT_MODEL, **init}))


def li_llm(server: OfflineNovitaServer, init: dict[str, Any]) -> NovitaAI:
    return NovitaAI(**_li_kwargs(server, {"model": CHAT_MODEL, **init}))


def li_completion_llm(server: OfflineNovitaServer, init: dict[str, Any]) -> NovitaAI:
    # is_chat_model=False: complete() goes to /completions rather than through chat.
    return NovitaAI(**_li_kwargs(server, {"model": CHAT_MODEL, "is_chat_model": False, **init}))


def lc_embed(server: OfflineNovitaServer, init: dict[str, Any]) -> NovitaEmbeddings:
    return NovitaEmbeddings(**_lc_kwargs(server, init))


def li_embed(server: OfflineNovitaServer, init: dict[str, Any]) -> NovitaEmbedding:
    return NovitaEmbedding(**_li_kwargs(server, init))


def _messages(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=prompt)]


# -- ChatNovita ------------------------------------------------------------------------------


def _lc_chat_sync(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    return lc_chat(s, init).invoke(p, **call).content


def _lc_chat_async(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = lc_chat(s, init)

    async def go() -> Any:
        return (await llm.ainvoke(p, **call)).content

    return asyncio.run(go())


def _lc_chat_stream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    for chunk in lc_chat(s, init).stream(p, **call):
        sink.append(str(chunk.content))
    return "".join(sink)


def _lc_chat_astream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = lc_chat(s, init)

    async def go() -> str:
        async for chunk in llm.astream(p, **call):
            sink.append(str(chunk.content))
        return "".join(sink)

    return asyncio.run(go())


# -- Novita (completions) --------------------------------------------------------------------


def _lc_llm_sync(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    return lc_llm(s, init).invoke(p, **call)


def _lc_llm_async(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = lc_llm(s, init)
    return asyncio.run(llm.ainvoke(p, **call))


def _lc_llm_stream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    for piece in lc_llm(s, init).stream(p, **call):
        sink.append(piece)
    return "".join(sink)


def _lc_llm_astream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = lc_llm(s, init)

    async def go() -> str:
        async for piece in llm.astream(p, **call):
            sink.append(piece)
        return "".join(sink)

    return asyncio.run(go())


# -- NovitaAI chat ---------------------------------------------------------------------------


def _li_chat_sync(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    return li_llm(s, init).chat(_messages(p), **call).message.content


def _li_chat_async(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = li_llm(s, init)

    async def go() -> Any:
        return (await llm.achat(_messages(p), **call)).message.content

    return asyncio.run(go())


def _li_chat_stream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    last = None
    for last in li_llm(s, init).stream_chat(_messages(p), **call):
        sink.append(last.delta or "")
    assert last is not None
    assert last.message.content == "".join(sink)
    return last.message.content


def _li_chat_astream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = li_llm(s, init)

    async def go() -> Any:
        last = None
        async for last in await llm.astream_chat(_messages(p), **call):
            sink.append(last.delta or "")
        assert last is not None
        assert last.message.content == "".join(sink)
        return last.message.content

    return asyncio.run(go())


# -- NovitaAI complete (completions endpoint) -------------------------------------------------


def _li_complete_sync(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    return li_completion_llm(s, init).complete(p, **call).text


def _li_complete_async(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = li_completion_llm(s, init)

    async def go() -> Any:
        return (await llm.acomplete(p, **call)).text

    return asyncio.run(go())


def _li_complete_stream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    last = None
    for last in li_completion_llm(s, init).stream_complete(p, **call):
        sink.append(last.delta or "")
    assert last is not None
    assert last.text == "".join(sink)
    return last.text


def _li_complete_astream(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    llm = li_completion_llm(s, init)

    async def go() -> Any:
        last = None
        async for last in await llm.astream_complete(p, **call):
            sink.append(last.delta or "")
        assert last is not None
        assert last.text == "".join(sink)
        return last.text

    return asyncio.run(go())


# -- embeddings ------------------------------------------------------------------------------


def _lc_embed_sync(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    (vector,) = lc_embed(s, init).embed_documents([p])
    return vector


def _lc_embed_async(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    embed = lc_embed(s, init)
    (vector,) = asyncio.run(embed.aembed_documents([p]))
    return vector


def _li_embed_sync(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    return li_embed(s, init).get_text_embedding(p)


def _li_embed_async(s: Any, p: str, init: Any, call: Any, sink: list[str]) -> Answer:
    embed = li_embed(s, init)
    return asyncio.run(embed.aget_text_embedding(p))


LLM_DRIVERS = [
    Driver("ChatNovita", "sync", CHAT_PATH, _lc_chat_sync),
    Driver("ChatNovita", "async", CHAT_PATH, _lc_chat_async),
    Driver("ChatNovita", "stream", CHAT_PATH, _lc_chat_stream),
    Driver("ChatNovita", "astream", CHAT_PATH, _lc_chat_astream),
    Driver("Novita", "sync", COMPLETIONS_PATH, _lc_llm_sync),
    Driver("Novita", "async", COMPLETIONS_PATH, _lc_llm_async),
    Driver("Novita", "stream", COMPLETIONS_PATH, _lc_llm_stream),
    Driver("Novita", "astream", COMPLETIONS_PATH, _lc_llm_astream),
    Driver("NovitaAI.chat", "sync", CHAT_PATH, _li_chat_sync),
    Driver("NovitaAI.chat", "async", CHAT_PATH, _li_chat_async),
    Driver("NovitaAI.chat", "stream", CHAT_PATH, _li_chat_stream),
    Driver("NovitaAI.chat", "astream", CHAT_PATH, _li_chat_astream),
    Driver("NovitaAI.complete", "sync", COMPLETIONS_PATH, _li_complete_sync),
    Driver("NovitaAI.complete", "async", COMPLETIONS_PATH, _li_complete_async),
    Driver("NovitaAI.complete", "stream", COMPLETIONS_PATH, _li_complete_stream),
    Driver("NovitaAI.complete", "astream", COMPLETIONS_PATH, _li_complete_astream),
]
EMBEDDING_DRIVERS = [
    Driver("NovitaEmbeddings", "sync", EMBEDDINGS_PATH, _lc_embed_sync),
    Driver("NovitaEmbeddings", "async", EMBEDDINGS_PATH, _lc_embed_async),
    Driver("NovitaEmbedding", "sync", EMBEDDINGS_PATH, _li_embed_sync),
    Driver("NovitaEmbedding", "async", EMBEDDINGS_PATH, _li_embed_async),
]
ALL_DRIVERS = LLM_DRIVERS + EMBEDDING_DRIVERS
STREAM_DRIVERS = [d for d in LLM_DRIVERS if d.streaming]
NON_STREAM_DRIVERS = [d for d in ALL_DRIVERS if not d.streaming]
