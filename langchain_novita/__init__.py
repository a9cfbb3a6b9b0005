"""LangChain integration for Novita AI: chat, text-completion and embedding models.

Example:
    .. code-block:: python

        from langchain_novita import ChatNovita

        ChatNovita().invoke("Hello")
"""

from langchain_novita.chat_models import ChatNovita
from langchain_novita.embeddings import NovitaEmbeddings
from langchain_novita.llms import Novita
from novita_core import __version__

__all__ = ["ChatNovita", "Novita", "NovitaEmbeddings", "__version__"]
