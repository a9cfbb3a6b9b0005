"""Calls that fan out by themselves keep at most ``max_concurrency`` requests in flight.

The offline server counts requests in flight (``max_in_flight``); a small reply delay makes
every free slot fill up, so the count reaches the bound exactly when the bound is what limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from langchain_novita import NovitaRerank as LcRerank
from llama_index_novita import NovitaEmbedding
from llama_index_novita import NovitaRerank as LiRerank
from novita_core.concurrency import DEFAULT_MAX_CONCURRENCY, LoopLimiter, bounded_gather
from novita_core.testing import OfflineNovitaServer
from novita_core.testing.replies import embed_text
from tests.scale.models import CHAT_MODEL, DIMENSIONS, EMBEDDING_MODEL

pytestmark = pytest.mark.timeout(120)

TEXTS = [f"text number {i}" for i in range(24)]


@pytest.fixture
def server() -> Iterator[OfflineNovitaServer]:
    with OfflineNovitaServer(latency=0.03) as server:
        yield server


def lc(server: OfflineNovitaServer) -> dict[str, str]:
    return {"api_key": server.api_key, "base_url": server.base_url}


def li(server: OfflineNovitaServer) -> dict[str, str]:
    return {"api_key": server.api_key, "api_base": server.base_url}


def assert_vectors_in_order(vectors: list[list[float]], texts: list[str]) -> None:
    assert len(vectors) == len(texts)
    for vector, text in zip(vectors, texts, strict=True):
        assert vector == pytest.approx(embed_text(text, DIMENSIONS), abs=1e-6)


# -- the core helper ---------------------------------------------------------------------------


async def test_bounded_gather_keeps_order_and_the_bound() -> None:
    state = {"now": 0, "peak": 0}

    async def work(i: int) -> int:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.001 * (i % 5))  # finish out of order
        state["now"] -= 1
        return i * i

    assert await bounded_gather(work, range(50), limit=7) == [i * i for i in range(50)]
    assert state["peak"] == 7
    assert await bounded_gather(work, [], limit=3) == []
    assert await bounded_gather(work, (i for i in [3]), limit=3) == [9]


async def test_bounded_gather_raises_the_first_failure_and_cancels_the_rest() -> None:
    started: list[int] = []
    cancelled: list[int] = []

    async def work(i: int) -> int:
        started.append(i)
        if i == 2:
            raise ValueError("item 2 failed")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    with pytest.raises(ValueError, match="item 2 failed"):
        await bounded_gather(work, range(20), limit=4)
    assert len(started) <= 5  # no new item starts after the failure
    assert sorted(cancelled) == sorted(i for i in started if i != 2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
async def test_bounded_gather_rejects_a_bad_limit(bad: object) -> None:
    async def work(i: int) -> int:
        return i

    with pytest.raises(ValueError, match="max_concurrency must be an integer >= 1"):
        await bounded_gather(work, [1, 2], limit=bad)  # type: ignore[arg-type]


def test_loop_limiter_gives_each_loop_its_own_semaphore() -> None:
    limiter = LoopLimiter(2)

    async def slot() -> asyncio.Semaphore:
        return limiter.slot()

    first, second = asyncio.run(slot()), asyncio.run(slot())
    assert first is not second
    assert first._value == second._value == 2


# -- LangChain ---------------------------------------------------------------------------------


def test_the_default_bound_is_small() -> None:
    assert DEFAULT_MAX_CONCURRENCY == 4
    for model in (
        NovitaEmbeddings(api_key="k"),
        Novita(api_key="k"),
        NovitaEmbedding("m", api_key="k"),
        LcRerank(api_key="k"),
        LiRerank(api_key="k"),
    ):
        assert model.max_concurrency == DEFAULT_MAX_CONCURRENCY


@pytest.mark.parametrize("limit", [1, 3])
async def test_aembed_documents_holds_at_most_max_concurrency(
    server: OfflineNovitaServer, limit: int
) -> None:
    embeddings = NovitaEmbeddings(
        model=EMBEDDING_MODEL, chunk_size=2, max_concurrency=limit, **lc(server)
    )
    vectors = await embeddings.aembed_documents(TEXTS)

    assert server.max_in_flight == limit
    assert len(server.requests) == len(TEXTS) // 2
    assert_vectors_in_order(vectors, TEXTS)


async def test_aembed_documents_default_bound(server: OfflineNovitaServer) -> None:
    embeddings = NovitaEmbeddings(model=EMBEDDING_MODEL, chunk_size=1, **lc(server))
    assert_vectors_in_order(await embeddings.aembed_documents(TEXTS), TEXTS)
    assert server.max_in_flight == DEFAULT_MAX_CONCURRENCY


def test_embed_documents_sends_one_batch_at_a_time(server: OfflineNovitaServer) -> None:
    embeddings = NovitaEmbeddings(model=EMBEDDING_MODEL, chunk_size=5, **lc(server))
    assert_vectors_in_order(embeddings.embed_documents(TEXTS), TEXTS)
    assert server.max_in_flight == 1
    assert len(server.requests) == 5


async def test_novita_agenerate_of_many_prompts_holds_at_most_max_concurrency(
    server: OfflineNovitaServer,
) -> None:
    llm = Novita(model=CHAT_MODEL, max_concurrency=3, **lc(server))
    prompts = [f"prompt {i}" for i in range(15)]
    result = await llm.agenerate(prompts)

    assert server.max_in_flight == 3
    assert [g[0].text.strip() for g in result.generations] == [f"Echo: {p}" for p in prompts]
    # ... and abatch without a config bound goes through the same path.
    server.reset()
    assert [a.strip() for a in await llm.abatch(prompts)] == [f"Echo: {p}" for p in prompts]
    assert server.max_in_flight == 3


async def test_novita_abatch_config_max_concurrency_keeps_its_meaning(
    server: OfflineNovitaServer,
) -> None:
    llm = Novita(model=CHAT_MODEL, max_concurrency=2, **lc(server))
    prompts = [f"prompt {i}" for i in range(12)]
    answers = await llm.abatch(prompts, config={"max_concurrency": 6})

    assert [a.strip() for a in answers] == [f"Echo: {p}" for p in prompts]
    assert server.max_in_flight == 6


@pytest.mark.parametrize("limit", [2, 5])
async def test_chat_abatch_config_max_concurrency_still_bounds(
    server: OfflineNovitaServer, limit: int
) -> None:
    llm = ChatNovita(model=CHAT_MODEL, **lc(server))
    prompts = [f"question {i}" for i in range(12)]
    replies = await llm.abatch(prompts, config={"max_concurrency": limit})

    assert [r.content for r in replies] == [f"Echo: {p}" for p in prompts]
    assert server.max_in_flight == limit


def test_chat_batch_config_max_concurrency_still_bounds(server: OfflineNovitaServer) -> None:
    llm = ChatNovita(model=CHAT_MODEL, **lc(server))
    prompts = [f"question {i}" for i in range(12)]
    replies = llm.batch(prompts, config={"max_concurrency": 3})

    assert [r.content for r in replies] == [f"Echo: {p}" for p in prompts]
    assert server.max_in_flight <= 3


# -- LlamaIndex --------------------------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [None, 1, 8])
async def test_li_aget_text_embedding_batch_holds_at_most_max_concurrency(
    server: OfflineNovitaServer, num_workers: int | None
) -> None:
    # BaseEmbedding gathers every batch at once unless num_workers > 1 (then num_workers at
    # once); max_concurrency bounds the requests whatever it schedules.
    embed = NovitaEmbedding(
        model_name=EMBEDDING_MODEL,
        embed_batch_size=2,
        max_concurrency=3,
        num_workers=num_workers,
        **li(server),
    )
    vectors = await embed.aget_text_embedding_batch(TEXTS)

    assert server.max_in_flight == 3
    assert_vectors_in_order(vectors, TEXTS)


async def test_li_bound_is_per_object_across_concurrent_calls(server: OfflineNovitaServer) -> None:
    embed = NovitaEmbedding(
        model_name=EMBEDDING_MODEL, embed_batch_size=1, max_concurrency=2, **li(server)
    )
    results = await asyncio.gather(
        embed.aget_text_embedding_batch(TEXTS[:8]), embed.aget_text_embedding_batch(TEXTS[8:])
    )
    assert server.max_in_flight == 2
    assert_vectors_in_order(results[0] + results[1], TEXTS)


def test_li_bound_holds_on_each_new_loop(server: OfflineNovitaServer) -> None:
    embed = NovitaEmbedding(
        model_name=EMBEDDING_MODEL, embed_batch_size=1, max_concurrency=2, **li(server)
    )
    for _ in range(2):  # asyncio.run twice: a fresh semaphore on each loop
        assert_vectors_in_order(asyncio.run(embed.aget_text_embedding_batch(TEXTS[:6])), TEXTS[:6])
    assert server.max_in_flight == 2


@pytest.mark.parametrize("cls", [NovitaEmbeddings, Novita])
def test_lc_max_concurrency_is_validated_before_any_request(
    cls: type, server: OfflineNovitaServer
) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        cls(max_concurrency=0, **lc(server))
    assert server.requests == []


def test_li_max_concurrency_is_validated_before_any_request(server: OfflineNovitaServer) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        NovitaEmbedding(model_name=EMBEDDING_MODEL, max_concurrency=0, **li(server))
    assert server.requests == []


# -- rerank batching -------------------------------------------------------------------------

RERANK_DOCS = [f"passage {i} about the sea" for i in range(20)]


@pytest.mark.parametrize("limit", [2, 3])
async def test_lc_arerank_of_a_split_input_holds_at_most_max_concurrency(
    server: OfflineNovitaServer, limit: int
) -> None:
    reranker = LcRerank(max_documents_per_request=2, max_concurrency=limit, top_n=5, **lc(server))
    results = await reranker.arerank(RERANK_DOCS, "the sea")

    assert server.max_in_flight == limit
    assert len(server.requests) == len(RERANK_DOCS) // 2
    server.reset()
    assert results == reranker.rerank(RERANK_DOCS, "the sea")  # same merge as the sync path
    assert server.max_in_flight == 1


async def test_li_rerank_async_of_a_split_input_holds_at_most_max_concurrency(
    server: OfflineNovitaServer,
) -> None:
    reranker = LiRerank(max_documents_per_request=2, max_concurrency=3, top_n=5, **li(server))
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in RERANK_DOCS]
    ranked = await reranker.apostprocess_nodes(nodes, query_str="the sea")

    assert server.max_in_flight == 3
    assert len(ranked) == 5
