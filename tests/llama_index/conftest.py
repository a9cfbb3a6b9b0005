from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core.testing import OfflineNovitaServer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real key or base URL from the developer's shell may reach a test."""
    for name in ("NOVITA_API_KEY", "NOVITA_BASE_URL", "NOVITA_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def server(novita_server: OfflineNovitaServer) -> OfflineNovitaServer:
    return novita_server


MODEL = "meta-llama/llama-3.3-70b-instruct"
"""A tool-capable chat model without reasoning or structured outputs in the catalog."""


@pytest.fixture
def make_llm(server: OfflineNovitaServer) -> Callable[..., NovitaAI]:
    def make(**kwargs: Any) -> NovitaAI:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("api_key", server.api_key)
        kwargs.setdefault("api_base", server.base_url)
        return NovitaAI(**kwargs)

    return make


@pytest.fixture
def llm(make_llm: Callable[..., NovitaAI]) -> NovitaAI:
    return make_llm()


@pytest.fixture
def embed(server: OfflineNovitaServer) -> NovitaEmbedding:
    return NovitaEmbedding(api_key=server.api_key, api_base=server.base_url)
