"""Novita AI for LlamaIndex: the ``NovitaAI`` LLM, ``NovitaEmbedding`` and ``NovitaRerank``.

Example:
    ```python
    from llama_index_novita import NovitaAI, NovitaEmbedding, NovitaRerank

    llm = NovitaAI(model="meta-llama/llama-3.3-70b-instruct")
    embed_model = NovitaEmbedding()
    reranker = NovitaRerank(top_n=3)
    ```
"""

from llama_index_novita.base import NovitaAI
from llama_index_novita.embeddings import NovitaEmbedding
from llama_index_novita.rerank import NovitaRerank
from novita_core import __version__

__all__ = ["NovitaAI", "NovitaEmbedding", "NovitaRerank", "__version__"]
