"""Novita AI for LlamaIndex: the ``NovitaAI`` LLM and ``NovitaEmbedding``.

Example:
    .. code-block:: python

        from llama_index_novita import NovitaAI, NovitaEmbedding

        llm = NovitaAI(model="meta-llama/llama-3.3-70b-instruct")
        embed_model = NovitaEmbedding()
"""

from llama_index_novita.base import NovitaAI
from llama_index_novita.embeddings import NovitaEmbedding
from novita_core import __version__

__all__ = ["NovitaAI", "NovitaEmbedding", "__version__"]
