"""Every request parameter of the core's table has a typed field on each adapter class, and every
request field of an adapter class is a row of the table: adding a parameter is one row plus one
field per class, and this test fails when either is missing."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseLLM
from langchain_core.language_models.chat_models import BaseChatModel
from llama_index.core.llms.function_calling import FunctionCallingLLM

from langchain_novita import ChatNovita, Novita
from langchain_novita._common import NovitaConnection as LangChainConnection
from llama_index_novita import NovitaAI
from llama_index_novita._connection import NovitaLlamaConnection
from novita_core.params import CHAT, COMPLETIONS, Endpoint, bound_fields, field_parameters

NOT_FIELDS: dict[type[Any], set[str]] = {
    ChatNovita: set(),
    Novita: set(),
    NovitaAI: {"n"},  # a LlamaIndex answer holds one choice: n > 1 only in additional_kwargs
}
"""Rows deliberately without a field on a class, each with its reason."""

ADAPTER_OPTIONS = {
    # how the adapter sends, not what: no table row
    "streaming",
    "stream_usage",
    "model_kwargs",
    "extra_body",
    "additional_kwargs",
    "context_window",
    "is_chat_model",
    "is_function_calling_model",
    "reuse_client",
    "strict",
    "output_version",
    "disable_streaming",
    "use_batch_api",
    "batch_api_poll_interval",
    "batch_api_timeout",
    "max_concurrency",
}

CLASSES: list[tuple[type[Any], tuple[Endpoint, ...], type[Any], type[Any]]] = [
    (ChatNovita, (CHAT,), BaseChatModel, LangChainConnection),
    (Novita, (COMPLETIONS,), BaseLLM, LangChainConnection),
    (NovitaAI, (CHAT, COMPLETIONS), FunctionCallingLLM, NovitaLlamaConnection),
]


@pytest.mark.parametrize(
    ("cls", "endpoints", "framework", "connection"),
    CLASSES,
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_every_row_has_a_field_and_every_field_a_row(
    cls: type[Any], endpoints: tuple[Endpoint, ...], framework: type[Any], connection: type[Any]
) -> None:
    rows = set(field_parameters(*endpoints))
    assert not (rows - set(cls.model_fields) - NOT_FIELDS[cls]), "rows without a field"
    assert set(bound_fields(cls, *endpoints)) == rows - NOT_FIELDS[cls]
    own = set(cls.model_fields) - set(framework.model_fields) - set(connection.model_fields)
    unbound = own - rows - ADAPTER_OPTIONS
    assert not unbound, f"fields of {cls.__name__} that are not table rows: {sorted(unbound)}"
