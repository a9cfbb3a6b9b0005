"""Novita (completions) and NovitaEmbeddings over real HTTP to the offline server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from langchain_core.load import dumps

from langchain_novita import Novita, NovitaEmbeddings
from novita_core.catalog import DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL
from novita_core.testing import OfflineNovitaServer
from tests.replies import text_completion

# -- Novita (BaseLLM) ----------------------------------------------------------------------------


def test_llm_invoke_sends_completions_body(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = Novita(**connect, temperature=0.1, max_tokens=20, repetition_penalty=1.2, top_k=8)
    assert llm.invoke("The capital of France is") == " Echo: The capital of France is"
    (request,) = server.requests
    assert request.path.endswith("/completions") and not request.path.endswith("chat/completions")
    assert request.json == {
        "model": DEFAULT_CHAT_MODEL,
        "prompt": "The capital of France is",
        "temperature": 0.1,
        "max_tokens": 20,
        "repetition_penalty": 1.2,
        "top_k": 8,
    }


def test_llm_generate_many_prompts_usage_and_logprobs(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    llm = Novita(**connect, logprobs=2)
    result = llm.generate(["one", "two words", "three little words"])
    assert [g[0].text for g in result.generations] == [
        " Echo: one",
        " Echo: two words",
        " Echo: three little words",
    ]
    assert result.generations[0][0].generation_info is not None
    logprobs = {"tokens": [" Echo:"], "token_logprobs": [-0.1], "top_logprobs": None}
    answer = text_completion(DEFAULT_CHAT_MODEL, " Echo:", logprobs=logprobs)
    server.script(json=answer, path="/completions")
    scripted = llm.generate(["one"]).generations[0][0].generation_info
    assert scripted is not None
    assert scripted["logprobs"]["tokens"]
    assert result.llm_output is not None
    usage = result.llm_output["token_usage"]
    assert usage["prompt_tokens"] == 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    agen = asyncio.run(llm.agenerate(["one", "two words"]))
    assert [g[0].text for g in agen.generations] == [" Echo: one", " Echo: two words"]


def test_llm_stream_and_astream(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    llm = Novita(**connect)
    assert "".join(llm.stream("a b c")) == " Echo: a b c"

    async def collect() -> str:
        return "".join([t async for t in llm.astream("a b c")])

    assert asyncio.run(collect()) == " Echo: a b c"
    assert server.requests[0].json["stream_options"] == {"include_usage": True}
    assert Novita(**connect, streaming=True).invoke("x y") == " Echo: x y"


def test_llm_validation_and_ls_params(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="logprobs"):
        Novita(**connect, logprobs=9)
    with pytest.raises(ValueError, match="Unknown parameter 'tools'"):
        Novita(**connect).invoke("x", tools=[])
    with pytest.raises(ValueError, match="best_of must be >= n"):
        Novita(**connect, n=3, best_of=2)
    assert server.requests == []
    llm = Novita(**connect, temperature=0.2)
    assert llm._get_ls_params()["ls_provider"] == "novita"
    assert llm._get_ls_params()["ls_model_type"] == "llm"
    assert connect["api_key"] not in repr(llm) + dumps(llm)


# -- NovitaEmbeddings ----------------------------------------------------------------------------


def test_embeddings_batches_preserve_order(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    embeddings = NovitaEmbeddings(**connect, chunk_size=2)
    texts = [f"text {i}" for i in range(5)]
    vectors = embeddings.embed_documents(texts)
    assert len(vectors) == 5 and all(len(v) == 1024 for v in vectors)
    assert [r.json["input"] for r in server.requests] == [texts[0:2], texts[2:4], texts[4:5]]
    assert all(r.json["model"] == DEFAULT_EMBEDDING_MODEL for r in server.requests)
    assert vectors[3] == embeddings.embed_query("text 3")
    assert asyncio.run(embeddings.aembed_documents(texts)) == vectors
    assert asyncio.run(embeddings.aembed_query("text 0")) == vectors[0]


def test_embeddings_empty_list_sends_nothing(
    server: OfflineNovitaServer, connect: dict[str, Any]
) -> None:
    embeddings = NovitaEmbeddings(**connect)
    assert embeddings.embed_documents([]) == []
    assert asyncio.run(embeddings.aembed_documents([])) == []
    assert server.requests == []


def test_embeddings_dimensions(server: OfflineNovitaServer, connect: dict[str, Any]) -> None:
    vector = NovitaEmbeddings(**connect, dimensions=256).embed_query("hi")
    assert len(vector) == 256
    assert server.requests[0].json == {
        "model": DEFAULT_EMBEDDING_MODEL,
        "input": ["hi"],
        "dimensions": 256,
    }


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dimensions": 0}, "dimensions"),
        ({"temperature": 1}, "temperature"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_embeddings_validation(
    server: OfflineNovitaServer, connect: dict[str, Any], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        NovitaEmbeddings(**connect, **kwargs)
    assert server.requests == []


# -- packaging -----------------------------------------------------------------------------------


def test_import_does_not_pull_llama_index() -> None:
    code = (
        "import sys, langchain_novita\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "assert not roots & {'llama_index', 'llama_index_novita'}, roots\n"
        "print(sorted(langchain_novita.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(
        ["ChatNovita", "Novita", "NovitaEmbeddings", "NovitaRerank", "__version__"]
    )
