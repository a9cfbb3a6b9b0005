"""The offline server's ``POST /rerank``: Novita's request checks and answer shape.

Scores are deterministic and meaningful, so retrieval tests can predict the order: a document's
``relevance_score`` is the share of the query's terms it contains, plus a small bonus for the
share of its own terms that are query terms (shorter on-topic documents win ties). Terms are
lower-cased words, minus a few stopwords. Results come back best first, ties in input order.
"""

from __future__ import annotations

import re
from typing import Any

from novita_core.testing.replies import ApiError, ModelInfo
from novita_core.testing.replies.common import check_ranges, hash_hex, require_model

__all__ = ["RERANK_PATH", "build_rerank", "relevance"]

RERANK_PATH = "/rerank"

_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        "a an and are as at be by do does for from how in is it of on or the to was what which "
        "who why with",
    )
)
_COVERAGE_WEIGHT = 0.9
_PRECISION_WEIGHT = 0.1


def _terms(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def relevance(query: str, document: str) -> float:
    """The offline score of ``document`` for ``query``, in ``[0, 1]``.

    Args:
        query: The query text.
        document: One document text.
    """
    wanted = _terms(query)
    present = _terms(document)
    shared = len(wanted & present)
    if not wanted or not present:
        return 0.0
    score = _COVERAGE_WEIGHT * shared / len(wanted) + _PRECISION_WEIGHT * shared / len(present)
    return round(score, 6)


def build_rerank(body: Any, models: dict[str, ModelInfo]) -> dict[str, Any]:
    """Validate a ``/rerank`` body like Novita and return the answer.

    Raises:
        ApiError: 400 for an invalid body or a model that does not rerank; 404 for an unknown
            model.
    """
    require_model(body, models, "rerank")
    query = body.get("query")
    if not isinstance(query, str) or not query:
        raise ApiError(400, "query is required and must be a non-empty string")
    documents = body.get("documents")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise ApiError(400, "documents must be a list of strings")
    if not documents:
        raise ApiError(400, "documents must not be empty")
    check_ranges(body, "rerank")
    top_n = body.get("top_n")
    scores = [relevance(query, text) for text in documents]
    order = sorted(range(len(documents)), key=lambda i: -scores[i])  # ties stay in input order
    scored = [
        {"index": i, "relevance_score": scores[i], "document": {"text": documents[i]}}
        for i in order
    ]
    tokens = len(_WORD.findall(query)) * len(documents) + sum(
        len(_WORD.findall(text)) for text in documents
    )
    return {
        "id": f"rerank-{hash_hex(body)}",
        "results": scored[:top_n] if top_n is not None else scored,
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    }
