"""The model catalog: generated data, Novita's live listing over it, registrations on top."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from novita_core import NovitaClient, NovitaSettings, build_request
from novita_core.catalog import (
    DEFAULT_CHAT_MODEL,
    KNOWN_MODELS,
    ModelInfo,
    clear_cache,
    info_from_listing,
    lookup,
    register_model,
    require_tool_calling,
    response_cost,
)
from novita_core.testing import Fault, OfflineNovitaServer

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tools" / "data" / "novita-models.json"


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def client_for(server: OfflineNovitaServer, **kwargs: Any) -> NovitaClient:
    kwargs.setdefault("max_retries", 0)
    settings = NovitaSettings.resolve(api_key=server.api_key, base_url=server.base_url, **kwargs)
    return NovitaClient(settings)


def chat(model: str = "meta-llama/llama-3.3-70b-instruct") -> Any:
    return build_request("chat", {"model": model, "messages": [{"role": "user", "content": "hi"}]})


def source_models() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = json.loads(SOURCE.read_text())["models"]
    return models


def test_shipped_catalog_is_what_the_generator_makes() -> None:
    source_models()
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_catalog.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_model_of_the_data_file_is_known_as_the_data_says() -> None:
    models = source_models()
    assert len(models) >= 100
    for entry in models:
        info = lookup(entry["id"])
        assert info is not None, entry["id"]
        assert info.context_window == entry["limit"]["context"]
        assert info.max_output_tokens == entry["limit"]["output"]
        assert info.tool_calling is entry["tool_call"]
        assert info.reasoning is entry["reasoning"]
        assert info.structured_output is bool(entry.get("structured_output"))
        assert info.image_inputs is ("image" in entry["modalities"]["input"])
        assert info.input_price == entry["cost_usd_per_million"]["input"]
        assert info.cache_read_price == entry["cost_usd_per_million"].get("cache_read")


def test_embedding_and_rerank_models_are_added() -> None:
    assert KNOWN_MODELS["baai/bge-m3"].kind == "embedding"
    assert KNOWN_MODELS["baai/bge-m3"].embedding_dimensions == 1024
    assert KNOWN_MODELS["baai/bge-reranker-v2-m3"].kind == "rerank"
    assert KNOWN_MODELS["qwen/qwen3-reranker-8b"].kind == "rerank"


def test_the_default_chat_model_can_do_what_the_quickstarts_show() -> None:
    info = KNOWN_MODELS[DEFAULT_CHAT_MODEL]
    assert info.tool_calling and info.structured_output and info.kind == "chat"
    assert info.input_price is not None
    assert KNOWN_MODELS["meta-llama/llama-3.1-8b-instruct"].tool_calling is False


def test_importing_the_core_does_not_load_the_data() -> None:
    code = (
        "import novita_core, novita_core.catalog as c; "
        "assert c.KNOWN_MODELS._bundled is None; "
        "c.lookup('baai/bge-m3'); assert c.KNOWN_MODELS._bundled is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_listing_shape_is_parsed() -> None:
    info = info_from_listing(
        {
            "id": "meta-llama/llama-3.1-8b-instruct",
            "context_size": 131072,
            "max_output_tokens": 4096,
            "features": ["function-calling", "vision", "serverless"],
            "input_modalities": ["text", "image"],
            "input_token_price_per_m": 5700,
            "output_token_price_per_m": 12000,
            "status": 0,
            "display_name": "Llama 3.1 8B",
        }
    )
    assert info is not None
    assert info.context_window == 131072
    assert info.max_output_tokens == 4096
    assert info.tool_calling is True
    assert info.structured_output is False  # not in features: the listing decides
    assert info.image_inputs is True
    assert info.reasoning is False
    assert info.input_price == pytest.approx(0.57)
    assert info.output_price == pytest.approx(1.2)
    assert info.available is False
    assert info.name == "Llama 3.1 8B"


def test_listing_without_features_keeps_the_bundled_capabilities() -> None:
    info = info_from_listing({"id": "meta-llama/llama-3.3-70b-instruct", "context_size": 5})
    assert info is not None
    assert info.tool_calling is True
    assert info.context_window == 5


def test_first_request_reads_the_listing_once_and_it_wins(
    novita_server: OfflineNovitaServer,
) -> None:
    model = "meta-llama/llama-3.1-8b-instruct"
    novita_server.add_model(model, context_size=1_000_000, tool_calling=True)
    client = client_for(novita_server, model_listing=True)
    assert lookup(model, novita_server.base_url) == KNOWN_MODELS[model]  # nothing read yet
    assert novita_server.requests == []
    for _ in range(3):
        client.create(chat(model))
    paths = [(r.method, r.path) for r in novita_server.requests]
    assert paths[0] == ("GET", "/v3/openai/models")
    assert paths[1:] == [("POST", "/v3/openai/chat/completions")] * 3
    listed = lookup(model, novita_server.base_url)
    assert listed is not None
    assert listed.context_window == 1_000_000
    assert listed.tool_calling is True  # the bundled data says False; the listing wins
    assert lookup(model) == KNOWN_MODELS[model]  # other base URLs are not affected


async def test_async_first_request_reads_the_listing(novita_server: OfflineNovitaServer) -> None:
    novita_server.add_model("acme/async-model", context_size=4242)
    client = client_for(novita_server, model_listing=True)
    await client.acreate(chat("acme/async-model"))
    assert [r.method for r in novita_server.requests] == ["GET", "POST"]
    info = lookup("acme/async-model", novita_server.base_url)
    assert info is not None and info.context_window == 4242


def test_listing_is_off_with_the_setting(novita_server: OfflineNovitaServer) -> None:
    client_for(novita_server, model_listing=False).create(chat())
    assert [r.method for r in novita_server.requests] == ["POST"]


def test_failed_listing_is_not_retried_per_call(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(503, path="/models"), times=5)
    client = client_for(novita_server, model_listing=True, max_retries=2)
    for _ in range(3):
        client.create(chat())
    methods = [r.method for r in novita_server.requests]
    assert methods == ["GET", "POST", "POST", "POST"]  # one attempt, never the call's retries
    model = "meta-llama/llama-3.3-70b-instruct"
    assert lookup(model, novita_server.base_url) == KNOWN_MODELS[model]


def test_a_hanging_listing_is_bounded_and_never_blocks_lookups(
    novita_server: OfflineNovitaServer,
) -> None:
    novita_server.inject(Fault.stall(30, path="/models"))
    assert lookup(DEFAULT_CHAT_MODEL, novita_server.base_url) is not None
    assert novita_server.requests == []  # reading facts is never I/O
    client = client_for(novita_server, model_listing=True, timeout=0.5)
    reply = client.create(chat())  # the listing gives up after the call's (shorter) timeout
    assert reply["choices"][0]["message"]["content"] == "Echo: hi"


def test_register_model_wins_over_everything(novita_server: OfflineNovitaServer) -> None:
    model = "gryphe/mythomax-l2-13b"
    client_for(novita_server, model_listing=True).create(chat())
    try:
        register_model(ModelInfo(id=model, context_window=12345))
        assert lookup(model, novita_server.base_url) == ModelInfo(id=model, context_window=12345)
    finally:
        del KNOWN_MODELS[model]
    assert KNOWN_MODELS[model].context_window == 4096


def test_tools_on_a_model_that_cannot_call_them_are_refused() -> None:
    with pytest.raises(ValueError, match=r"meta-llama/llama-3.1-8b-instruct.*deepseek"):
        require_tool_calling("meta-llama/llama-3.1-8b-instruct")
    require_tool_calling("meta-llama/llama-3.3-70b-instruct")
    require_tool_calling("acme/unknown")  # unknown models may try


def test_cost_uses_cache_read_prices() -> None:
    usage = {
        "prompt_tokens": 1_000_000,
        "completion_tokens": 500_000,
        "prompt_tokens_details": {"cached_tokens": 400_000},
    }
    # deepseek-v4-flash: 0.14 in, 0.28 out, 0.028 cache read (USD per million)
    expected = 0.6 * 0.14 + 0.5 * 0.28 + 0.4 * 0.028
    assert response_cost("deepseek/deepseek-v4-flash", usage) == pytest.approx(expected)
    no_cache = {"prompt_tokens": 1000, "completion_tokens": 1000}
    assert response_cost("meta-llama/llama-3.3-70b-instruct", no_cache) == pytest.approx(
        (0.135 + 0.4) / 1000
    )
    # cached tokens on a model without a cache-read price: no guess
    assert response_cost("meta-llama/llama-3.3-70b-instruct", usage) is None
    assert response_cost("acme/unknown", no_cache) is None
    assert response_cost("baai/bge-m3", no_cache) is None
