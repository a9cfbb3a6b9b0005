"""The models the offline server knows, and their ``GET /models`` listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ModelEntry:
    """One model the offline server knows.

    Args:
        id: Model id.
        context_size: Context window reported by ``/models``.
        max_output_tokens: Output limit reported by ``/models``.
        kind: ``"chat"``, ``"embedding"`` or ``"rerank"``.
        reasoning: Whether replies carry reasoning.
        dimensions: Embedding vector length for embedding models.
        tool_calling: Listed with the ``function-calling`` feature.
        structured_output: Listed with the ``structured-outputs`` feature.
        input_modalities: Listed ``input_modalities`` (``"image"`` adds the ``vision`` feature).
        input_price: USD per million prompt tokens (listed in 1/10000 USD), if known.
        output_price: USD per million completion tokens, if known.
        inline_think: Reasoning is written inline as ``<think>...</think>`` in ``content``
            instead of ``reasoning_content``.
        name: Display name.
    """

    id: str
    context_size: int = 8192
    max_output_tokens: int | None = None
    kind: str = "chat"
    reasoning: bool = False
    dimensions: int | None = None
    tool_calling: bool = True
    structured_output: bool = True
    input_modalities: tuple[str, ...] = ("text",)
    input_price: float | None = None
    output_price: float | None = None
    inline_think: bool = False
    name: str | None = None

    def features(self) -> list[str]:
        """The ``features`` list of Novita's listing for this model."""
        flags = (
            (self.tool_calling, "function-calling"),
            (self.structured_output, "structured-outputs"),
            ("image" in self.input_modalities, "vision"),
            (self.reasoning, "reasoning"),
        )
        return [feature for on, feature in flags if on and self.kind == "chat"] + ["serverless"]

    def listing(self) -> dict[str, Any]:
        """Return the ``GET /models`` entry for this model, in Novita's listing shape."""
        entry: dict[str, Any] = {
            "id": self.id,
            "object": "model",
            "created": 1735689600,
            "title": self.id.split("/")[-1],
            "display_name": self.name or self.id.split("/")[-1],
            "description": f"Offline stand-in for {self.id}",
            "context_size": self.context_size,
            "max_output_tokens": self.max_output_tokens or self.context_size,
            "features": self.features(),
            "input_modalities": list(self.input_modalities),
            "output_modalities": ["text"],
            "model_type": self.kind,
            "status": 1,
            "tags": [],
            "endpoints": ["openai"],
        }
        if self.input_price is not None and self.output_price is not None:
            # Novita lists prices in 1/10000 USD per million tokens.
            entry["input_token_price_per_m"] = round(self.input_price * 10_000)
            entry["output_token_price_per_m"] = round(self.output_price * 10_000)
        return entry


def catalog_models() -> dict[str, ModelEntry]:
    """One entry per model of the bundled catalog, by id."""
    from novita_core.catalog import KNOWN_MODELS

    return {
        info.id: ModelEntry(
            id=info.id,
            context_size=info.context_window,
            max_output_tokens=info.max_output_tokens,
            kind=info.kind,
            reasoning=info.reasoning,
            dimensions=info.embedding_dimensions,
            tool_calling=info.tool_calling,
            structured_output=info.structured_output,
            input_modalities=info.input_modalities,
            input_price=info.input_price,
            output_price=info.output_price,
            inline_think=info.inline_think,
            name=info.name,
        )
        for info in KNOWN_MODELS.values()
    }
