"""NovitaEmbedding over HTTP: batching, order, async, validation, secrecy."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import ValidationError

from llama_index_novita import NovitaEmbedding
from novita_core import InvalidParameterError
from novita_core.testing import Fault, OfflineNovitaServer

TEXTS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def embedding_inputs(server: OfflineNovitaServer) -> list[object]:
    return [r.json["input"] for r in server.requests if r.path.endswith("/embeddings")]


def test_defaults(embed: NovitaEmbedding) -> None:
    assert isinstance(embed, BaseEmbedding)
    assert embed.model_name == "baai/bge-m3"
    assert embed.embed_batch_size == 10


def test_batches_respect_embed_batch_size_and_keep_order(server: OfflineNovitaServer) -> None:
    embed = NovitaEmbedding(api_key=server.api_key, api_base=server.base_url, embed_batch_size=2)
    vectors = embed.get_text_embedding_batch(TEXTS)
    assert embedding_inputs(server) == [["alpha", "beta"], ["gamma", "delta"], ["epsilon"]]
    assert len(vectors) == 5 and all(len(v) == 1024 for v in vectors)
    singles = [embed.get_text_embedding(text) for text in TEXTS]
    assert vectors == singles  # order preserved; deterministic server
    assert len({tuple(v) for v in vectors}) == 5
    assert server.last_request.json == {"model": "baai/bge-m3", "input": ["epsilon"]}


def test_query_and_async(embed: NovitaEmbedding, server: OfflineNovitaServer) -> None:
    query = embed.get_query_embedding("what is alpha")
    assert len(query) == 1024

    async def main() -> tuple[list[float], list[list[float]]]:
        aquery = await embed.aget_query_embedding("what is alpha")
        batch = await embed.aget_text_embedding_batch(TEXTS)
        return aquery, batch

    aquery, batch = asyncio.run(main())
    assert aquery == query
    assert batch == embed.get_text_embedding_batch(TEXTS)


def test_dimensions_reach_the_wire(server: OfflineNovitaServer) -> None:
    embed = NovitaEmbedding(api_key=server.api_key, api_base=server.base_url, dimensions=256)
    assert len(embed.get_text_embedding("x")) == 256
    assert server.last_request.json["dimensions"] == 256


def test_bad_arguments_fail_without_requests(server: OfflineNovitaServer) -> None:
    guess = r"'batch_size' \(did you mean 'embed_batch_size'\?\)"
    with pytest.raises(InvalidParameterError, match=guess):
        NovitaEmbedding(api_key=server.api_key, api_base=server.base_url, batch_size=3)
    with pytest.raises(InvalidParameterError):
        NovitaEmbedding(
            api_key=server.api_key, api_base=server.base_url, additional_kwargs={"top_k": 3}
        )
    with pytest.raises(ValidationError):
        NovitaEmbedding(api_key=server.api_key, api_base=server.base_url, embed_batch_size=0)
    assert server.requests == []


def test_key_secrecy_and_single_retry_layer(server: OfflineNovitaServer) -> None:
    secret = "sk-embedding-secret"
    embed = NovitaEmbedding(api_key=secret, api_base=server.base_url, max_retries=2)
    assert secret not in repr(embed)
    assert secret not in embed.to_json()
    assert secret not in json.dumps(embed.to_dict(), default=str)
    with pytest.raises(openai.AuthenticationError) as info:
        embed.get_text_embedding("x")
    assert secret not in str(info.value)
    server.reset()
    ok = NovitaEmbedding(api_key=server.api_key, api_base=server.base_url, max_retries=2)
    server.inject(Fault.status(503, retry_after_ms=5), times=5)
    with pytest.raises(openai.InternalServerError):
        ok.get_text_embedding("x")
    assert len(server.requests) == 3
