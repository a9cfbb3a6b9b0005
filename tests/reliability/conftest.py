"""Shared setup for the reliability tests: no key or base URL from the developer's shell."""

from __future__ import annotations

import pytest

ENV_VARS = ("NOVITA_API_KEY", "NOVITA_BASE_URL", "NOVITA_API_BASE", "NOVITA_LOG_REQUEST_BODIES")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
