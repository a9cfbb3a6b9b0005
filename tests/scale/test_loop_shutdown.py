"""Async pools are closed on every way a script can end its event loop.

Each case runs in a fresh interpreter with warnings as errors and development mode on (which
reports unclosed sockets and transports); stderr must stay clean.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from novita_core.testing import OfflineNovitaServer

pytestmark = pytest.mark.timeout(120)

SCRIPT = """
import asyncio, sys
from llama_index.core.llms import ChatMessage
from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from llama_index_novita import NovitaAI, NovitaEmbedding

url, key, transport, endings = sys.argv[1:5]
lc = {"api_key": key, "base_url": url, "async_transport": transport}
li = {"api_key": key, "api_base": url, "async_transport": transport}
model = "meta-llama/llama-3.3-70b-instruct"
chat, llm = ChatNovita(model=model, **lc), Novita(model=model, **lc)
embeddings, li_llm = NovitaEmbeddings(**lc), NovitaAI(model=model, **li)
li_embed = NovitaEmbedding(**li)


async def calls(tag):
    assert (await chat.ainvoke(tag)).content == "Echo: " + tag
    assert (await llm.ainvoke(tag)).strip() == "Echo: " + tag
    assert len(await embeddings.aembed_documents([tag, tag + "!"])) == 2
    reply = await li_llm.achat([ChatMessage(role="user", content=tag)])
    assert reply.message.content == "Echo: " + tag
    assert len(await li_embed.aget_text_embedding(tag)) == 1024
    async for _ in chat.astream(tag):
        pass


for number, ending in enumerate(endings.split(",")):
    loop = asyncio.new_event_loop()
    loop.run_until_complete(calls(f"loop {number}"))
    if ending == "close":  # no shutdown_asyncgens(): the pools must still be closed
        loop.close()
    elif ending == "close_raw":  # a loop whose close() cannot be wrapped (as uvloop's)
        type(loop).close(loop)
    # "open": never closed; its pools are closed at exit
print("ok")
"""


def run_script(server: OfflineNovitaServer, transport: str, endings: str) -> str:
    result = subprocess.run(
        [
            *(sys.executable, "-X", "dev", "-W", "error", "-c", SCRIPT),
            *(server.base_url, server.api_key, transport, endings),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.stdout.strip() == "ok", result.stderr[-3000:]
    assert "Unclosed" not in result.stderr, result.stderr[-3000:]
    return result.stderr


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_loops_closed_without_shutdown_asyncgens_or_never_closed_leave_nothing(
    transport: str, novita_server: OfflineNovitaServer
) -> None:
    # Two loops closed without shutdown_asyncgens() (the second made while the first's pools
    # existed), then one never closed: the wrapped close() runs the pools' shutdown inside each
    # loop, the exit hook closes the last. Not one unclosed socket or transport is reported.
    stderr = run_script(novita_server, transport, "close,close,open")
    # -X dev also reports slow callbacks on this busy machine ("Executing <Task ...> took").
    noise = [line for line in stderr.splitlines() if "took" not in line]
    assert not noise, stderr[-3000:]


def test_a_loop_closed_behind_our_back_leaves_no_unclosed_session(
    novita_server: OfflineNovitaServer,
) -> None:
    # A closed loop can no longer close its sockets the asyncio way (so -X dev may still list
    # transports), but the aiohttp sessions and connectors are closed: none is reported.
    run_script(novita_server, "aiohttp", "close_raw,close")
