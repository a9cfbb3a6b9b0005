"""LangChain integration for Novita AI: chat, text-completion, embedding and rerank models.

Each class is imported on first access (as ``langchain_core``'s own packages do), so using only
``NovitaEmbeddings`` never loads the chat-model and tracing machinery behind ``BaseChatModel``.

Example:
    ```python
    from langchain_novita import ChatNovita

    ChatNovita().invoke("Hello")
    ```
"""

import importlib
from typing import TYPE_CHECKING, Any

from novita_core import __version__

if TYPE_CHECKING:
    from langchain_novita.chat_models import ChatNovita
    from langchain_novita.embeddings import NovitaEmbeddings
    from langchain_novita.llms import Novita
    from langchain_novita.rerank import NovitaRerank

_MODULES = {
    "ChatNovita": "langchain_novita.chat_models",
    "Novita": "langchain_novita.llms",
    "NovitaEmbeddings": "langchain_novita.embeddings",
    "NovitaRerank": "langchain_novita.rerank",
}

__all__ = ["ChatNovita", "Novita", "NovitaEmbeddings", "NovitaRerank", "__version__"]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_novita' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
