"""Fixtures of the hostile-server tests: a clean environment and a server factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hostile.server import HostileServer, Script

ENV_VARS = ("NOVITA_API_KEY", "NOVITA_BASE_URL", "NOVITA_API_BASE", "NOVITA_LOG_REQUEST_BODIES")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    """``hostile(script, ...)``: a started server answering request ``i`` with script ``i``."""
    servers: list[HostileServer] = []

    def start(*scripts: Script) -> HostileServer:
        server = HostileServer(scripts)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
