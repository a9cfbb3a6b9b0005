"""Novita embeddings for LangChain: :class:`NovitaEmbeddings`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import AliasChoices, ConfigDict, Field
from pydantic import model_validator as _model_validator
from typing_extensions import Self

from langchain_novita._common import JsonDict, NovitaConnection, NovitaFanOut, check_init_kwargs
from novita_core.answers import embedding_vectors
from novita_core.catalog import DEFAULT_EMBEDDING_MODEL
from novita_core.concurrency import bounded_gather
from novita_core.params import EMBEDDINGS, Request, build_request, validate_params

DEFAULT_CHUNK_SIZE = 256
"""Texts per request. Novita documents no batch limit beyond OpenAI's 2048 inputs."""


class NovitaEmbeddings(NovitaFanOut, NovitaConnection, Embeddings):
    """Novita AI embedding models (the OpenAI-compatible ``/embeddings`` endpoint).

    Setup:
        ```bash
        pip install "novita-integrations[langchain]"
        export NOVITA_API_KEY="your-api-key"
        ```

    Key init args:
        model (alias ``model_name``): Embedding model id; defaults to ``baai/bge-m3``
            (1024 dimensions).
        dimensions: Output vector length, for models that support shortening.
        chunk_size: Texts sent per request; larger inputs are split, order is preserved.
        max_concurrency: Most requests ``aembed_documents`` keeps in flight (default 4).
        api_key (alias ``novita_api_key``): Defaults to ``$NOVITA_API_KEY``.
        base_url (alias ``novita_api_base``): Defaults to the core's env resolution.
        timeout, max_retries, default_headers: Connection options.

    Example:
        ```python
        from langchain_novita import NovitaEmbeddings

        embeddings = NovitaEmbeddings()
        vectors = embeddings.embed_documents(["hello", "world"])
        query = embeddings.embed_query("greeting")
        vectors = await embeddings.aembed_documents(["hello", "world"])
        ```
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL, validation_alias=AliasChoices("model", "model_name")
    )
    """Embedding model id."""
    dimensions: int | None = None
    """Output vector length (only for models that support it)."""
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, gt=0)
    """Texts per request."""

    @_model_validator(mode="before")
    @classmethod
    def _reject_unknown_kwargs(cls, values: Any) -> Any:
        checked = check_init_kwargs(values, cls, EMBEDDINGS, ("dimensions",))
        if isinstance(checked, Mapping) and checked.get("model_kwargs"):
            raise ValueError(
                f"Unsupported NovitaEmbeddings parameters: {sorted(checked['model_kwargs'])}; "
                "use extra_body={...}"
            )
        return checked

    @_model_validator(mode="after")
    def _connect_novita(self) -> Self:
        validate_params(EMBEDDINGS, {"model": self.model, "dimensions": self.dimensions})
        self._connect()
        return self

    def _requests(self, texts: list[str]) -> list[tuple[Request, int]]:
        """One validated request per ``chunk_size`` texts, with its input count."""
        batches = [texts[i : i + self.chunk_size] for i in range(0, len(texts), self.chunk_size)]
        params: JsonDict = {"model": self.model, "dimensions": self.dimensions}
        return [
            (
                build_request(EMBEDDINGS, {**params, "input": batch}, extra_body=self.extra_body),
                len(batch),
            )
            for batch in batches
        ]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in batches of ``chunk_size``; the result is in input order.

        Args:
            texts: The texts; an empty list gives an empty list without a request.

        Returns:
            One vector per text.
        """
        vectors: list[list[float]] = []
        for request, count in self._requests(texts):
            vectors.extend(embedding_vectors(self._client.create(request), count))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one text.

        Args:
            text: The query.

        Returns:
            Its vector.
        """
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents`: up to ``max_concurrency`` batches at once, in order.

        Args:
            texts: The texts.

        Returns:
            One vector per text.
        """
        requests = self._requests(texts)
        responses = await bounded_gather(
            self._client.acreate, [r for r, _ in requests], limit=self.max_concurrency
        )
        vectors: list[list[float]] = []
        for response, (_, count) in zip(responses, requests, strict=True):
            vectors.extend(embedding_vectors(response, count))
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query`.

        Args:
            text: The query.

        Returns:
            Its vector.
        """
        return (await self.aembed_documents([text]))[0]
