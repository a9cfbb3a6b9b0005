"""Pytest fixtures for the offline Novita server.

Loaded with ``-p novita_core.testing.pytest_plugin`` (the project's addopts do this). It imports
only the standard library and the server module, so loading it costs nothing for unrelated tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from novita_core.testing.server import OfflineNovitaServer

__all__ = ["novita_env", "novita_server", "novita_server_session"]


@pytest.fixture(scope="session")
def novita_server_session() -> Iterator[OfflineNovitaServer]:
    """One offline server for the whole session (for expensive setups and load tests).

    State (records, faults, added models) is shared between tests: call ``reset()`` yourself.
    """
    with OfflineNovitaServer() as server:
        yield server


@pytest.fixture
def novita_server() -> Iterator[OfflineNovitaServer]:
    """A fresh offline server per test: empty records and fault queue, built-in models only.

    A new server (new port) rather than a reset shared one, so that added models and
    per-base-URL caches such as the catalog's ``/models`` cache cannot leak between tests.
    Starting one takes about a millisecond.
    """
    with OfflineNovitaServer() as server:
        yield server


@pytest.fixture
def novita_env(
    novita_server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> OfflineNovitaServer:
    """``novita_server`` with ``NOVITA_API_KEY`` and ``NOVITA_API_BASE`` pointing at it."""
    monkeypatch.setenv("NOVITA_API_KEY", novita_server.api_key)
    monkeypatch.setenv("NOVITA_API_BASE", novita_server.base_url)
    return novita_server
