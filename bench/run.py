"""Benchmark our adapters against the raw openai SDK and the LangChain / LlamaIndex anchors.

Usage (inside a venv with ``pip install -e '.[all]' -r bench/requirements.txt``):

```bash
python bench/run.py [--quick] [--out bench/results/latest.json]
```

The offline Novita server runs in a separate process (so it does not share our GIL); every
contender runs in its own long-lived worker process (``bench/worker.py``), and repetitions are
interleaved across contenders so that drift in machine load hits all of them alike. Everything
targets 127.0.0.1, uses fixed counts and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scale  # noqa: E402  (bench/ is not a package)

WORKER = HERE / "worker.py"
API_KEY = "bench-key"

RAW = "openai"
RAW_AIOHTTP = "openai+aiohttp"
NODE_TEXTS = "openai+nodes"
OURS = ("ChatNovita", "NovitaAI")
SYNC_CONTENDERS = (RAW, "ChatOpenAI", "ChatNovita", "OpenAILike", "NovitaAI")
ASYNC_CONTENDERS = (RAW, RAW_AIOHTTP, "ChatOpenAI", "ChatNovita", "OpenAILike", "NovitaAI")
BATCH_CONTENDERS = (RAW, "ChatOpenAI", "ChatNovita")
RERANK_CONTENDERS = (RAW, NODE_TEXTS, "ChatNovita", "NovitaAI")
# The physical floor (bench/floor.py): bare HTTP clients, no SDK, always run beside the rest.
FLOOR_SYNC = ("floor:httpx",)
FLOOR_ASYNC = ("floor:httpx", "floor:aiohttp")

IMPORTS = (
    "openai",
    # The frameworks' own base classes: a floor no adapter of theirs can import below.
    "langchain_core.language_models.chat_models",
    "langchain_openai",
    "langchain_novita",
    # ``from langchain_novita import ChatNovita``: the package itself loads its classes lazily.
    "langchain_novita.chat_models",
    "llama_index.core.llms.function_calling",
    "llama_index.llms.openai",
    "llama_index.llms.openai_like",
    "llama_index_novita",
)


@dataclass(frozen=True)
class Metric:
    """One timed metric: what the worker runs, how big, and the target for our adapters."""

    key: str
    title: str
    unit: str
    contenders: tuple[str, ...]
    sizes: dict[str, int]
    target: float | None = None
    note: str = ""


@dataclass
class Sizes:
    """Workload sizes for a full or a quick run."""

    reps: int
    invoke_n: int
    stream_n: int
    ainvoke_n: int
    astream_rounds: int
    batch_rounds: int
    import_reps: int
    rss_streams: int
    rss_words: int
    rerank_n: int


FULL = Sizes(
    reps=5,
    invoke_n=50,
    stream_n=5,
    ainvoke_n=128,
    astream_rounds=1,
    batch_rounds=1,
    import_reps=5,
    rss_streams=1000,
    rss_words=10,
    rerank_n=50,
)
QUICK = replace(
    FULL, reps=2, invoke_n=20, stream_n=2, import_reps=2, rss_streams=300, rss_words=5, rerank_n=20
)


def metrics_for(s: Sizes) -> list[Metric]:
    return [
        Metric(
            "invoke",
            "sync invoke (short reply)",
            "us/call",
            SYNC_CONTENDERS + FLOOR_SYNC,
            {"n": s.invoke_n},
            0.55,
        ),
        Metric(
            "stream",
            "sync stream (200-chunk reply)",
            "us/chunk",
            SYNC_CONTENDERS + FLOOR_SYNC,
            {"n": s.stream_n, "words": 200},
            0.35,
        ),
        Metric(
            "ainvoke",
            "async, 64 in flight",
            "us/call",
            ASYNC_CONTENDERS + FLOOR_ASYNC,
            {"n": s.ainvoke_n, "width": 64},
            0.45,
        ),
        Metric(
            "astream",
            "async stream, 16 x 200-chunk",
            "us/chunk",
            ASYNC_CONTENDERS + FLOOR_ASYNC,
            {"width": 16, "rounds": s.astream_rounds, "words": 200},
            0.35,
        ),
        Metric(
            "batch",
            "batch 64 prompts, max_concurrency=8",
            "us/prompt",
            BATCH_CONTENDERS,
            {"size": 64, "rounds": s.batch_rounds, "max_concurrency": 8},
            None,
            "raw = ThreadPoolExecutor(8).map(create)",
        ),
        Metric(
            "rerank",
            "rerank 100 documents, top_n=10",
            "us/call",
            RERANK_CONTENDERS,
            {"n": s.rerank_n, "documents": 100},
            1.10,
            "raw = client.post('/rerank'); ChatNovita / NovitaAI rows = each one's NovitaRerank; "
            "openai+nodes = raw, texts read from LlamaIndex nodes per call",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Processes


def bench_env() -> dict[str, str]:
    """Environment for children: no tracing, no proxies, no real Novita credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().endswith("_PROXY")
        and not k.upper().startswith(("NOVITA_", "LANGSMITH_", "LANGCHAIN_", "OPENAI_"))
    }
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        LANGCHAIN_TRACING_V2="false",
        LANGSMITH_TRACING="false",
        PYTHONDONTWRITEBYTECODE="",
    )
    env.pop("PYTHONDONTWRITEBYTECODE")
    return env


def raise_fd_limit() -> None:
    """1 000 concurrent streams need more than the usual 1 024 descriptors (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 16384 if hard == resource.RLIM_INFINITY else min(hard, 16384)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Server:
    """The offline server in its own process."""

    def __init__(self, log: TextIO) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "novita_core.testing", "--port", "0", "--api-key", API_KEY],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=bench_env(),
        )
        assert self.proc.stdout is not None
        line = read_line(self.proc.stdout, 30.0)
        if not line or not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"offline server did not start (got {line!r})")
        self.base_url = line.strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_line(stream: Any, timeout: float) -> str | None:
    """Read one line, or None if nothing complete arrives in ``timeout`` seconds."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return None
        line: str = stream.readline()
        return line or None
    finally:
        sel.close()


class WorkerProc:
    """A contender's worker process."""

    def __init__(self, name: str, base_url: str, log_dir: Path) -> None:
        self.name = name
        self.base_url = base_url
        self.log_path = log_dir / f"worker-{name.replace('+', '_')}.log"
        self.log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
            env=bench_env(),
        )
        self.error: str | None = None

    def send(self, cmd: dict[str, Any]) -> bool:
        if self.error is not None:
            return False
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            self.error = f"worker died (see {self.log_path})"
            return False
        return True

    def call(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.send(cmd):
            return {"ok": False, "error": self.error}
        return self.receive(timeout)

    def receive(self, timeout: float) -> dict[str, Any]:
        if self.error is not None:
            return {"ok": False, "error": self.error}
        assert self.proc.stdout is not None
        line = read_line(self.proc.stdout, timeout)
        if line is None and self.proc.poll() is not None:
            self.error = f"worker exited with {self.proc.returncode} (see {self.log_path})"
            return {"ok": False, "error": self.error}
        if line is None:
            self.error = f"no answer within {timeout:.0f}s (see {self.log_path})"
            self.kill()
            return {"ok": False, "error": self.error}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def init(self, api_key: str, timeout: float) -> dict[str, Any]:
        self.send_init(api_key)
        return self.finish_init(timeout)

    def send_init(self, api_key: str) -> None:
        self.send(
            {"op": "init", "contender": self.name, "base_url": self.base_url, "api_key": api_key}
        )

    def finish_init(self, timeout: float) -> dict[str, Any]:
        answer = self.receive(timeout)
        if not answer.get("ok"):
            self.error = answer.get("error", "init failed")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None and self.error is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"op": "exit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(15)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self.log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_workers(
    names: list[str], base_url: str, log_dir: Path, timeout: float, notes: list[str]
) -> dict[str, WorkerProc]:
    """Start all workers at once (imports run in parallel); drop those that fail to init."""
    pending = [WorkerProc(name, base_url, log_dir) for name in names]
    for w in pending:
        w.send_init(API_KEY)
    workers: dict[str, WorkerProc] = {}
    for w in pending:
        answer = w.finish_init(timeout)
        if answer.get("ok"):
            workers[w.name] = w
        else:
            msg = f"{w.name} skipped: {answer.get('error')}"
            print(f"  ! {msg}", flush=True)
            notes.append(msg)
            w.close()
    return workers


# ---------------------------------------------------------------------------------------------
# Statistics


def summarize(samples: list[float]) -> dict[str, Any]:
    """Median and spread of per-repetition figures."""
    if not samples:
        return {"samples": [], "median": None, "min": None, "max": None}
    return {
        "samples": [round(x, 3) for x in samples],
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
    }


def add_ratios(cells: dict[str, dict[str, Any]], base: str, target: float | None) -> None:
    """Ratio of each median to the baseline's median; pass/fail for our adapters."""
    ref = cells.get(base, {}).get("median")
    for name, cell in cells.items():
        med = cell.get("median")
        cell["ratio"] = med / ref if med is not None and ref else None
        judge(name, cell, target)


def judge(name: str, cell: dict[str, Any], target: float | None) -> None:
    """Mark one of our adapters' cells as passing or failing ``target`` by its ratio."""
    if target is not None and name in OURS and cell.get("ratio") is not None:
        cell["target"] = target
        cell["pass"] = cell["ratio"] <= target


def combine_runs(runs: list[dict[str, Any]], target_of: dict[str, float | None]) -> dict[str, Any]:
    """One table from several runs of the same cells: the median over the runs.

    Each run's ratios are taken within that run (its contenders shared its machine load), so
    a cell's ``ratio`` is the median of its per-run ratios and ``runs`` lists them; ``median``,
    ``min`` and ``max`` are over the per-run medians.
    """
    out: dict[str, Any] = {}
    for key, first in runs[0].items():
        cells: dict[str, dict[str, Any]] = {}
        for name in first["cells"]:
            per_run = [r[key]["cells"].get(name, {}) for r in runs]
            medians = [c["median"] for c in per_run if c.get("median") is not None]
            ratios = [c["ratio"] for c in per_run if c.get("ratio") is not None]
            cell = summarize(medians)
            cell["samples"] = [s for c in per_run for s in c.get("samples", [])]
            cell["runs"] = [round(r, 3) for r in ratios]
            cell["ratio"] = statistics.median(ratios) if ratios else None
            errors = [c["error"] for c in per_run if "error" in c]
            if errors:
                cell["error"] = errors[0]
            judge(name, cell, target_of.get(key))
            cells[name] = cell
        out[key] = {**first, "cells": cells}
    return out


# ---------------------------------------------------------------------------------------------
# Phases


def run_timed(
    workers: dict[str, WorkerProc], metrics: list[Metric], reps: int, timeout: float
) -> dict[str, Any]:
    """Interleave repetitions across contenders; repetition 0 is the warm-up."""
    samples: dict[str, dict[str, list[float]]] = {m.key: {} for m in metrics}
    errors: dict[str, dict[str, str]] = {m.key: {} for m in metrics}
    for rep in range(reps + 1):
        label = "warm-up" if rep == 0 else f"rep {rep}/{reps}"
        t_rep = time.perf_counter()
        for m in metrics:
            names = [n for n in m.contenders if n in workers]
            shift = rep % len(names) if names else 0
            for name in names[shift:] + names[:shift]:  # rotate the order each repetition
                answer = workers[name].call({"op": "run", "metric": m.key, **m.sizes}, timeout)
                if not answer.get("ok"):
                    if name not in errors[m.key]:
                        errors[m.key][name] = answer.get("error", "?")
                        print(f"  ! {name} / {m.key}: {errors[m.key][name]}", flush=True)
                    continue
                if rep > 0:
                    per_unit = answer["seconds"] / answer["units"] * 1e6
                    samples[m.key].setdefault(name, []).append(per_unit)
        print(f"  {label} done in {time.perf_counter() - t_rep:.1f}s", flush=True)
    out: dict[str, Any] = {}
    for m in metrics:
        cells = {n: summarize(samples[m.key].get(n, [])) for n in m.contenders if n in workers}
        for n, err in errors[m.key].items():
            cells.setdefault(n, summarize([]))["error"] = err
        add_ratios(cells, RAW, m.target)
        out[m.key] = {
            "title": m.title,
            "unit": m.unit,
            "sizes": m.sizes,
            "note": m.note,
            "baseline": RAW,
            "cells": cells,
        }
    return out


def run_imports(reps: int, timeout: float) -> dict[str, Any]:
    """Cold import time of each package, each in a fresh interpreter (median of ``reps``)."""
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "import {mod}\n"
        "sys.stdout.write(repr(time.perf_counter() - t))\n"
    )
    # One throw-away process imports everything, so that .pyc files exist before timing.
    warm = "\n".join(f"try:\n    import {m}\nexcept Exception:\n    pass" for m in IMPORTS)
    subprocess.run(
        [sys.executable, "-c", warm],
        capture_output=True,
        timeout=timeout,
        env=bench_env(),
    )
    cells: dict[str, dict[str, Any]] = {}
    for mod in IMPORTS:
        times: list[float] = []
        error = None
        for _ in range(reps):
            try:
                proc = subprocess.run(
                    [sys.executable, "-c", code.format(mod=mod)],
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    env=bench_env(),
                )
            except subprocess.TimeoutExpired:
                error = "timed out"
                break
            if proc.returncode != 0:
                error = (proc.stderr.strip().splitlines() or ["failed"])[-1][:300]
                break
            times.append(float(proc.stdout) * 1e3)
        cells[mod] = summarize(times)
        if error:
            cells[mod]["error"] = error
            print(f"  ! import {mod}: {error}", flush=True)
    add_ratios(cells, "openai", None)

    def vs(ours: str, anchor: str, target: float) -> dict[str, Any]:
        a, b = cells[ours].get("median"), cells[anchor].get("median")
        ratio = a / b if a is not None and b else None
        return {
            "ours": ours,
            "anchor": anchor,
            "ratio": ratio,
            "target": target,
            "pass": None if ratio is None else ratio <= target,
        }

    # Our import should cost well below the anchor's: at most half of it.
    checks = [
        vs("langchain_novita", "langchain_openai", 0.5),
        vs("llama_index_novita", "llama_index.llms.openai", 0.5),
    ]
    return {"unit": "ms", "baseline": "openai", "cells": cells, "checks": checks}


RSS_TARGET = 1.2
"""Most RSS growth for 1 000 open streams, as a multiple of the raw SDK's."""


def run_rss(
    names: list[str], base_url: str, s: Sizes, log_dir: Path, timeout: float, runs: int = 1
) -> dict[str, Any]:
    """Peak RSS for ``rss_streams`` concurrent async streams, each contender in a fresh process.

    With ``runs`` > 1 the contenders take turns ``runs`` times; each figure is the median over
    the turns, and a ratio is the median of the per-turn ratios.
    """
    turns: list[dict[str, dict[str, Any]]] = []
    for turn in range(runs):
        cells: dict[str, dict[str, Any]] = {}
        for name in names:
            cells[name] = rss_of(name, base_url, s, log_dir, timeout)
            c = cells[name]
            if "error" in c:
                print(f"  ! rss {name}: {c['error']}", flush=True)
                continue
            print(
                f"  {name}{f' (run {turn + 1}/{runs})' if runs > 1 else ''}: "
                f"+{c['delta_mib']:.1f} MiB (peak {c['peak_mib']:.1f} MiB), "
                f"{c['max_open']}/{c['streams']} open at once, {c['seconds']:.1f}s",
                flush=True,
            )
        ref = cells.get(RAW, {})
        for cell in cells.values():
            if "delta_mib" in cell and ref.get("delta_mib") and ref.get("peak_mib"):
                cell["ratio"] = cell["delta_mib"] / ref["delta_mib"]
                cell["peak_ratio"] = cell["peak_mib"] / ref["peak_mib"]
        turns.append(cells)
    combined: dict[str, dict[str, Any]] = {}
    for name in names:
        measured = [t[name] for t in turns if "delta_mib" in t[name]]
        if not measured:
            combined[name] = turns[0][name]
            continue
        cell = dict(measured[0])
        for key in ("delta_mib", "peak_mib", "seconds", "ratio", "peak_ratio"):
            values = [m[key] for m in measured if m.get(key) is not None]
            cell[key] = statistics.median(values) if values else None
        cell["max_open"] = min(m["max_open"] for m in measured)
        cell["errors"] = sum(m["errors"] for m in measured)
        cell["runs"] = [round(m["ratio"], 3) for m in measured if m.get("ratio") is not None]
        judge(name, cell, RSS_TARGET)
        combined[name] = cell
    return {
        "streams": s.rss_streams,
        "words": s.rss_words,
        "baseline": RAW,
        "runs": runs,
        "cells": combined,
    }


def rss_of(name: str, base_url: str, s: Sizes, log_dir: Path, timeout: float) -> dict[str, Any]:
    """One contender's RSS figures from a fresh worker process (or ``{"error": ...}``)."""
    barrier = 15.0
    w = WorkerProc(name, base_url, log_dir)
    try:
        answer = w.init(API_KEY, timeout)
        if answer.get("ok"):
            answer = w.call(
                {
                    "op": "rss",
                    "streams": s.rss_streams,
                    "words": s.rss_words,
                    "barrier_timeout": barrier,
                },
                timeout + barrier,
            )
    finally:
        w.close()
    if not answer.get("ok"):
        return {"error": answer.get("error", "?")}
    answer.pop("ok")
    return answer


# ---------------------------------------------------------------------------------------------
# Report


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def mark(cell: dict[str, Any]) -> str:
    if "pass" not in cell:
        return ""
    verdict = "PASS" if cell["pass"] else "FAIL"
    return f"<= {cell['target']:.2f} {verdict}"


def runs_of(cell: dict[str, Any]) -> str:
    """The per-run ratios of a cell combined from several runs."""
    if len(cell.get("runs", ())) < 2:
        return ""
    return "  runs: " + " ".join(f"{r:.2f}" for r in cell["runs"])


def print_table(result: dict[str, Any]) -> None:
    width = 100
    print()
    print("=" * width)
    meta = result["meta"]
    print(
        f"Novita bench - python {meta['python']}, openai {meta['versions'].get('openai')}, "
        f"{meta['cpus']} CPUs, load {meta['loadavg_before'][0]:.2f} -> "
        f"{meta['loadavg_after'][0]:.2f}, {meta['mode']}, {meta['reps']} reps"
        + (f" x {meta['runs']} runs" if meta.get("runs", 1) > 1 else "")
    )
    if meta.get("runs", 1) > 1:
        print(
            "median [min - max] of the runs' medians; ratio = median of the runs' ratios "
            "(each to the raw openai SDK median in its run)"
        )
    else:
        print("median [min - max]; ratio = median / raw openai SDK median in this run")
    print("floor:* = a bare HTTP client on the same server (JSON in and out, no SDK): the floor")
    print("=" * width)
    header = f"{'contender':<16}{'median':>12}{'spread':>26}{'ratio':>9}   target"
    for m in result["metrics"].values():
        print(f"\n{m['title']}  ({m['unit']})" + (f"  - {m['note']}" if m["note"] else ""))
        print(header)
        for name, c in m["cells"].items():
            if c.get("median") is None:
                print(f"{name:<16}{'skipped':>12}   {c.get('error', 'no data')[:60]}")
                continue
            spread = f"[{fmt(c['min'])} - {fmt(c['max'])}]"
            print(
                f"{name:<16}{fmt(c['median']):>12}{spread:>26}"
                f"{fmt(c.get('ratio'), 2):>9}   {mark(c)}{runs_of(c)}"
            )
    imp = result.get("imports")
    if imp:
        print("\ncold import in a fresh interpreter  (ms)")
        print(f"{'module':<30}{'median':>10}{'spread':>22}{'vs openai':>11}")
        for mod, c in imp["cells"].items():
            if c.get("median") is None:
                print(f"{mod:<30}{'skipped':>10}   {c.get('error', '')[:55]}")
                continue
            spread = f"[{fmt(c['min'])} - {fmt(c['max'])}]"
            print(f"{mod:<30}{fmt(c['median']):>10}{spread:>22}{fmt(c.get('ratio'), 2):>11}")
        for chk in imp["checks"]:
            verdict = "-" if chk["pass"] is None else ("PASS" if chk["pass"] else "FAIL")
            print(
                f"  {chk['ours']} / {chk['anchor']} = {fmt(chk['ratio'], 2)}"
                f"  (<= {chk['target']:.2f} {verdict})"
            )
    rss = result.get("rss")
    if rss:
        print(
            f"\npeak RSS, {rss['streams']} concurrent async streams of {rss['words']} chunks "
            "(MiB; fresh process each; ratio on the growth)"
        )
        print(f"{'contender':<16}{'growth':>9}{'peak':>9}{'ratio':>8}{'peak ratio':>12}   open")
        for name, c in rss["cells"].items():
            if "delta_mib" not in c:
                print(f"{name:<16}{'skipped':>9}   {c.get('error', '')[:60]}")
                continue
            extra = f"  errors={c['errors']}" if c["errors"] else ""
            print(
                f"{name:<16}{fmt(c['delta_mib']):>9}{fmt(c['peak_mib']):>9}"
                f"{fmt(c.get('ratio'), 2):>8}{fmt(c.get('peak_ratio'), 2):>12}   "
                f"{c['max_open']}/{c['streams']}{extra}  {mark(c)}{runs_of(c)}"
            )
    if result.get("scale"):
        scale.print_scale(result["scale"])
    if result["notes"]:
        print("\nnotes:")
        for note in result["notes"]:
            print(f"  - {note}")
    print()


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for dist in (
        "openai",
        "httpx",
        "aiohttp",
        "langchain-core",
        "langchain-openai",
        "llama-index-core",
        "llama-index-llms-openai",
        "llama-index-llms-openai-like",
        "novita-integrations",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="fewer, smaller repetitions (~1 min)")
    p.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    p.add_argument("--reps", type=int, default=None, help="override the repetition count")
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help="whole runs of the timed and RSS phases, reported as their median "
        "(default: 3, quick: 1)",
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated contenders to run (default: all), e.g. openai,ChatNovita",
    )
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated phases to skip: timed, imports, rss, scale",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per worker command")
    p.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="leave out the bare-HTTP floor rows (floor:httpx, floor:aiohttp)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.reps:
        sizes.reps = args.reps
    runs = args.runs or (1 if args.quick else 3)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    wanted = [n for n in ASYNC_CONTENDERS if not only or n in only]
    if only and RAW not in only:
        print("note: the raw openai SDK is the baseline; adding it", flush=True)
        wanted.insert(0, RAW)
    if args.floor:
        wanted += [n for n in FLOOR_ASYNC if n not in wanted]
    raise_fd_limit()
    t_start = time.perf_counter()
    notes: list[str] = []
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        notes.append(
            f"load average was {load_before[0]:.2f} at start: other processes were using CPU"
        )
    log_dir = Path(tempfile.mkdtemp(prefix="novita-bench-"))
    print(f"logs: {log_dir}", flush=True)
    with (log_dir / "server.log").open("w") as server_log:
        server = Server(server_log)
        print(f"offline server: {server.base_url} (pid {server.proc.pid})", flush=True)
        result: dict[str, Any] = {"metrics": {}, "imports": None, "rss": None, "scale": None}
        workers: dict[str, WorkerProc] = {}
        try:
            if "timed" not in skip:
                print("starting workers ...", flush=True)
                # The NovitaAI rerank row's reference runs in the timed phase only.
                timed = wanted + ([NODE_TEXTS] if "NovitaAI" in wanted else [])
                workers = start_workers(timed, server.base_url, log_dir, args.timeout, notes)
                if RAW not in workers:
                    raise RuntimeError("the raw openai SDK baseline did not start")
                metrics = metrics_for(sizes)
                per_run = []
                for run in range(runs):
                    print(
                        f"timed metrics, run {run + 1}/{runs} ({sizes.reps} reps + warm-up) ...",
                        flush=True,
                    )
                    per_run.append(run_timed(workers, metrics, sizes.reps, args.timeout))
                result["metrics"] = (
                    per_run[0]
                    if runs == 1
                    else combine_runs(per_run, {m.key: m.target for m in metrics})
                )
                for w in workers.values():
                    w.close()
                workers.clear()
            if "imports" not in skip:
                print("cold imports ...", flush=True)
                result["imports"] = run_imports(sizes.import_reps, args.timeout)
            if "rss" not in skip:
                print(f"peak RSS, {sizes.rss_streams} concurrent streams ...", flush=True)
                result["rss"] = run_rss(wanted, server.base_url, sizes, log_dir, args.timeout, runs)
            if "scale" not in skip:
                print("scale-out (fan-out, abatch vs semaphore, Ray Data) ...", flush=True)
                result["scale"] = scale.run_scale(args.quick, min(sizes.reps, 3), args.timeout)
        finally:
            for w in workers.values():
                w.close()
            server.stop()
    load_after = os.getloadavg()
    result["meta"] = {
        "mode": "quick" if args.quick else "full",
        "reps": sizes.reps,
        "runs": runs,
        "sizes": sizes.__dict__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "versions": versions(),
        "seconds": time.perf_counter() - t_start,
        "logs": str(log_dir),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    result["notes"] = notes
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} ({result['meta']['seconds']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
