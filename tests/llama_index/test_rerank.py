"""NovitaRerank (a LlamaIndex node postprocessor) over real HTTP to the offline server."""

from __future__ import annotations

import asyncio
import json
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llama_index_novita import NovitaAI, NovitaEmbedding, NovitaRerank
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


def nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.0) for i, t in enumerate(TEXTS)
    ]


def rerank_bodies(server: OfflineNovitaServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/rerank")]


@pytest.fixture
def make_rerank(server: OfflineNovitaServer) -> Any:
    def make(**kwargs: Any) -> NovitaRerank:
        kwargs.setdefault("api_key", server.api_key)
        kwargs.setdefault("api_base", server.base_url)
        return NovitaRerank(**kwargs)

    return make


def test_defaults_request_and_scores(make_rerank: Any, server: OfflineNovitaServer) -> None:
    reranker = make_rerank()
    assert (reranker.model, reranker.top_n) == (DEFAULT_RERANK_MODEL, 3)
    assert isinstance(reranker, BaseNodePostprocessor)
    ranked = reranker.postprocess_nodes(nodes(), query_str=QUERY)
    assert rerank_bodies(server) == [
        {"model": DEFAULT_RERANK_MODEL, "query": QUERY, "documents": TEXTS, "top_n": 3}
    ]
    assert [n.node.node_id for n in ranked] == ["n1", "n3", "n2"]
    assert [n.score for n in ranked] == [relevance(QUERY, TEXTS[i]) for i in (1, 3, 2)]


def test_top_n_none_keeps_all_and_text_is_the_embed_view(
    make_rerank: Any, server: OfflineNovitaServer
) -> None:
    node = TextNode(
        text="Paris is lovely.",
        metadata={"city": "Paris", "secret_note": "hidden"},
        excluded_embed_metadata_keys=["secret_note"],
    )
    ranked = make_rerank(top_n=None).postprocess_nodes(
        [NodeWithScore(node=node), *nodes()], QueryBundle(QUERY)
    )
    assert len(ranked) == 6
    (body,) = rerank_bodies(server)
    assert "top_n" not in body
    assert body["documents"][0] == "city: Paris\n\nParis is lovely."


def test_no_query_is_a_clear_error(make_rerank: Any, server: OfflineNovitaServer) -> None:
    with pytest.raises(ValueError, match="needs the query"):
        make_rerank().postprocess_nodes(nodes())
    with pytest.raises(ValueError, match="needs the query"):
        asyncio.run(make_rerank().apostprocess_nodes(nodes()))
    assert server.requests == []


def test_empty_nodes_send_nothing(make_rerank: Any, server: OfflineNovitaServer) -> None:
    assert make_rerank().postprocess_nodes([], query_str=QUERY) == []
    assert asyncio.run(make_rerank().apostprocess_nodes([], query_str=QUERY)) == []
    assert server.requests == []


class _Recorder(BaseEventHandler):
    events: list[tuple[str, int]] = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, (ReRankStartEvent, ReRankEndEvent)):
            self.events.append((event.class_name(), threading.get_ident()))


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    root = get_dispatcher()
    handler = _Recorder(events=[])
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers.remove(handler)


def test_instrumentation_and_callback_events(make_rerank: Any, recorder: _Recorder) -> None:
    debug = LlamaDebugHandler()
    reranker = make_rerank(top_n=2, callback_manager=CallbackManager([debug]))
    ranked = reranker.postprocess_nodes(nodes(), query_str=QUERY)
    assert [name for name, _ in recorder.events] == ["ReRankStartEvent", "ReRankEndEvent"]
    (pair,) = debug.get_event_pairs(CBEventType.RERANKING)
    start, end = pair
    assert start.payload is not None and start.payload["query_str"] == QUERY
    assert start.payload["top_k"] == 2 and start.payload["model_name"] == DEFAULT_RERANK_MODEL
    assert end.payload is not None and end.payload["nodes"] == ranked


def test_async_is_a_real_async_request(
    make_rerank: Any, server: OfflineNovitaServer, recorder: _Recorder
) -> None:
    reranker = make_rerank(top_n=2)
    ranked = asyncio.run(reranker.apostprocess_nodes(nodes(), query_str=QUERY))
    assert [n.node.node_id for n in ranked] == ["n1", "n3"]
    # Not handed to a worker thread: the events fire on the thread running the loop.
    assert {ident for _, ident in recorder.events} == {threading.get_ident()}
    assert ranked == reranker.postprocess_nodes(nodes(), query_str=QUERY)
    assert len(rerank_bodies(server)) == 2


def test_split_input_is_merged(make_rerank: Any, server: OfflineNovitaServer) -> None:
    ranked = make_rerank(top_n=3, max_documents_per_request=2).postprocess_nodes(
        nodes(), query_str=QUERY
    )
    assert [n.node.node_id for n in ranked] == ["n1", "n3", "n2"]
    assert [len(b["documents"]) for b in rerank_bodies(server)] == [2, 2, 1]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"top_n": 0}, InvalidParameterError),
        ({"model": ""}, InvalidParameterError),
        ({"max_documents_per_request": 0}, InvalidParameterError),
        ({"frobnicate": 1}, ValueError),
        ({"max_retries": -1}, ValueError),
    ],
)
def test_bad_arguments_fail_at_construction(
    make_rerank: Any, server: OfflineNovitaServer, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_rerank(**kwargs)
    assert server.requests == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried_exactly(
    make_rerank: Any, server: OfflineNovitaServer, status: int
) -> None:
    server.inject(Fault.status(status, retry_after_ms=5), times=10)
    with pytest.raises(openai.APIStatusError) as info:
        make_rerank(max_retries=2).postprocess_nodes(nodes(), query_str=QUERY)
    assert info.value.status_code == status
    assert len(server.requests) == 3
    server.reset()
    server.inject(Fault.status(status, retry_after_ms=5), times=1)
    assert asyncio.run(make_rerank(max_retries=1).apostprocess_nodes(nodes(), query_str=QUERY))
    assert len(server.requests) == 2


def test_key_never_printed_and_401_not_retried(server: OfflineNovitaServer) -> None:
    secret = "sk-li-rerank-secret"
    reranker = NovitaRerank(api_key=secret, api_base=server.base_url, max_retries=3)
    assert secret not in repr(reranker)
    assert secret not in reranker.to_json()
    assert secret not in json.dumps(reranker.to_dict(), default=str)
    with pytest.raises(openai.AuthenticationError) as info:
        reranker.postprocess_nodes(nodes(), query_str=QUERY)
    assert len(server.requests) == 1
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert secret not in rendered


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def index(embed: NovitaEmbedding) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents([Document(text=t) for t in TEXTS], embed_model=embed)


def test_query_engine_with_embedding_rerank_and_llm(
    index: VectorStoreIndex, make_rerank: Any, server: OfflineNovitaServer
) -> None:
    llm = NovitaAI(
        model="meta-llama/llama-3.3-70b-instruct", api_key=server.api_key, api_base=server.base_url
    )
    engine = index.as_query_engine(
        llm=llm, similarity_top_k=5, node_postprocessors=[make_rerank(top_n=2)]
    )
    response = engine.query(QUERY)
    assert [n.node.get_content() for n in response.source_nodes] == [TEXTS[1], TEXTS[3]]
    assert response.source_nodes[0].score == relevance(QUERY, TEXTS[1])
    paths = [r.path.rsplit("/", 1)[-1] for r in server.requests if r.method == "POST"]
    assert paths == ["embeddings", "embeddings", "rerank", "completions"]
    assert sorted(rerank_bodies(server)[0]["documents"]) == sorted(TEXTS)
    prompt = " ".join(m["content"] for m in server.requests[-1].json["messages"])
    assert TEXTS[1] in prompt and TEXTS[0] not in prompt

    async_response = asyncio.run(engine.aquery(QUERY))
    assert [n.node.node_id for n in async_response.source_nodes] == [
        n.node.node_id for n in response.source_nodes
    ]


def test_chat_engine_with_rerank(
    index: VectorStoreIndex, make_rerank: Any, llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    engine = index.as_chat_engine(
        chat_mode="context", llm=llm, similarity_top_k=5, node_postprocessors=[make_rerank(top_n=1)]
    )
    reply = engine.chat(QUERY)
    assert [n.node.get_content() for n in reply.source_nodes] == [TEXTS[1]]
    assert len(rerank_bodies(server)) == 1
    system = server.requests[-1].json["messages"][0]["content"]
    assert TEXTS[1] in system and TEXTS[3] not in system
