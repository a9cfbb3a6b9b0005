"""LlamaIndex consumers end to end against the offline server: RAG, chat engine, agent, Settings."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCallResult
from llama_index.core.memory import ChatMemoryBuffer
from pydantic import BaseModel

from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core.testing import OfflineNovitaServer

DOCS = [
    Document(text="Novita hosts open models behind an OpenAI-compatible API."),
    Document(text="The capital of France is Paris."),
    Document(text="Bananas are yellow when ripe."),
]


@pytest.fixture
def index(embed: NovitaEmbedding) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, embed_model=embed)


def test_query_engine_sync(
    index: VectorStoreIndex, llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    response = engine.query("What is the capital of France?")
    assert "What is the capital of France?" in str(response)
    assert len(response.source_nodes) == 2
    chat = [r for r in server.requests if r.path.endswith("/chat/completions")]
    assert len(chat) == 1
    prompt = " ".join(m["content"] for m in chat[0].json["messages"])
    assert "Context information" in prompt
    embeds = [r.json["input"] for r in server.requests if r.path.endswith("/embeddings")]
    assert embeds == [[d.text for d in DOCS], ["What is the capital of France?"]]


def test_query_engine_streaming(index: VectorStoreIndex, llm: NovitaAI) -> None:
    engine = index.as_query_engine(llm=llm, streaming=True)
    response = engine.query("What colour are bananas?")
    text = "".join(response.response_gen)
    assert text.startswith("Echo:")
    assert "bananas" in text


def test_query_engine_async(index: VectorStoreIndex, llm: NovitaAI) -> None:
    engine = index.as_query_engine(llm=llm)
    response = asyncio.run(engine.aquery("Who hosts open models?"))
    assert "Who hosts open models?" in str(response)


def test_chat_engine_with_memory(
    index: VectorStoreIndex, llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    memory = ChatMemoryBuffer.from_defaults(token_limit=2000)
    engine = index.as_chat_engine(chat_mode="condense_plus_context", llm=llm, memory=memory)
    first = engine.chat("My name is Ada.")
    assert "Ada" in str(first)
    engine.chat("What is my name?")
    last_messages = server.requests[-1].json["messages"]
    assert any("My name is Ada." in (m["content"] or "") for m in last_messages)
    assert len(memory.get_all()) == 4


def test_function_agent_calls_python_tool(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    calls: list[tuple[int, int]] = []

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        calls.append((a, b))
        return a * b

    async def main() -> tuple[str, list[Any]]:
        agent = FunctionAgent(tools=[multiply], llm=llm, system_prompt="Use tools.")
        handler = agent.run("What is 6 times 7?")
        events = [event async for event in handler.stream_events()]
        return str(await handler), events

    answer, events = asyncio.run(main())
    assert calls == [(6, 7)]
    assert "42" in answer
    assert any(isinstance(e, ToolCallResult) for e in events)
    assert any(isinstance(e, AgentStream) for e in events)
    turn2 = server.last_request.json["messages"]
    assistant = next(m for m in turn2 if m["role"] == "assistant")
    tool_msg = next(m for m in turn2 if m["role"] == "tool")
    assert assistant["tool_calls"][0]["function"]["name"] == "multiply"
    assert tool_msg["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert tool_msg["content"] == "42"
    assert server.last_request.json["parallel_tool_calls"] is True


class City(BaseModel):
    name: str
    population: int


def test_structured_predict_end_to_end(llm: NovitaAI) -> None:
    from llama_index.core.prompts import PromptTemplate

    city = llm.structured_predict(
        City, PromptTemplate("Describe {city}"), city="'Paris' with 2100000 people"
    )
    assert city == City(name="Paris", population=2100000)


@pytest.fixture
def restore_settings() -> Iterator[None]:
    saved_llm = Settings._llm
    saved_embed = Settings._embed_model
    try:
        yield
    finally:
        Settings._llm = saved_llm
        Settings._embed_model = saved_embed


def test_global_settings(
    restore_settings: None, llm: NovitaAI, embed: NovitaEmbedding, server: OfflineNovitaServer
) -> None:
    Settings.llm = llm
    Settings.embed_model = embed
    assert Settings.llm is llm
    response = VectorStoreIndex.from_documents(DOCS).as_query_engine().query("Where is Paris?")
    assert "Where is Paris?" in str(response)
    assert any(r.path.endswith("/chat/completions") for r in server.requests)
