"""Shared setup for the LangChain adapter tests: a deterministic env and offline servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from novita_core.testing import OfflineNovitaServer
from tests.langchain.helpers import stop_shared_server

ENV_VARS = ("NOVITA_API_KEY", "NOVITA_BASE_URL", "NOVITA_API_BASE")


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_server() -> Iterator[None]:
    yield
    stop_shared_server()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a real key or base URL from the developer's shell."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(novita_server: OfflineNovitaServer) -> OfflineNovitaServer:
    """A fresh offline server per test (clean records)."""
    return novita_server


@pytest.fixture
def connect(server: OfflineNovitaServer) -> dict[str, Any]:
    """Constructor kwargs that point a model at ``server``."""
    return {"api_key": server.api_key, "base_url": server.base_url}
