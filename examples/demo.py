"""The demo: a LangChain chain and a LlamaIndex query on Novita.

With ``NOVITA_API_KEY`` set it talks to Novita; without it, it starts the offline
Novita-compatible server on 127.0.0.1 and says so. Run it with ``python3 dev.py demo``.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

from pydantic import BaseModel, Field

from novita_core.catalog import DEFAULT_CHAT_MODEL, lookup
from novita_core.testing import OfflineNovitaServer

# The default model calls tools and has structured outputs, which the LangChain part shows.
CHAT_MODEL = os.environ.get("NOVITA_DEMO_MODEL", DEFAULT_CHAT_MODEL)


def quick_answers() -> dict[str, Any]:
    """Switch reasoning off where the model can, so one-line answers stay short and cheap."""
    info = lookup(CHAT_MODEL)
    return {"thinking": {"type": "disabled"}} if info and info.reasoning_toggle else {}


def langchain_demo() -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.tools import tool

    from langchain_novita import ChatNovita

    print("\n== LangChain: prompt | ChatNovita | StrOutputParser")
    llm = ChatNovita(
        model=CHAT_MODEL,
        temperature=0.3,
        repetition_penalty=1.05,
        max_tokens=256,
        **quick_answers(),
    )
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a concise assistant."), ("human", "Explain {topic} in one line.")]
    )
    chain = prompt | llm | StrOutputParser()
    print(chain.invoke({"topic": "vector databases"}))

    print("\n== LangChain: streaming")
    for piece in chain.stream({"topic": "retrieval-augmented generation"}):
        print(piece, end="", flush=True)
    print()

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    print("\n== LangChain: tool calling")
    message = llm.bind_tools([multiply]).invoke("What is 6 multiplied by 7?")
    for call in message.tool_calls:
        print(f"{call['name']}({call['args']}) -> {multiply.invoke(call['args'])}")

    class City(BaseModel):
        name: str = Field(description="City name")
        country: str = Field(description="Country")

    print("\n== LangChain: structured output")
    print(repr(llm.with_structured_output(City).invoke("Name a city in Japan.")))

    print("\n== LangChain: usage and cost of one answer")
    answer = llm.invoke("Say hello in French.")
    print(answer.usage_metadata, "cost_usd:", answer.response_metadata.get("cost_usd"))


def llama_index_demo() -> None:
    from llama_index.core import Document, VectorStoreIndex

    from llama_index_novita import NovitaAI, NovitaEmbedding

    print("\n== LlamaIndex: VectorStoreIndex + NovitaEmbedding + NovitaAI query engine")
    documents = [
        Document(text="Novita AI serves open models behind an OpenAI-compatible API."),
        Document(text="The offline server in novita_core.testing mimics Novita on 127.0.0.1."),
        Document(text="LlamaIndex query engines retrieve context and ask the LLM to answer."),
    ]
    index = VectorStoreIndex.from_documents(documents, embed_model=NovitaEmbedding())
    llm = NovitaAI(model=CHAT_MODEL, max_tokens=256, **quick_answers())
    engine = index.as_query_engine(llm=llm)
    response = engine.query("What does the offline server do?")
    print(response)
    print(f"({len(response.source_nodes)} source nodes)")


def main() -> None:
    with ExitStack() as stack:
        if os.environ.get("NOVITA_API_KEY"):
            print("NOVITA_API_KEY is set: talking to Novita.")
        else:
            server = stack.enter_context(OfflineNovitaServer())
            os.environ["NOVITA_API_KEY"] = server.api_key
            os.environ["NOVITA_BASE_URL"] = server.base_url
            print(
                "NOVITA_API_KEY is not set: using the offline Novita-compatible server at "
                f"{server.base_url} (replies are deterministic, not a real model)."
            )
        langchain_demo()
        llama_index_demo()


if __name__ == "__main__":
    main()
