"""Reading JSON answers the same way in both adapters: embedding vectors, token counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
"""The token counts of an answer's ``usage`` (OpenAI's names)."""


def embedding_vectors(response: Mapping[str, Any], expected: int) -> list[list[float]]:
    """The embeddings of one ``/embeddings`` answer, in input order (the server may reorder).

    Raises:
        ValueError: the answer holds another number of embeddings than ``expected``.
    """
    items = sorted(response.get("data") or (), key=lambda item: item.get("index", 0))
    if len(items) != expected:
        raise ValueError(f"Novita returned {len(items)} embedding(s) for {expected} input(s)")
    return [list(item["embedding"]) for item in items]
