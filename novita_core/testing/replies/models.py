"""The models the offline server knows (the core catalog's) and their ``GET /models`` listing."""

from __future__ import annotations

from typing import Any

from novita_core.catalog import KNOWN_MODELS, ModelInfo

__all__ = ["ModelInfo", "catalog_models", "listing"]


def catalog_models() -> dict[str, ModelInfo]:
    """The core catalog's models (the bundled ones and any registered), by id."""
    return {info.id: info for info in KNOWN_MODELS.values()}


def listing(info: ModelInfo) -> dict[str, Any]:
    """The ``GET /models`` entry for ``info``, in Novita's listing shape."""
    flags = (
        (info.tool_calling, "function-calling"),
        (info.structured_output, "structured-outputs"),
        ("image" in info.input_modalities, "vision"),
        (info.reasoning, "reasoning"),
    )
    features = [feature for on, feature in flags if on and info.kind == "chat"] + ["serverless"]
    entry: dict[str, Any] = {
        "id": info.id,
        "object": "model",
        "created": 1735689600,
        "title": info.id.split("/")[-1],
        "display_name": info.name or info.id.split("/")[-1],
        "description": f"Offline stand-in for {info.id}",
        "context_size": info.context_window,
        "max_output_tokens": info.max_output_tokens or info.context_window,
        "features": features,
        "input_modalities": list(info.input_modalities),
        "output_modalities": ["text"],
        "model_type": info.kind,
        "status": 1,
        "tags": [],
        "endpoints": ["openai"],
    }
    if info.input_price is not None and info.output_price is not None:
        # Novita lists prices in 1/10000 USD per million tokens.
        entry["input_token_price_per_m"] = round(info.input_price * 10_000)
        entry["output_token_price_per_m"] = round(info.output_price * 10_000)
    return entry
