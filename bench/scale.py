"""Scale-out lines of the bench: bounded fan-out, abatch against a semaphore, Ray Data rows/s.

Run by ``bench/run.py`` (phase ``scale``) or by hand inside the bench venv:

```bash
python bench/scale.py [--quick]            # prints one JSON object
```

Each measurement runs in a fresh process (``--one NAME``) against an offline server in another
process, which also reports the most requests it saw in flight at once (meaningful for the
embedding line, whose replies take time to build). Everything targets 127.0.0.1, uses fixed
counts and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
API_KEY = "bench-key"
MODEL = "meta-llama/llama-3.1-8b-instruct"
ABATCH_PAIR = ("abatch:ChatNovita", "abatch:openai", "abatch:openai+aiohttp")


# -- the offline server in its own process, answering "stats" / "reset" on a pipe ---------------


def _serve(conn: Connection) -> None:
    from novita_core.testing import OfflineNovitaServer

    with OfflineNovitaServer(api_key=API_KEY) as server:
        conn.send(server.base_url)
        while True:
            command = conn.recv()
            if command == "stop":
                return
            if command == "reset":
                server.reset()
            conn.send({"max_in_flight": server.max_in_flight, "requests": len(server.requests)})


class ServerProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(60):
            raise RuntimeError("offline server did not start")
        self.base_url: str = self.conn.recv()

    def ask(self, command: str) -> dict[str, int]:
        self.conn.send(command)
        answer: dict[str, int] = self.conn.recv()
        return answer

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(15)
        if self.proc.is_alive():
            self.proc.kill()


# -- one measurement per process ----------------------------------------------------------------


def measure_embed(base_url: str, texts: int) -> dict[str, Any]:
    from langchain_novita import NovitaEmbeddings

    embeddings = NovitaEmbeddings(api_key=API_KEY, base_url=base_url)  # chunk_size 256, bound 4
    inputs = [f"document number {i} about lighthouses and keepers" for i in range(texts)]

    async def run() -> tuple[float, int]:
        await embeddings.aembed_documents(inputs[:8])  # warm the pool
        t0 = time.perf_counter()
        vectors = await embeddings.aembed_documents(inputs)
        return time.perf_counter() - t0, len(vectors)

    seconds, count = asyncio.run(run())
    assert count == texts
    return {"seconds": seconds, "units": texts, "max_concurrency": embeddings.max_concurrency}


def measure_abatch(base_url: str, contender: str, prompts: int, width: int) -> dict[str, Any]:
    inputs = [f"Say hello to prompt {i}" for i in range(prompts)]
    if contender == "abatch:ChatNovita":
        from langchain_novita import ChatNovita

        llm = ChatNovita(api_key=API_KEY, base_url=base_url, model=MODEL)  # type: ignore[arg-type]

        async def send_all() -> list[str]:
            replies = await llm.abatch(inputs, config={"max_concurrency": width})
            return [str(reply.content) for reply in replies]
    else:
        import openai

        http_client = openai.DefaultAioHttpClient() if contender.endswith("aiohttp") else None
        client = openai.AsyncOpenAI(
            api_key=API_KEY, base_url=base_url, max_retries=0, http_client=http_client
        )

        async def send_all() -> list[str]:
            gate = asyncio.Semaphore(width)

            async def one(prompt: str) -> str:
                async with gate:
                    reply = await client.chat.completions.create(
                        model=MODEL, messages=[{"role": "user", "content": prompt}]
                    )
                return reply.choices[0].message.content or ""

            return await asyncio.gather(*(one(p) for p in inputs))

    async def run() -> float:
        await send_all()  # warm-up: imports, pool, first-call costs
        t0 = time.perf_counter()
        answers = await send_all()
        seconds = time.perf_counter() - t0
        assert answers == [f"Echo: {p}" for p in inputs], "answers out of order"
        return seconds

    return {"seconds": asyncio.run(run()), "units": prompts}


def measure_ray(base_url: str, rows: int, actors: int) -> dict[str, Any]:
    import ray
    import ray.data

    from langchain_novita import ChatNovita

    class Answerer:  # the README recipe
        def __init__(self, llm: ChatNovita) -> None:
            self.llm = llm

        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            replies = self.llm.batch(list(batch["question"]), config={"max_concurrency": 4})
            batch["answer"] = [reply.content for reply in replies]
            return batch

    ray.init(
        num_cpus=actors, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False
    )
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        llm = ChatNovita(api_key=API_KEY, base_url=base_url, model=MODEL)  # type: ignore[arg-type]
        llm.invoke("warm up in the driver")
        items = [{"question": f"question {i}"} for i in range(rows)]
        dataset = ray.data.from_items(items).map_batches(
            Answerer,
            fn_constructor_kwargs={"llm": llm},
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=32,
        )
        t0 = time.perf_counter()
        first_at, first_rows, seen = 0.0, 0, 0
        for batch in dataset.iter_batches(batch_size=None):
            assert all(
                a == f"Echo: {q}" for q, a in zip(batch["question"], batch["answer"], strict=True)
            )
            if not seen:
                first_at, first_rows = time.perf_counter(), len(batch["answer"])
            seen += len(batch["answer"])
        seconds = time.perf_counter() - t0
        steady = (seen - first_rows) / (time.perf_counter() - first_at - 1e-9)
    finally:
        ray.shutdown()
    assert seen == rows
    return {"seconds": seconds, "units": rows, "actors": actors, "steady_rows_per_second": steady}


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    if args.one == "embed":
        return measure_embed(args.base_url, args.size)
    if args.one == "ray":
        return measure_ray(args.base_url, args.size, 2)
    return measure_abatch(args.base_url, args.one, args.size, 16)


# -- the phase ----------------------------------------------------------------------------------


def child(name: str, base_url: str, size: int, timeout: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__)), "--one", name, "--base-url", base_url]
    command += ["--size", str(size)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


def run_scale(quick: bool, reps: int, timeout: float) -> dict[str, Any]:
    """All scale lines; ``reps`` interleaved repetitions of the abatch pair."""
    texts, prompts, rows = (2_000, 2_000, 200) if quick else (20_000, 2_000, 2_000)
    server = ServerProcess()
    try:
        server.ask("reset")
        embed = child("embed", server.base_url, texts, timeout)
        embed["peak_in_flight"] = (
            server.ask("stats")["max_in_flight"] if "error" not in embed else None
        )

        samples: dict[str, list[float]] = {name: [] for name in ABATCH_PAIR}
        errors: dict[str, str] = {}
        for rep in range(reps):
            names = ABATCH_PAIR[rep % 2 :] + ABATCH_PAIR[: rep % 2]
            for name in names:
                server.ask("reset")
                answer = child(name, server.base_url, prompts, timeout)
                if "error" in answer:
                    errors[name] = answer["error"]
                    continue
                samples[name].append(answer["seconds"] / answer["units"] * 1e6)
        abatch: dict[str, Any] = {}
        for name, values in samples.items():
            abatch[name] = {
                "median_us_per_prompt": statistics.median(values) if values else None,
                "samples": [round(v, 1) for v in values],
                **({"error": errors[name]} if name in errors else {}),
            }
        ours, raw = (abatch[n]["median_us_per_prompt"] for n in ABATCH_PAIR[:2])
        ratio = ours / raw if ours and raw else None
        abatch["ratio"] = {
            "value": ratio,
            "target": 1.1,
            "pass": None if ratio is None else ratio <= 1.1,
        }

        server.ask("reset")
        ray_line = child("ray", server.base_url, rows, timeout * 2)
        if "error" not in ray_line:
            ray_line["rows_per_second"] = ray_line["units"] / ray_line["seconds"]
    finally:
        server.stop()
    return {
        "embed": {"texts": texts, **embed},
        "abatch": {"prompts": prompts, "max_concurrency": 16, **abatch},
        "ray": {"rows": rows, **ray_line},
    }


def print_scale(result: dict[str, Any]) -> None:
    embed, abatch, ray_line = result["embed"], result["abatch"], result["ray"]
    print("\nscale-out")
    if "error" in embed:
        print(f"  aembed_documents: skipped ({embed['error']})")
    else:
        print(
            f"  NovitaEmbeddings.aembed_documents({embed['texts']:,} texts): "
            f"{embed['seconds']:.2f}s, {embed['units'] / embed['seconds']:,.0f} texts/s, "
            f"peak in flight {embed['peak_in_flight']} (max_concurrency {embed['max_concurrency']})"
        )
    print(f"  {abatch['prompts']:,} prompts, 16 in flight (us/prompt, median):")
    for name in ABATCH_PAIR:
        cell = abatch[name]
        median = cell["median_us_per_prompt"]
        shown = "skipped" if median is None else f"{median:,.0f}"
        print(f"    {name:<24}{shown:>10}   {cell.get('error', '')}")
    ratio = abatch["ratio"]
    if ratio["value"] is not None:
        verdict = "PASS" if ratio["pass"] else "FAIL"
        print(f"    ChatNovita.abatch / (openai + Semaphore(16)) = {ratio['value']:.2f}", end="")
        print(f"  (<= 1.10 {verdict})")
    if "error" in ray_line:
        print(f"  Ray Data: skipped ({ray_line['error']})")
    else:
        print(
            f"  Ray Data recipe, {ray_line['rows']:,} rows on {ray_line['actors']} actors: "
            f"{ray_line['steady_rows_per_second']:,.0f} rows/s once the actors are up "
            f"({ray_line['rows_per_second']:,.0f} rows/s over {ray_line['seconds']:.1f}s "
            "including actor start-up)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args)))
        return 0
    reps = args.reps or (1 if args.quick else 3)
    result = run_scale(args.quick, reps, args.timeout)
    print_scale(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
