"""``POST /embeddings``: Novita's checks and deterministic unit vectors."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import struct
from typing import Any

from novita_core.testing.replies.common import (
    DEFAULT_EMBEDDING_DIMENSIONS,
    ApiError,
    check_ranges,
    require_model,
    text_inputs,
    word_count,
)
from novita_core.testing.replies.models import ModelInfo

__all__ = ["build_embeddings", "embed_text"]

_FEATURES_PER_WORD = 8


def embed_text(text: str, dimensions: int) -> list[float]:
    """Deterministic unit vector for ``text``.

    Words are feature-hashed (so texts sharing words have a higher cosine similarity, which makes
    retrieval tests meaningful) on top of a small per-text component that keeps distinct texts
    distinct.
    """
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    rng = random.Random(seed)
    vector = [(rng.random() - 0.5) * 0.02 for _ in range(dimensions)]
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4 * _FEATURES_PER_WORD).digest()
        for slot in struct.unpack(f">{_FEATURES_PER_WORD}I", digest):
            sign = 1.0 if slot & 1 else -1.0
            vector[(slot >> 1) % dimensions] += sign
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def build_embeddings(body: Any, models: dict[str, ModelInfo]) -> dict[str, Any]:
    """Validate an ``/embeddings`` body and return the response object.

    Raises:
        ApiError: For invalid bodies (400) and unknown models (404).
    """
    entry = require_model(body, models, "embedding")
    inputs = text_inputs(body.get("input"))
    if not inputs or not all(inputs):
        raise ApiError(400, "input must be a non-empty string, list of strings or token arrays")
    check_ranges(body, "embeddings")
    size = body.get("dimensions") or entry.embedding_dimensions or DEFAULT_EMBEDDING_DIMENSIONS
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, f"encoding_format must be float or base64, got {json.dumps(encoding)}")

    def encode(vector: list[float]) -> list[float] | str:
        if encoding == "float":
            return vector
        # The openai client asks for base64 by default: little-endian float32, like OpenAI.
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()

    tokens = sum(word_count(s) for s in inputs)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(embed_text(s, size))}
            for i, s in enumerate(inputs)
        ],
        "model": entry.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
