"""Bounded load against the offline server: many concurrent calls, injected faults, no cross-talk.

Marked ``load`` (the quick run may deselect them with ``-m "not load"``); counts are fixed and
every test has a timeout. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage

from langchain_novita import ChatNovita
from llama_index_novita import NovitaAI
from novita_core.testing import Fault, OfflineNovitaServer

pytestmark = [pytest.mark.load, pytest.mark.timeout(120)]

CONCURRENT = 1000
FAULT_RATE = 0.05
FD_MARGIN = 10


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle_fds(limit: int, seconds: float = 5.0) -> int:
    """Collect garbage and wait for the server side to close its ends; the final count."""
    deadline = time.monotonic() + seconds
    while True:
        gc.collect()
        count = open_fds()
        if count <= limit or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def prompt(i: int) -> str:
    return f"req-{i} tail-{i * 7919 % 1000}"


def expected(i: int) -> str:
    return f"Echo: {prompt(i)}"


Call = Callable[[int], Awaitable[str]]


def make_calls(server: OfflineNovitaServer) -> list[Call]:
    """ChatNovita ainvoke/astream and NovitaAI achat/astream_chat, sharing one pool per class."""
    lc = ChatNovita(api_key=server.api_key, base_url=server.base_url, max_retries=8, timeout=60)
    li = NovitaAI(api_key=server.api_key, api_base=server.base_url, max_retries=8, timeout=60)

    async def lc_invoke(i: int) -> str:
        return str((await lc.ainvoke(prompt(i))).content)

    async def lc_stream(i: int) -> str:
        return "".join([str(chunk.content) async for chunk in lc.astream(prompt(i))])

    async def li_chat(i: int) -> str:
        response = await li.achat([ChatMessage(role="user", content=prompt(i))])
        return str(response.message.content)

    async def li_stream(i: int) -> str:
        pieces = [
            r.delta or ""
            async for r in await li.astream_chat([ChatMessage(role="user", content=prompt(i))])
        ]
        return "".join(pieces)

    return [lc_invoke, lc_stream, li_chat, li_stream]


def test_thousand_concurrent_async_calls_with_transient_faults() -> None:
    rng = random.Random(5)
    with OfflineNovitaServer(chunk_delay=0.001) as server:
        calls = make_calls(server)

        async def warm_up() -> None:
            # Import-time work (SSL contexts, lazy modules) happens before the FD baseline.
            await asyncio.gather(*(call(-1 - n) for n, call in enumerate(calls)))

        asyncio.run(warm_up())
        server.reset()
        before = settle_fds(limit=0, seconds=0.2)

        faults = [
            Fault.status(503, retry_after_ms=5) if rng.random() < 0.5 else Fault.reset()
            for _ in range(int(CONCURRENT * FAULT_RATE))
        ]
        for fault in faults:
            server.inject(fault)

        async def run_all() -> list[Any]:
            order = list(range(CONCURRENT))
            rng.shuffle(order)  # the kinds of call are interleaved in flight
            tasks = {i: asyncio.ensure_future(calls[i % len(calls)](i)) for i in order}
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            return [tasks[i].exception() or tasks[i].result() for i in range(CONCURRENT)]

        started = time.monotonic()
        answers = asyncio.run(run_all())
        elapsed = time.monotonic() - started

        errors = [a for a in answers if isinstance(a, BaseException)]
        assert errors == [], errors[:3]
        wrong = [(i, a) for i, a in enumerate(answers) if a != expected(i)]
        assert wrong == [], wrong[:5]  # each answer is its own prompt's: no cross-talk
        assert len(set(answers)) == CONCURRENT  # none lost, none duplicated

        assert server.pending_faults() == []  # every fault was hit ...
        sent = server.requests
        assert len(sent) == CONCURRENT + len(faults)  # ... and cost exactly one retry
        prompts = [r.json["messages"][-1]["content"] for r in sent]
        assert set(prompts) == {prompt(i) for i in range(CONCURRENT)}
        assert server.max_in_flight > 50, "the calls really overlapped"

        after = settle_fds(limit=before + FD_MARGIN)
        assert after <= before + FD_MARGIN, (before, after)
        print(f"\n{CONCURRENT} calls, {len(faults)} faults: {elapsed:.2f}s; fds {before}->{after}")


@pytest.mark.parametrize("max_concurrency", [8])
def test_batch_respects_max_concurrency_and_order(max_concurrency: int) -> None:
    with OfflineNovitaServer(latency=0.005) as server:
        llm = ChatNovita(api_key=server.api_key, base_url=server.base_url, max_retries=0)
        prompts = [prompt(i) for i in range(500)]
        started = time.monotonic()
        results = llm.batch(prompts, config={"max_concurrency": max_concurrency})
        elapsed = time.monotonic() - started
        assert [r.content for r in results] == [expected(i) for i in range(500)]
        assert len(server.requests) == 500
        assert 1 < server.max_in_flight <= max_concurrency
        print(f"\nbatch 500: {elapsed:.2f}s, max in flight {server.max_in_flight}")


@pytest.mark.parametrize("max_concurrency", [8])
def test_abatch_respects_max_concurrency_and_order(max_concurrency: int) -> None:
    with OfflineNovitaServer(latency=0.005) as server:
        llm = ChatNovita(api_key=server.api_key, base_url=server.base_url, max_retries=0)
        prompts = [prompt(i) for i in range(500)]
        results = asyncio.run(llm.abatch(prompts, config={"max_concurrency": max_concurrency}))
        assert [r.content for r in results] == [expected(i) for i in range(500)]
        assert len(server.requests) == 500
        assert 1 < server.max_in_flight <= max_concurrency
