"""``NovitaEmbedding``: LlamaIndex embeddings from Novita's ``/embeddings`` endpoint."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr

from llama_index_novita._connection import NovitaLlamaConnection
from llama_index_novita.events import dispatch_retry
from novita_core import (
    DEFAULT_EMBEDDING_MODEL,
    EMBEDDINGS,
    Request,
    build_request,
    validate_params,
)
from novita_core.answers import embedding_vectors
from novita_core.concurrency import DEFAULT_MAX_CONCURRENCY, LoopLimiter
from novita_core.params import check_raw_values

__all__ = ["NovitaEmbedding"]


class NovitaEmbedding(NovitaLlamaConnection, BaseEmbedding):
    """Novita AI text embeddings for LlamaIndex (default model ``baai/bge-m3``, 1024 dims).

    Each batch of ``embed_batch_size`` texts is one ``/embeddings`` request; vectors come back
    in input order. Retries, timeouts and errors are handled by the shared ``novita_core``.

    Args:
        model_name: Novita embedding model id.
        api_key: Novita API key; defaults to ``$NOVITA_API_KEY``.
        api_base: Base URL; defaults to ``$NOVITA_BASE_URL``, then ``$NOVITA_API_BASE``, then
            Novita's OpenAI-compatible endpoint.
        embed_batch_size: Texts per request (1-2048).
        max_concurrency: Most requests this object keeps in flight on one event loop (default
            4), however many batches ``aget_text_embedding_batch`` schedules (its
            ``num_workers`` only limits the scheduling).
        dimensions: Output vector length, for models that support shortening.
        additional_kwargs: More ``/embeddings`` parameters, validated by the core.
        extra_body: Fields sent as given in the JSON body of every request (server fields the
            core's table does not know).
        max_retries: Retries after the first attempt (``2`` means at most 3 requests).
        timeout: Seconds per HTTP attempt, a ``(connect, read)`` pair, or an
            ``httpx.Timeout``/``httpx2.Timeout`` (the installed openai's).
        default_headers: Extra headers for every request.
        http_client: An HTTP client the installed ``openai`` accepts for sync calls.
        async_http_client: An HTTP client the installed ``openai`` accepts for async calls.
        callback_manager: LlamaIndex callback manager.

    Example:
        ```python
        from llama_index_novita import NovitaEmbedding

        embed = NovitaEmbedding(embed_batch_size=32)
        vectors = embed.get_text_embedding_batch(["first", "second"])
        query = embed.get_query_embedding("what is first?")
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    dimensions: int | None = Field(default=None, description="Output vector length.", gt=0)
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="More /embeddings parameters."
    )
    extra_body: dict[str, Any] | None = Field(
        default=None, description="Fields sent as given in every request's JSON body."
    )
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY,
        description="Most requests in flight at once per event loop (async calls).",
        gt=0,
    )

    _limiter: LoopLimiter | None = PrivateAttr(default=None)

    def __init__(self, model_name: str = DEFAULT_EMBEDDING_MODEL, **kwargs: Any) -> None:
        check_raw_values(EMBEDDINGS, kwargs)  # before pydantic turns dimensions=True into 1
        super().__init__(model_name=model_name, **kwargs)
        validate_params(EMBEDDINGS, self._params())
        self._resolved_settings()

    @classmethod
    def class_name(cls) -> str:
        """Stable name used in serialized configs."""
        return "NovitaEmbedding"

    def _params(self) -> dict[str, Any]:
        return {"dimensions": self.dimensions, **self.additional_kwargs}

    def _request(self, texts: str | list[str]) -> Request:
        params = {**self._params(), "model": self.model_name, "input": texts}
        return build_request(EMBEDDINGS, params, extra_body=self.extra_body)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embeddings([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._aget_text_embeddings([query]))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        data = self._novita.create(self._request(list(texts)), on_retry=dispatch_retry)
        return embedding_vectors(data, len(texts))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # BaseEmbedding gathers all batches at once (num_workers only caps the scheduling), so
        # the bound is kept here, around each request.
        limiter = self._limiter
        if limiter is None or limiter.limit != self.max_concurrency:
            limiter = self._limiter = LoopLimiter(self.max_concurrency)
        async with limiter.slot():
            data = await self._novita.acreate(self._request(list(texts)), on_retry=dispatch_retry)
        return embedding_vectors(data, len(texts))
