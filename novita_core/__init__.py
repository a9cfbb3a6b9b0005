"""Framework-free core shared by ``langchain_novita`` and ``llama_index_novita``.

Everything that knows about Novita lives here: settings and env resolution, the parameter table,
the shared ``openai`` clients, the retry policy, the stream assembler, the model catalog and the
errors. The offline Novita-compatible server is in :mod:`novita_core.testing`.
"""

from typing import TYPE_CHECKING

from novita_core._lazy import lazy_names
from novita_core.catalog import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBEDDING_MODEL,
    KNOWN_MODELS,
    ModelInfo,
    register_model,
)
from novita_core.errors import MissingAPIKeyError, NovitaError
from novita_core.params import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    PARAMETERS,
    RERANK,
    InvalidParameterError,
    ParamSpec,
    Request,
    Wire,
    build_request,
    validate_params,
)
from novita_core.rerank import DEFAULT_RERANK_MODEL
from novita_core.retry_policy import RetryPolicy
from novita_core.settings import DEFAULT_BASE_URL, NovitaSettings
from novita_core.streaming import StreamAssembler, StreamDelta

__version__ = "0.1.0"

if TYPE_CHECKING:
    from novita_core._sdk_errors import (
        NovitaResponseError,
        NovitaServerError,
        NovitaStreamError,
        NovitaStreamServerError,
    )
    from novita_core.client import NovitaClient

# These need the openai SDK; importing it costs more than the rest of an adapter, so it happens
# on first use rather than on ``import novita_core``.
_LAZY = {
    "NovitaClient": "novita_core.client",
    "NovitaResponseError": "novita_core._sdk_errors",
    "NovitaStreamError": "novita_core._sdk_errors",
    "NovitaServerError": "novita_core._sdk_errors",
    "NovitaStreamServerError": "novita_core._sdk_errors",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = [
    "CHAT",
    "COMPLETIONS",
    "DEFAULT_BASE_URL",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_RERANK_MODEL",
    "EMBEDDINGS",
    "KNOWN_MODELS",
    "PARAMETERS",
    "RERANK",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "ModelInfo",
    "NovitaClient",
    "NovitaError",
    "NovitaResponseError",
    "NovitaServerError",
    "NovitaSettings",
    "NovitaStreamError",
    "NovitaStreamServerError",
    "ParamSpec",
    "Request",
    "RetryPolicy",
    "StreamAssembler",
    "StreamDelta",
    "Wire",
    "__version__",
    "build_request",
    "register_model",
    "validate_params",
]
