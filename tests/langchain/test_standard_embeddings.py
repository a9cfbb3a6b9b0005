"""langchain-tests standard suites for NovitaEmbeddings; the integration suite runs offline."""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_novita import NovitaEmbeddings
from tests.langchain.helpers import shared_server


class TestNovitaEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[NovitaEmbeddings]:
        return NovitaEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"api_key": "test-key", "base_url": "http://127.0.0.1:9/v3/openai"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"NOVITA_API_KEY": "env-key", "NOVITA_BASE_URL": "https://novita.example/openai"},
            {},
            {"api_key": "env-key", "base_url": "https://novita.example/openai"},
        )


class TestNovitaEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[NovitaEmbeddings]:
        return NovitaEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        server = shared_server()
        return {"api_key": server.api_key, "base_url": server.base_url, "chunk_size": 2}
