"""Against the real Novita API: run only when NOVITA_API_KEY is set (never in CI).

They use the default base URL and models, which are among the facts the README marks as
unconfirmed; a failure here is the first sign that one of them changed.
"""

from __future__ import annotations

import os

import pytest

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not os.environ.get("NOVITA_API_KEY") or bool(os.environ.get("NOVITA_OFFLINE")),
        reason="needs NOVITA_API_KEY (live Novita API)",
    ),
]


def test_chat_novita_invoke_and_stream() -> None:
    from langchain_novita import ChatNovita

    llm = ChatNovita(max_tokens=16, temperature=0)
    message = llm.invoke("Reply with the single word: pong")
    assert message.content
    assert message.usage_metadata and message.usage_metadata["total_tokens"] > 0
    chunks = list(llm.stream("Count from 1 to 3."))
    assert "".join(str(c.content) for c in chunks)
    assert any(c.usage_metadata for c in chunks)


def test_novita_ai_chat_and_models() -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_novita import NovitaAI

    llm = NovitaAI(max_tokens=16)
    assert llm.metadata.context_window > 0
    response = llm.chat([ChatMessage(role="user", content="Say hi")])
    assert response.message.content


def test_embeddings_have_the_documented_size() -> None:
    from langchain_novita import NovitaEmbeddings

    assert len(NovitaEmbeddings().embed_query("hello")) == 1024
