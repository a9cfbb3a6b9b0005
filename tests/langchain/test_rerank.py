"""NovitaRerank (a LangChain document compressor) over real HTTP to the offline server."""

from __future__ import annotations

import json
import traceback
from typing import Any

import openai
import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_novita import ChatNovita, NovitaEmbeddings, NovitaRerank
from novita_core import DEFAULT_RERANK_MODEL, InvalidParameterError
from novita_core.testing import Fault, OfflineNovitaServer
from novita_core.testing.rerank import relevance

QUERY = "What is the capital of France?"
TEXTS = [
    "Bananas are yellow when ripe.",
    "Paris is the capital of France.",
    "France borders Spain and Italy.",
    "The capital of Italy is Rome.",
    "Novita hosts open models.",
]
DOCS = [Document(text, metadata={"source": i}, id=f"doc-{i}") for i, text in enumerate(TEXTS)]


def rerank_bodies(server: OfflineNovitaServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/rerank")]


def test_defaults_and_request_json(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    reranker = NovitaRerank(**connect)
    assert isinstance(reranker, BaseDocumentCompressor)
    assert (reranker.model, reranker.top_n) == (DEFAULT_RERANK_MODEL, 3)
    results = reranker.rerank(TEXTS, QUERY)
    assert rerank_bodies(server) == [
        {"model": DEFAULT_RERANK_MODEL, "query": QUERY, "documents": TEXTS, "top_n": 3}
    ]
    assert results == [
        {"index": i, "relevance_score": relevance(QUERY, TEXTS[i])} for i in (1, 3, 2)
    ]


def test_rerank_accepts_strings_documents_and_dicts(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    reranker = NovitaRerank(**connect, model="qwen/qwen3-reranker-8b", top_n=None)
    mixed: list[Any] = [TEXTS[0], DOCS[1], {"title": "Rome", "body": TEXTS[3]}]
    results = reranker.rerank(mixed, QUERY, top_n=2)
    (body,) = rerank_bodies(server)
    assert body["documents"] == [TEXTS[0], TEXTS[1], json.dumps(mixed[2])]
    assert body["top_n"] == 2 and body["model"] == "qwen/qwen3-reranker-8b"
    assert [r["index"] for r in results] == [1, 2]
    # top_n=None on the instance: every document comes back, and no top_n is sent.
    assert len(reranker.rerank(TEXTS, QUERY)) == len(TEXTS)
    assert "top_n" not in rerank_bodies(server)[-1]


def test_compress_documents_returns_scored_copies_best_first(connect: dict[str, Any]) -> None:
    reranker = NovitaRerank(**connect, top_n=2)
    originals = [doc.model_copy(deep=True) for doc in DOCS]
    kept = reranker.compress_documents(DOCS, QUERY)
    assert [d.page_content for d in kept] == [TEXTS[1], TEXTS[3]]
    assert [d.id for d in kept] == ["doc-1", "doc-3"]
    assert kept[0].metadata == {"source": 1, "relevance_score": relevance(QUERY, TEXTS[1])}
    assert kept[0].metadata["relevance_score"] > kept[1].metadata["relevance_score"]
    assert originals == DOCS  # the inputs are untouched
    assert kept[0] is not DOCS[1]


async def test_async_paths_match_sync(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    reranker = NovitaRerank(**connect, top_n=2)
    assert await reranker.arerank(TEXTS, QUERY) == reranker.rerank(TEXTS, QUERY)
    assert await reranker.acompress_documents(DOCS, QUERY) == reranker.compress_documents(
        DOCS, QUERY
    )
    assert len(rerank_bodies(server)) == 4


def test_empty_input_sends_nothing(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    reranker = NovitaRerank(**connect)
    assert reranker.rerank([], QUERY) == []
    assert reranker.compress_documents([], QUERY) == []
    assert server.requests == []


def test_split_input_is_merged(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    reranker = NovitaRerank(**connect, top_n=3, max_documents_per_request=2)
    assert reranker.rerank(TEXTS, QUERY) == NovitaRerank(**connect).rerank(TEXTS, QUERY)
    assert [len(b["documents"]) for b in rerank_bodies(server)] == [2, 2, 1, 5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_k": 3}, r"Unknown parameter\(s\) \['top_k'\] for NovitaRerank"),
        ({"query": "x"}, "Unknown parameter"),
        ({"top_n": 0}, "top_n must satisfy top_n >= 1"),
        ({"model": ""}, "model must not be empty"),
        ({"max_documents_per_request": 0}, "max_documents"),
    ],
)
def test_bad_arguments_fail_at_construction(
    server: OfflineNovitaServer, connect: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        NovitaRerank(**connect, **kwargs)
    assert server.requests == []


def test_bad_call_arguments_fail_before_any_request(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    reranker = NovitaRerank(**connect)
    with pytest.raises(InvalidParameterError, match="query must not be empty"):
        reranker.rerank(TEXTS, "")
    with pytest.raises(InvalidParameterError, match="top_n"):
        reranker.rerank(TEXTS, QUERY, top_n=-1)
    assert server.requests == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried_exactly(
    server: OfflineNovitaServer, connect: dict[str, Any], status: int
) -> None:
    server.inject(Fault.status(status, retry_after_ms=5), times=10)
    with pytest.raises(openai.APIStatusError) as info:
        NovitaRerank(**connect, max_retries=2).rerank(TEXTS, QUERY)
    assert info.value.status_code == status
    assert len(server.requests) == 3
    server.reset()
    server.inject(Fault.status(status, retry_after_ms=5), times=1)
    assert NovitaRerank(**connect, max_retries=1).compress_documents(DOCS, QUERY)
    assert len(server.requests) == 2


async def test_async_errors_are_retried_exactly(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    server.inject(Fault.status(503, retry_after_ms=5), times=10)
    with pytest.raises(openai.InternalServerError):
        await NovitaRerank(**connect, max_retries=1).acompress_documents(DOCS, QUERY)
    assert len(server.requests) == 2


def test_key_never_printed_and_401_not_retried(server: OfflineNovitaServer) -> None:
    secret = "sk-lc-rerank-secret"
    reranker = NovitaRerank(api_key=secret, base_url=server.base_url, max_retries=3)
    assert secret not in repr(reranker) and secret not in str(reranker)
    assert secret not in reranker.model_dump_json()
    with pytest.raises(openai.AuthenticationError) as info:
        reranker.rerank(TEXTS, QUERY)
    assert len(server.requests) == 1
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert secret not in rendered


def test_key_from_env(server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", server.api_key)
    monkeypatch.setenv("NOVITA_API_BASE", server.base_url)
    assert NovitaRerank(top_n=1).rerank(TEXTS, QUERY)[0]["index"] == 1


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def compression_retriever(connect: dict[str, Any]) -> ContextualCompressionRetriever:
    store = InMemoryVectorStore.from_documents(DOCS, NovitaEmbeddings(**connect))
    return ContextualCompressionRetriever(
        base_compressor=NovitaRerank(**connect, top_n=2),
        base_retriever=store.as_retriever(search_kwargs={"k": 5}),
    )


def test_contextual_compression_retriever(
    compression_retriever: ContextualCompressionRetriever, server: OfflineNovitaServer
) -> None:
    docs = compression_retriever.invoke(QUERY)
    assert [d.page_content for d in docs] == [TEXTS[1], TEXTS[3]]
    assert all("relevance_score" in d.metadata for d in docs)
    (body,) = rerank_bodies(server)
    assert sorted(body["documents"]) == sorted(TEXTS)  # the retriever's 5 candidates


async def test_contextual_compression_retriever_async(
    compression_retriever: ContextualCompressionRetriever,
) -> None:
    docs = await compression_retriever.ainvoke(QUERY)
    assert [d.page_content for d in docs] == [TEXTS[1], TEXTS[3]]


def test_retriever_rerank_chat_chain(
    compression_retriever: ContextualCompressionRetriever,
    server: OfflineNovitaServer,
    connect: dict[str, Any],
) -> None:
    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    chain = (
        {
            "context": compression_retriever
            | (lambda docs: "\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | ChatNovita(**connect, model="meta-llama/llama-3.3-70b-instruct")
        | StrOutputParser()
    )
    answer = chain.invoke(QUERY)
    assert answer.startswith("Echo:")
    paths = [r.path.rsplit("/", 1)[-1] for r in server.requests]
    assert paths == ["embeddings", "embeddings", "rerank", "completions"]
    sent = server.requests[-1].json["messages"][0]["content"]
    assert f"Context:\n{TEXTS[1]}\n{TEXTS[3]}\n" in sent
    assert TEXTS[0] not in sent  # reranked away
