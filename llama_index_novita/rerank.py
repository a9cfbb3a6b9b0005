"""``NovitaRerank``: a LlamaIndex node postprocessor over Novita's ``/rerank`` endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from llama_index.core.bridge.pydantic import ConfigDict, Field
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from llama_index_novita._connection import NovitaLlamaConnection
from novita_core.concurrency import DEFAULT_MAX_CONCURRENCY
from novita_core.params import RERANK, validate_params
from novita_core.rerank import DEFAULT_RERANK_MODEL, max_documents_for

__all__ = ["NovitaRerank"]

dispatcher = get_dispatcher(__name__)


class _RerankCall(NamedTuple):
    """The core rerank call for some nodes: positional arguments and options."""

    args: tuple[Any, ...]
    options: dict[str, Any]


class NovitaRerank(NovitaLlamaConnection, BaseNodePostprocessor):
    """Novita AI rerankers for LlamaIndex: keeps the ``top_n`` nodes most relevant to the query.

    Each node's text is ``node.get_content(MetadataMode.EMBED)``; the kept nodes come back best
    first with Novita's ``relevance_score`` as their score. Retries, timeouts and errors are
    the shared ``novita_core``'s; the async path sends its request asynchronously.

    Args:
        model: Novita rerank model id (default ``baai/bge-reranker-v2-m3``).
        top_n: Nodes kept (default 3; None keeps all).
        max_documents_per_request: Nodes per request; more are split and merged (None: the
            model's known limit, else one request).
        max_concurrency: Most requests the async path keeps in flight for a split input (4).
        api_key: Novita API key; defaults to ``$NOVITA_API_KEY``.
        api_base: Base URL; defaults to ``$NOVITA_BASE_URL``, then ``$NOVITA_API_BASE``, then
            Novita's OpenAI-compatible endpoint.
        max_retries: Retries after the first attempt (``2`` means at most 3 requests).
        timeout: Seconds per HTTP attempt.
        default_headers: Extra headers for every request.
        callback_manager: LlamaIndex callback manager.

    Example:
        ```python
        from llama_index_novita import NovitaRerank

        engine = index.as_query_engine(
            similarity_top_k=10, node_postprocessors=[NovitaRerank(top_n=3)]
        )
        response = engine.query("What is the capital of France?")
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Novita rerank model id.")
    top_n: int | None = Field(default=3, description="Nodes kept, best first (None: all).")
    max_documents_per_request: int | None = Field(
        default=None, description="Nodes per request (None: the model's known limit)."
    )
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY,
        description="Most requests in flight for a split input (async calls).",
        gt=0,
    )

    def __init__(self, model: str = DEFAULT_RERANK_MODEL, **kwargs: Any) -> None:
        super().__init__(model=model, **kwargs)
        validate_params(RERANK, {"model": self.model, "top_n": self.top_n})
        max_documents_for(self.model, self.max_documents_per_request)
        self._resolved_settings()

    @classmethod
    def class_name(cls) -> str:
        """Stable name used in serialized configs."""
        return "NovitaRerank"

    def _call_args(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> _RerankCall | None:
        """The core call's arguments, or None when there is nothing to rank."""
        if not nodes or query_bundle is None:
            return None
        texts = [node.node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
        options = {"top_n": self.top_n, "max_documents": self.max_documents_per_request}
        return _RerankCall((self.model, query_bundle.query_str, texts), options)

    @contextmanager
    def _reranking(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Iterator[list[NodeWithScore]]:
        """The start/end instrumentation and callback events around one rerank.

        Yields the list the caller fills with the ranked nodes.
        """
        top_n = self.top_n if self.top_n is not None else len(nodes)
        dispatcher.event(
            ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=self.model)
        )
        if query_bundle is None:
            raise ValueError(
                "NovitaRerank needs the query to rank nodes against: pass query_bundle or "
                "query_str to postprocess_nodes (query and chat engines do this)."
            )
        ranked: list[NodeWithScore] = []
        with self.callback_manager.event(
            CBEventType.RERANKING,
            payload={
                EventPayload.NODES: nodes,
                EventPayload.MODEL_NAME: self.model,
                EventPayload.QUERY_STR: query_bundle.query_str,
                EventPayload.TOP_K: top_n,
            },
        ) as event:
            yield ranked
            event.on_end(payload={EventPayload.NODES: ranked})
        dispatcher.event(ReRankEndEvent(nodes=ranked))

    @staticmethod
    def _ranked(nodes: list[NodeWithScore], answer: dict[str, Any]) -> list[NodeWithScore]:
        return [
            NodeWithScore(node=nodes[result["index"]].node, score=result["relevance_score"])
            for result in answer["results"]
        ]

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        with self._reranking(nodes, query_bundle) as ranked:
            call = self._call_args(nodes, query_bundle)
            if call is not None:
                ranked.extend(self._ranked(nodes, self._novita.rerank(*call.args, **call.options)))
        return ranked

    async def _apostprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        with self._reranking(nodes, query_bundle) as ranked:
            call = self._call_args(nodes, query_bundle)
            if call is not None:
                answer = await self._novita.arerank(
                    *call.args, **call.options, max_concurrency=self.max_concurrency
                )
                ranked.extend(self._ranked(nodes, answer))
        return ranked
