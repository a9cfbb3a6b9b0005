"""LangChain integration for Novita AI: chat, text-completion, embedding and rerank models.

Each class is imported on first access (as ``langchain_core``'s own packages do), so using only
``NovitaEmbeddings`` never loads the chat-model and tracing machinery behind ``BaseChatModel``.

Example:
    ```python
    from langchain_novita import ChatNovita

    ChatNovita().invoke("Hello")
    ```
"""

from typing import TYPE_CHECKING

from novita_core import __version__
from novita_core._lazy import lazy_names

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


__getattr__ = lazy_names(__name__, _MODULES)


def __dir__() -> list[str]:
    return sorted(__all__)
