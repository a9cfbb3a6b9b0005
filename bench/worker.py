"""A benchmark worker: one contender in its own process, driven by JSON lines on stdin.

Started by ``bench/run.py``; not meant to be run by hand. Protocol (one JSON object per line):

* ``{"op": "init", "contender": NAME, "base_url": URL, "api_key": KEY}``
* ``{"op": "run", "metric": METRIC, ...sizes}`` -> ``{"ok": true, "seconds": S, "units": U}``
* ``{"op": "rss", "streams": N, "words": W, "barrier_timeout": T}`` (fresh process only)
* ``{"op": "exit"}``

Every answer is ``{"ok": false, "error": "..."}`` when something raised. The worker keeps ONE
event loop for its whole life, so async clients keep their pools between repetitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders import CONTENDERS, Contender

SHORT_PROMPT = "Say hello to the benchmark"


RERANK_QUERY = "Which lighthouse keeper kept a logbook of storms?"


def rerank_documents(count: int) -> list[str]:
    """``count`` short, distinct documents; a few share words with :data:`RERANK_QUERY`."""
    topics = ("storms at sea", "a lighthouse logbook", "harbour fish prices", "keeper duties")
    return [
        f"Document {i} is about {topics[i % len(topics)]} in year {1900 + i}." for i in range(count)
    ]


def long_prompt(words: int) -> str:
    """A prompt whose offline reply is exactly ``words`` tokens (= streamed content chunks)."""
    return f"Tell me a long story about a lighthouse keeper [[words:{words}]]"


class Worker:
    """Holds the contender and the event loop; answers commands."""

    def __init__(self) -> None:
        self.contender: Contender | None = None
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

    # --- commands ---------------------------------------------------------------------------
    def init(self, cmd: dict[str, Any]) -> dict[str, Any]:
        cls = CONTENDERS[cmd["contender"]]
        t0 = time.perf_counter()
        self.contender = cls(cmd["base_url"], cmd["api_key"])
        built = time.perf_counter() - t0
        # Sanity check: the contender really talks to the offline server.
        reply = self.contender.invoke(SHORT_PROMPT)
        if "Echo" not in reply:
            raise RuntimeError(f"unexpected reply: {reply!r}")
        return {"ok": True, "construct_seconds": built, "reply": reply[:80]}

    def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        c = self.contender
        assert c is not None, "init first"
        metric = cmd["metric"]
        words = int(cmd.get("words", 200))
        t0 = time.perf_counter()
        items = 0
        if metric == "invoke":
            n = int(cmd["n"])
            for _ in range(n):
                c.invoke(SHORT_PROMPT)
            units = n
        elif metric == "stream":
            n = int(cmd["n"])
            prompt = long_prompt(words)
            for _ in range(n):
                items += c.stream(prompt)
            units = n * words
        elif metric == "batch":
            size, rounds = int(cmd["size"]), int(cmd["rounds"])
            prompts = [f"{SHORT_PROMPT} #{i}" for i in range(size)]
            for _ in range(rounds):
                items += c.batch(prompts, int(cmd["max_concurrency"]))
            units = size * rounds
        elif metric == "rerank":
            n = int(cmd["n"])
            documents = rerank_documents(int(cmd["documents"]))
            for _ in range(n):
                items += c.rerank(RERANK_QUERY, documents)
            units = n
        elif metric == "ainvoke":
            total, width = int(cmd["n"]), int(cmd["width"])
            self.loop.run_until_complete(self._ainvoke(c, total, width))
            units = total
        elif metric == "astream":
            width, rounds = int(cmd["width"]), int(cmd["rounds"])
            items = self.loop.run_until_complete(self._astream(c, width, rounds, words))
            units = width * rounds * words
        else:
            raise ValueError(f"unknown metric {metric!r}")
        seconds = time.perf_counter() - t0
        return {"ok": True, "seconds": seconds, "units": units, "items": items}

    @staticmethod
    async def _ainvoke(c: Contender, total: int, width: int) -> None:
        todo = iter(range(total))

        async def runner() -> None:
            for _ in todo:
                await c.ainvoke(SHORT_PROMPT)

        await asyncio.gather(*(runner() for _ in range(width)))

    @staticmethod
    async def _astream(c: Contender, width: int, rounds: int, words: int) -> int:
        prompt = long_prompt(words)

        async def runner() -> int:
            got = 0
            for _ in range(rounds):
                got += await c.astream(prompt)
            return got

        return sum(await asyncio.gather(*(runner() for _ in range(width))))

    def rss(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Peak RSS growth while ``streams`` async streams are open at the same time."""
        c = self.contender
        assert c is not None, "init first"
        streams, words = int(cmd["streams"]), int(cmd["words"])
        # Warm up: lazy imports, the async pool, the catalog lookup (if any).
        self.loop.run_until_complete(self._ainvoke(c, 8, 4))
        self.loop.run_until_complete(self._astream(c, 4, 1, words))
        gc.collect()
        base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats = self.loop.run_until_complete(
            self._many_streams(c, streams, words, float(cmd["barrier_timeout"]))
        )
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "ok": True,
            "baseline_mib": base_kb / 1024,
            "peak_mib": peak_kb / 1024,
            "delta_mib": (peak_kb - base_kb) / 1024,
            **stats,
        }

    @staticmethod
    async def _many_streams(
        c: Contender, streams: int, words: int, barrier_timeout: float
    ) -> dict[str, Any]:
        """Open ``streams`` streams, hold them all open after their first chunk, then drain."""
        prompt = long_prompt(words)
        all_open = asyncio.Event()
        state = {"open": 0, "max_open": 0, "chunks": 0, "errors": 0}
        t0 = time.perf_counter()

        async def one() -> None:
            it = c.astream_iter(prompt).__aiter__()
            try:
                await it.__anext__()
                state["chunks"] += 1
                state["open"] += 1
                state["max_open"] = max(state["max_open"], state["open"])
                if state["open"] >= streams:
                    all_open.set()
                try:
                    await asyncio.wait_for(all_open.wait(), barrier_timeout)
                except asyncio.TimeoutError:
                    all_open.set()  # a pool limit keeps some streams waiting: stop holding
                async for _ in it:
                    state["chunks"] += 1
                state["open"] -= 1
            except Exception:
                state["errors"] += 1
                raise

        results = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        return {
            "streams": streams,
            "max_open": state["max_open"],
            "chunks": state["chunks"],
            "errors": len(errors),
            "first_error": repr(errors[0])[:300] if errors else None,
            "seconds": time.perf_counter() - t0,
        }

    def close(self) -> None:
        if self.contender is not None:
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.contender.aclose())
        self.loop.close()


def main() -> int:
    # Keep the protocol channel clean: libraries that print go to stderr.
    channel: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    worker = Worker()
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "exit":
            break
        try:
            if op == "init":
                answer = worker.init(cmd)
            elif op == "run":
                answer = worker.run(cmd)
            elif op == "rss":
                answer = worker.rss(cmd)
            else:
                raise ValueError(f"unknown op {op!r}")
        except BaseException as exc:  # report everything, including ImportError
            traceback.print_exc()
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        channel.write(json.dumps(answer) + "\n")
    worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
