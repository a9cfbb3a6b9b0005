"""Novita reranking for LangChain: :class:`NovitaRerank`, a document compressor."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import AliasChoices, ConfigDict, Field, model_validator
from typing_extensions import Self

from langchain_novita._common import JsonDict, NovitaConnection, NovitaFanOut, accepted_init_names
from novita_core.params import RERANK, InvalidParameterError, validate_params
from novita_core.rerank import DEFAULT_RERANK_MODEL, max_documents_for

RerankInput = str | Document | Mapping[str, Any]
"""What :meth:`NovitaRerank.rerank` ranks: texts, ``Document`` s or dicts (sent as JSON)."""


def _text(document: RerankInput) -> str:
    if isinstance(document, str):  # the common case; Mapping's isinstance is an ABC check
        return document
    if isinstance(document, Document):
        return document.page_content
    if isinstance(document, Mapping):
        return json.dumps(dict(document), ensure_ascii=False, default=str)
    return document  # not a text: the core's check names the parameter and what is allowed


class NovitaRerank(NovitaFanOut, NovitaConnection, BaseDocumentCompressor):
    """Novita AI rerankers (``/rerank``) as a LangChain document compressor.

    Setup:
        ```bash
        # langchain-classic only for ContextualCompressionRetriever
        pip install "novita-integrations[langchain]" langchain-classic
        export NOVITA_API_KEY="your-api-key"
        ```

    Key init args:
        model (alias ``model_name``): Rerank model id; defaults to ``baai/bge-reranker-v2-m3``.
        top_n: Documents kept, best first (default 3; None keeps all).
        max_documents_per_request: Documents per request; longer inputs are split and merged.
        api_key (alias ``novita_api_key``): Defaults to ``$NOVITA_API_KEY``.
        base_url (alias ``novita_api_base``): Defaults to the core's env resolution.
        timeout, max_retries, default_headers: Connection options.

    Args:
        model: Rerank model id.
        top_n: Documents kept by ``compress_documents`` and returned by ``rerank``.
        max_documents_per_request: Documents per ``/rerank`` request (None: the model's known
            limit, else all in one request).
        max_concurrency: Most requests ``arerank`` keeps in flight for a split input (4).
        extra_body: Fields merged into each JSON body as given.

    Example:
        ```python
        from langchain_classic.retrievers import ContextualCompressionRetriever
        from langchain_novita import NovitaRerank

        reranker = NovitaRerank(top_n=2)
        reranker.rerank(["Paris is in France", "Bananas are yellow"], "Where is Paris?")
        retriever = ContextualCompressionRetriever(
            base_compressor=reranker, base_retriever=vector_store.as_retriever(k=20)
        )
        docs = retriever.invoke("Where is Paris?")  # metadata["relevance_score"] set
        ```
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", arbitrary_types_allowed=True)

    model: str = Field(
        default=DEFAULT_RERANK_MODEL, validation_alias=AliasChoices("model", "model_name")
    )
    """Rerank model id."""
    top_n: int | None = 3
    """Documents kept, best first; None keeps all."""
    max_documents_per_request: int | None = None
    """Documents per request (None: the model's known limit, else one request)."""

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_kwargs(cls, values: Any) -> Any:
        if isinstance(values, Mapping):
            accepted = accepted_init_names(cls)
            unknown = sorted(key for key in values if key not in accepted)
            if unknown:
                raise InvalidParameterError(
                    f"Unknown parameter(s) {unknown} for NovitaRerank. Valid fields: "
                    f"{', '.join(sorted(cls.model_fields))}."
                )
        return values

    @model_validator(mode="after")
    def _connect_novita(self) -> Self:
        validate_params(RERANK, {"model": self.model, "top_n": self.top_n})
        max_documents_for(self.model, self.max_documents_per_request)
        self._connect()
        return self

    def _call_args(
        self, documents: Sequence[RerankInput], query: str, top_n: int | None
    ) -> tuple[tuple[Any, ...], JsonDict]:
        texts = [_text(document) for document in documents]
        options: JsonDict = {
            "top_n": self.top_n if top_n is None else top_n,
            "max_documents": self.max_documents_per_request,
            "extra_body": self.extra_body,
        }
        return (self.model, query, texts), options

    def rerank(
        self, documents: Sequence[RerankInput], query: str, *, top_n: int | None = None
    ) -> list[JsonDict]:
        """Score ``documents`` against ``query``; best first.

        Args:
            documents: Texts, ``Document`` s (their ``page_content``) or dicts (sent as JSON).
            query: The query.
            top_n: Results to return; defaults to the instance's ``top_n``.

        Returns:
            ``[{"index": i, "relevance_score": s}, ...]``, ``i`` indexing ``documents``.
        """
        args, options = self._call_args(documents, query, top_n)
        return list(self._client.rerank(*args, **options)["results"])

    async def arerank(
        self, documents: Sequence[RerankInput], query: str, *, top_n: int | None = None
    ) -> list[JsonDict]:
        """Async :meth:`rerank`."""
        args, options = self._call_args(documents, query, top_n)
        answer = await self._client.arerank(*args, **options, max_concurrency=self.max_concurrency)
        return list(answer["results"])

    @staticmethod
    def _ranked(documents: Sequence[Document], results: Sequence[JsonDict]) -> list[Document]:
        """Copies of the ranked documents, best first, with their ``relevance_score``."""
        ranked = []
        for result in results:
            document = documents[result["index"]]
            metadata = deepcopy(document.metadata)
            metadata["relevance_score"] = result["relevance_score"]
            ranked.append(document.model_copy(update={"metadata": metadata}))
        return ranked

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Keep the ``top_n`` documents most relevant to ``query``, best first.

        Args:
            documents: The retrieved documents (not modified).
            query: The query.
            callbacks: Unused; accepted for the compressor interface.

        Returns:
            Copies of the kept documents with ``metadata["relevance_score"]``.
        """
        return self._ranked(documents, self.rerank(documents, query))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents` (a real async request, not a thread)."""
        return self._ranked(documents, await self.arerank(documents, query))
