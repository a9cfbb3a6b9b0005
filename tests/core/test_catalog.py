"""The model catalog: GET /models first (cached), then the built-in table, then nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from novita_core import NovitaClient, NovitaSettings
from novita_core.catalog import (
    KNOWN_MODELS,
    ModelInfo,
    cached_lookup,
    clear_cache,
    lookup,
    register_model,
)
from novita_core.testing import Fault, OfflineNovitaServer


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def client_for(server: OfflineNovitaServer) -> NovitaClient:
    settings = NovitaSettings.resolve(
        api_key=server.api_key, base_url=server.base_url, max_retries=0
    )
    return NovitaClient(settings)


def test_models_listing_wins_and_is_fetched_once(novita_server: OfflineNovitaServer) -> None:
    novita_server.add_model("acme/long-context", context_size=1_000_000, max_output_tokens=4096)
    client = client_for(novita_server)
    for _ in range(3):
        info = lookup(
            "acme/long-context", base_url=novita_server.base_url, fetch=client.list_models
        )
        assert info is not None
        assert info.context_window == 1_000_000
        assert info.max_output_tokens == 4096
    assert [r.path for r in novita_server.requests] == ["/v3/openai/models"]
    assert cached_lookup("acme/long-context", novita_server.base_url) == info


def test_failed_listing_falls_back_to_the_table(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(503), times=5)
    client = client_for(novita_server)
    model = "meta-llama/llama-3.3-70b-instruct"
    for _ in range(3):
        assert (
            lookup(model, base_url=novita_server.base_url, fetch=client.list_models)
            == (KNOWN_MODELS[model])
        )
    assert len(novita_server.requests) == 1  # a failure is not retried on every lookup


def test_cached_lookup_never_fetches(novita_server: OfflineNovitaServer) -> None:
    assert cached_lookup("nobody/unknown", novita_server.base_url) is None
    assert novita_server.requests == []


def test_register_model_overrides_the_table() -> None:
    original = KNOWN_MODELS["gryphe/mythomax-l2-13b"]
    try:
        register_model(ModelInfo(id="gryphe/mythomax-l2-13b", context_window=12345))
        assert lookup("gryphe/mythomax-l2-13b") == ModelInfo(
            id="gryphe/mythomax-l2-13b", context_window=12345
        )
    finally:
        register_model(original)
