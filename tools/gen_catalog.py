#!/usr/bin/env python3
"""Generate the bundled model catalog, ``novita_core/data/models.json``, from models.dev data.

The source is the models.dev snapshot of Novita's catalog in ``tools/data/novita-models.json``
(one JSON object per model: tool_call, reasoning, structured_output, modalities, limits, prices,
reasoning options; its source commit and date inside). models.dev is MIT-licensed; its notice
is beside the snapshot and is written beside the output. Models the snapshot lacks (embedding
and rerank models) are added from :data:`EXTRA_MODELS` below.

    python3 tools/gen_catalog.py            # rewrite the shipped catalog
    python3 tools/gen_catalog.py --check    # exit 1 if the shipped catalog is out of date
    python3 tools/gen_catalog.py --source path/to/novita-models.json

To refresh the facts: replace the snapshot with a newer export of models.dev's
``providers/novita-ai`` (merged with each entry's ``base_model``), run this script, and commit
the result. At run time Novita's own ``GET /models`` still overrides what is shipped.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "tools" / "data" / "novita-models.json"
OUTPUT = ROOT / "novita_core" / "data" / "models.json"
LICENSE_OUTPUT = ROOT / "novita_core" / "data" / "LICENSE.models-dev"

MODELS_DEV_LICENSE = """\
The model facts in models.json are derived from models.dev (https://models.dev).

MIT License

Copyright (c) 2025 models.dev

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

EXTRA_MODELS: list[dict[str, Any]] = [
    # Novita's documented embedding model; 8K context and 1024 dimensions per its model card.
    {
        "id": "baai/bge-m3",
        "name": "BGE-M3",
        "kind": "embedding",
        "context_window": 8192,
        "embedding_dimensions": 1024,
    },
    # Novita's rerankers (POST /rerank); context lengths from the models' cards.
    {
        "id": "baai/bge-reranker-v2-m3",
        "name": "BGE Reranker v2 M3",
        "kind": "rerank",
        "context_window": 8192,
    },
    {
        "id": "qwen/qwen3-reranker-8b",
        "name": "Qwen3 Reranker 8B",
        "kind": "rerank",
        "context_window": 32768,
    },
]
"""Models the models.dev snapshot does not cover."""

INLINE_THINK_MODELS = ("qwen/qwen3-*-fp8",)
"""Patterns of models whose reasoning arrives inline in ``content`` as ``<think>...</think>``
(the original Qwen3 releases do this instead of sending ``reasoning_content``)."""


def _modalities(entry: dict[str, Any], side: str) -> list[str]:
    values = (entry.get("modalities") or {}).get(side) or ["text"]
    return [str(value) for value in values]


def _reasoning_controls(entry: dict[str, Any]) -> tuple[bool, list[str] | None]:
    toggle = False
    efforts: list[str] | None = None
    for option in entry.get("reasoning_options") or ():
        if option.get("type") == "toggle":
            toggle = True
        elif option.get("type") == "effort":
            efforts = [str(value) for value in option.get("values") or ()]
    return toggle, efforts


def convert(entry: dict[str, Any]) -> dict[str, Any]:
    """One models.dev entry as a catalog record (the shape ``novita_core.catalog`` reads)."""
    limit = entry.get("limit") or {}
    cost = entry.get("cost_usd_per_million") or {}
    toggle, efforts = _reasoning_controls(entry)
    inputs = _modalities(entry, "input")
    record: dict[str, Any] = {
        "id": entry["id"],
        "name": entry.get("name") or entry["id"],
        "kind": "chat",
        "context_window": int(limit["context"]),
        "max_output_tokens": int(limit["output"]) if limit.get("output") else None,
        "tool_calling": bool(entry.get("tool_call")),
        # models.dev leaves the flag out where it is unknown: treated as "no" until the live
        # listing says otherwise.
        "structured_output": bool(entry.get("structured_output")),
        "reasoning": bool(entry.get("reasoning")),
        "input_modalities": inputs,
        "output_modalities": _modalities(entry, "output"),
        "reasoning_toggle": toggle,
        "reasoning_efforts": efforts,
        "inline_think": any(fnmatch.fnmatch(entry["id"], p) for p in INLINE_THINK_MODELS),
        # Context-length price tiers are left out: the base prices are those of short prompts.
        "price": {
            key: float(value)
            for key, value in sorted(cost.items())
            if isinstance(value, (int, float))
        }
        or None,
        "release_date": entry.get("release_date"),
    }
    return record


def build(source: Path) -> dict[str, Any]:
    """The whole generated document from the snapshot at ``source``."""
    data = json.loads(source.read_text(encoding="utf-8"))
    records = [convert(entry) for entry in data["models"]]
    known = {record["id"] for record in records}
    records += [dict(extra) for extra in EXTRA_MODELS if extra["id"] not in known]
    records.sort(key=lambda record: record["id"])
    return {
        "generated_by": "tools/gen_catalog.py",
        "source": data.get("source"),
        "source_commit": data.get("source_commit"),
        "source_date": data.get("source_date"),
        "license": "MIT (models.dev); see LICENSE.models-dev",
        "models": records,
    }


def render(document: dict[str, Any]) -> str:
    """Stable text: one model per line, so a refresh shows as a readable diff."""
    head = {key: value for key, value in document.items() if key != "models"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "models": [']
    models = [json.dumps(record, sort_keys=True) for record in document["models"]]
    lines.append(",\n".join(models))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the catalog, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--check", action="store_true", help="fail if the output is stale")
    args = parser.parse_args(argv)
    text = render(build(args.source))
    if args.check:
        stale = [
            path.name
            for path, expected in ((OUTPUT, text), (LICENSE_OUTPUT, MODELS_DEV_LICENSE))
            if not path.exists() or path.read_text(encoding="utf-8") != expected
        ]
        if stale:
            print(
                f"{', '.join(stale)} out of date: run python3 tools/gen_catalog.py",
                file=sys.stderr,
            )
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    LICENSE_OUTPUT.write_text(MODELS_DEV_LICENSE, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(json.loads(text)['models'])} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
