"""Profile one contender on one metric, against the offline server in a separate process.

Usage:

```bash
python bench/prof.py CONTENDER METRIC [--n N] [--top 25]

python bench/prof.py ChatNovita stream --n 20
python bench/prof.py openai ainvoke --n 256
```

Prints cProfile's top functions by own time and the own time summed per top-level package
(``openai``, ``httpx``, ``langchain_core``, ``novita_core``, ``pydantic``, ...), which is the
quickest way to see where an adapter spends its time compared with the raw SDK.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import API_KEY, Server, raise_fd_limit  # noqa: E402
from worker import Worker  # noqa: E402


def package_of(filename: str) -> str:
    """Top-level package of a code file (``<builtin>`` for C functions)."""
    if filename.startswith("~") or filename.startswith("<"):
        return "<builtin>"
    parts = Path(filename).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else filename
    for mine in ("novita_core", "langchain_novita", "llama_index_novita", "bench"):
        if mine in parts:
            return mine
    if "python3" in "".join(parts) or "lib" in parts:
        return "stdlib:" + Path(filename).stem
    return filename


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Profile one contender on one metric.")
    p.add_argument("contender")
    p.add_argument("metric", choices=["invoke", "stream", "ainvoke", "astream", "batch"])
    p.add_argument("--n", type=int, default=20, help="calls, streams or rounds")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    sizes: dict[str, dict[str, Any]] = {
        "invoke": {"n": args.n},
        "stream": {"n": args.n, "words": 200},
        "ainvoke": {"n": args.n, "width": 64},
        "astream": {"width": 16, "rounds": args.n, "words": 200},
        "batch": {"size": 64, "rounds": args.n, "max_concurrency": 8},
    }
    raise_fd_limit()
    with tempfile.TemporaryFile("w+") as log:
        server = Server(log)
        try:
            worker = Worker()
            print(
                worker.init(
                    {"contender": args.contender, "base_url": server.base_url, "api_key": API_KEY}
                )
            )
            cmd = {"metric": args.metric, **sizes[args.metric]}
            worker.run(cmd)  # warm-up
            prof = cProfile.Profile()
            prof.enable()
            answer = worker.run(cmd)
            prof.disable()
            worker.close()
        finally:
            server.stop()
    per_unit = answer["seconds"] / answer["units"] * 1e6
    print(f"\n{args.contender} / {args.metric}: {per_unit:,.1f} us per unit (under cProfile)\n")
    stats = pstats.Stats(prof)
    by_pkg: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_pkg[package_of(filename)] += tt
        total += tt
    print("own time per package (share of profiled time):")
    for pkg, tt in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {pkg:<32}{tt / answer['units'] * 1e6:>10.1f} us/unit  {tt / total:>6.1%}")
    print()
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
