"""What we know about Novita's models: context window, output limit, capabilities.

Two sources, in order of trust:

1. ``GET /models`` on the configured base URL, fetched lazily once per base URL and cached. It is
   Novita's own word for ``context_size`` but says nothing about capabilities.
2. ``KNOWN_MODELS``, a small built-in table. Its numbers come from Novita's public model pages and
   are marked uncertain in the reference sheet: users can override any entry with
   :func:`register_model`, and explicit constructor values in the adapters always win.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 8192
"""Context window assumed for a model that neither the catalog nor ``/models`` knows."""


@dataclass(frozen=True)
class ModelInfo:
    """One model's limits and capabilities.

    Args:
        id: The Novita model id, e.g. ``"meta-llama/llama-3.3-70b-instruct"``.
        context_window: Maximum prompt + completion tokens (Novita's ``context_size``).
        max_output_tokens: Largest ``max_tokens`` the model accepts, if known.
        tool_calling: Whether the model accepts ``tools``.
        structured_output: Whether the model honours ``response_format`` json_schema.
        reasoning: Whether the model returns ``reasoning_content``.
        image_inputs: Whether the model accepts ``image_url`` content parts.
        kind: ``"chat"`` or ``"embedding"``.
        embedding_dimensions: Vector length for embedding models.
    """

    id: str
    context_window: int = DEFAULT_CONTEXT_WINDOW
    max_output_tokens: int | None = None
    tool_calling: bool = True
    structured_output: bool = True
    reasoning: bool = False
    image_inputs: bool = False
    kind: str = "chat"
    embedding_dimensions: int | None = None


def _chat(model_id: str, context: int, output: int | None = None, **flags: Any) -> ModelInfo:
    return ModelInfo(id=model_id, context_window=context, max_output_tokens=output, **flags)


# Figures are Novita's published context sizes (reference sheet §7); capabilities are per the
# model families' documentation. All of it is marked [?] there: verify with GET /models.
KNOWN_MODELS: dict[str, ModelInfo] = {
    info.id: info
    for info in (
        _chat("meta-llama/llama-3.1-8b-instruct", 16384, 16384),
        _chat("meta-llama/llama-3.3-70b-instruct", 131072, 120000),
        _chat("meta-llama/llama-3-70b-instruct", 8192, 8000, tool_calling=False),
        _chat("meta-llama/llama-3.2-3b-instruct", 32768, 32000, tool_calling=False),
        _chat("deepseek/deepseek-v3-0324", 163840, 163840),
        _chat("deepseek/deepseek-v3.1", 131072, 32768),
        _chat("deepseek/deepseek-v3.2", 163840, 65536),
        _chat("deepseek/deepseek-r1-0528", 163840, 32768, reasoning=True),
        _chat("deepseek/deepseek-r1-turbo", 64000, 16000, reasoning=True),
        _chat("qwen/qwen3-235b-a22b-instruct-2507", 262144, 260000),
        _chat("qwen/qwen3-coder-480b-a35b-instruct", 262144, 65536),
        _chat("qwen/qwen-2.5-72b-instruct", 32000, 8192),
        _chat("qwen/qwen2.5-vl-72b-instruct", 32768, 32768, tool_calling=False, image_inputs=True),
        _chat("qwen/qwen3-8b-fp8", 128000, 20000, reasoning=True),
        _chat("zai-org/glm-4.5", 131072, 98304, reasoning=True),
        _chat("moonshotai/kimi-k2-instruct", 131072, 131072),
        _chat("openai/gpt-oss-120b", 131072, 32768, reasoning=True),
        _chat("mistralai/mistral-nemo", 60288, 16000),
        _chat("google/gemma-3-27b-it", 98304, 16384, tool_calling=False, image_inputs=True),
        _chat("gryphe/mythomax-l2-13b", 4096, 3200, tool_calling=False, structured_output=False),
        _chat("minimax/minimax-m2", 204800, 131072, reasoning=True),
        ModelInfo(
            id="baai/bge-m3",
            context_window=8192,
            tool_calling=False,
            structured_output=False,
            kind="embedding",
            embedding_dimensions=1024,
        ),
    )
}

DEFAULT_CHAT_MODEL = "meta-llama/llama-3.1-8b-instruct"
"""Inexpensive, tool-capable chat model used when the user names none."""

DEFAULT_EMBEDDING_MODEL = "baai/bge-m3"
"""Novita's documented embedding model (1024 dimensions)."""


def register_model(info: ModelInfo) -> None:
    """Add or replace a model in the built-in table (for models Novita added after this release)."""
    KNOWN_MODELS[info.id] = info


_fetched: dict[str, dict[str, ModelInfo]] = {}
_failed_at: dict[str, float] = {}
_fetch_lock = threading.Lock()

REFETCH_AFTER_FAILURE = 300.0
"""Seconds before a failed ``GET /models`` is tried again (the built-in table serves meanwhile)."""


def _may_fetch(base_url: str) -> bool:
    failed = _failed_at.get(base_url)
    return failed is None or time.monotonic() - failed >= REFETCH_AFTER_FAILURE


def _info_from_listing(entry: Mapping[str, Any]) -> ModelInfo | None:
    model_id = entry.get("id")
    if not isinstance(model_id, str):
        return None
    base = KNOWN_MODELS.get(model_id, ModelInfo(id=model_id))
    context = _positive_int(entry.get("context_size"))
    output = _positive_int(entry.get("max_output_tokens"))
    return dataclasses.replace(
        base,
        context_window=context or base.context_window,
        max_output_tokens=output or base.max_output_tokens,
    )


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def catalog_from_listing(entries: Iterable[Mapping[str, Any]]) -> dict[str, ModelInfo]:
    """Turn the ``data`` list of a ``GET /models`` answer into ``ModelInfo`` by id."""
    infos = (_info_from_listing(entry) for entry in entries)
    return {info.id: info for info in infos if info is not None}


def lookup(
    model: str,
    *,
    base_url: str | None = None,
    fetch: Callable[[], list[dict[str, Any]]] | None = None,
) -> ModelInfo | None:
    """Return what is known of ``model``: the server's listing if reachable, else the table.

    Args:
        model: Model id.
        base_url: Cache key for the listing; with ``fetch`` it enables the ``/models`` lookup.
        fetch: Callable returning the ``data`` list of ``GET /models``. A success is cached for
            the process; after a failure (logged) the built-in table serves and the fetch is
            tried again after :data:`REFETCH_AFTER_FAILURE` seconds.
    """
    if base_url is not None and fetch is not None:
        listing = _fetched.get(base_url)
        if listing is None and _may_fetch(base_url):
            with _fetch_lock:
                listing = _fetched.get(base_url)
                if listing is None and _may_fetch(base_url):
                    try:
                        listing = _fetched[base_url] = catalog_from_listing(fetch())
                    except Exception as exc:  # a catalog must never break a model call
                        logger.warning("Could not read the model list: %s", type(exc).__name__)
                        _failed_at[base_url] = time.monotonic()
        if listing and model in listing:
            return listing[model]
    return KNOWN_MODELS.get(model)


def cached_lookup(model: str, base_url: str | None = None) -> ModelInfo | None:
    """Like :func:`lookup` but never fetches: the listing is used only if already cached."""
    if base_url is not None and model in _fetched.get(base_url, {}):
        return _fetched[base_url][model]
    return KNOWN_MODELS.get(model)


def clear_cache() -> None:
    """Forget every fetched ``/models`` listing (tests, or after Novita adds models)."""
    with _fetch_lock:
        _fetched.clear()
        _failed_at.clear()
