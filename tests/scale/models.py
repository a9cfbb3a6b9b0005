"""One of every model class, and one sync and one async call per class with its exact answer.

The offline server's answers are functions of the input (``"Echo: <prompt>"``, a vector hashed
from the text), so every check below proves the answer belongs to its own request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llama_index.core.llms import ChatMessage
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from langchain_novita import NovitaRerank as LcRerank
from llama_index_novita import NovitaAI, NovitaEmbedding
from llama_index_novita import NovitaRerank as LiRerank
from novita_core.testing import OfflineNovitaServer
from novita_core.testing.replies import embed_text

CHAT_MODEL = "meta-llama/llama-3.3-70b-instruct"
EMBEDDING_MODEL = "baai/bge-m3"
DIMENSIONS = 1024


RERANK_OTHERS = ["an unrelated note", "a shopping list"]
"""Rerank calls rank the query itself among these: the answer is the top document's text."""


@dataclass(frozen=True)
class Kind:
    """A model class, how to build it, and one sync and one async call returning an answer."""

    name: str
    build: Callable[[OfflineNovitaServer], Any]
    call: Callable[[Any, str], Any]
    acall: Callable[[Any, str], Any]  # a coroutine function
    embedding: bool = False
    rerank: bool = False

    def expected(self, text: str) -> Any:
        if self.rerank:
            return text
        return embed_text(text, DIMENSIONS) if self.embedding else f"Echo: {text}"

    def check(self, answer: Any, text: str) -> None:
        expected = self.expected(text)
        if self.embedding:
            assert len(answer) == len(expected)
            assert all(abs(a - b) < 1e-6 for a, b in zip(answer, expected, strict=True)), text
        elif self.rerank:
            assert answer == expected  # the query itself ranks above unrelated documents
        else:
            assert answer.strip() == expected  # completions answer with a leading space

    def run_async(self, model: Any, text: str) -> Any:
        return asyncio.run(self.acall(model, text))


def _lc(server: OfflineNovitaServer) -> dict[str, Any]:
    return {"api_key": server.api_key, "base_url": server.base_url}


def _li(server: OfflineNovitaServer) -> dict[str, Any]:
    return {"api_key": server.api_key, "api_base": server.base_url}


def _messages(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


async def _chat_novita(model: ChatNovita, text: str) -> Any:
    return (await model.ainvoke(text)).content


async def _novita(model: Novita, text: str) -> Any:
    return await model.ainvoke(text)


async def _lc_embed(model: NovitaEmbeddings, text: str) -> Any:
    return await model.aembed_query(text)


async def _novita_ai(model: NovitaAI, text: str) -> Any:
    return (await model.achat(_messages(text))).message.content


async def _li_embed(model: NovitaEmbedding, text: str) -> Any:
    return await model.aget_text_embedding(text)


def _lc_rerank_call(model: LcRerank, text: str) -> str:
    documents = [*RERANK_OTHERS, text]
    return documents[model.rerank(documents, text)[0]["index"]]


async def _lc_rerank(model: LcRerank, text: str) -> str:
    documents = [*RERANK_OTHERS, text]
    return documents[(await model.arerank(documents, text))[0]["index"]]


def _li_nodes(text: str) -> list[NodeWithScore]:
    return [NodeWithScore(node=TextNode(text=t)) for t in [*RERANK_OTHERS, text]]


def _li_rerank_call(model: LiRerank, text: str) -> str:
    return str(model.postprocess_nodes(_li_nodes(text), QueryBundle(text))[0].node.get_content())


async def _li_rerank(model: LiRerank, text: str) -> str:
    ranked = await model.apostprocess_nodes(_li_nodes(text), QueryBundle(text))
    return str(ranked[0].node.get_content())


KINDS = [
    Kind(
        "ChatNovita",
        lambda s: ChatNovita(model=CHAT_MODEL, **_lc(s)),
        lambda m, t: m.invoke(t).content,
        _chat_novita,
    ),
    Kind(
        "Novita",
        lambda s: Novita(model=CHAT_MODEL, **_lc(s)),
        lambda m, t: m.invoke(t),
        _novita,
    ),
    Kind(
        "NovitaEmbeddings",
        lambda s: NovitaEmbeddings(model=EMBEDDING_MODEL, **_lc(s)),
        lambda m, t: m.embed_query(t),
        _lc_embed,
        embedding=True,
    ),
    Kind(
        "NovitaAI",
        lambda s: NovitaAI(model=CHAT_MODEL, **_li(s)),
        lambda m, t: m.chat(_messages(t)).message.content,
        _novita_ai,
    ),
    Kind(
        "NovitaEmbedding",
        lambda s: NovitaEmbedding(model_name=EMBEDDING_MODEL, **_li(s)),
        lambda m, t: m.get_text_embedding(t),
        _li_embed,
        embedding=True,
    ),
    Kind(
        "NovitaRerank-langchain",
        lambda s: LcRerank(**_lc(s)),
        _lc_rerank_call,
        _lc_rerank,
        rerank=True,
    ),
    Kind(
        "NovitaRerank-llama-index",
        lambda s: LiRerank(**_li(s)),
        _li_rerank_call,
        _li_rerank,
        rerank=True,
    ),
]
KIND_IDS = [kind.name for kind in KINDS]
