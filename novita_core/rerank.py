"""Reranking over Novita's ``POST /rerank``: requests, answer checks, batches and their merge.

A rerank call scores every document against one query. The request fields are validated by the
parameter table (:mod:`novita_core.params`, endpoint ``rerank``) before anything is sent. When
a model's limit on documents per request is known, longer inputs are split into requests of
that size; their scores are comparable (each is a query/document pair score of the same model),
so the answers merge into one list, best first, with indices into the caller's input.

The HTTP side is :meth:`novita_core.client.NovitaClient.rerank`; this module does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from novita_core.params import (
    RERANK,
    InvalidParameterError,
    Request,
    build_request,
    validate_params,
)

DEFAULT_RERANK_MODEL = "baai/bge-reranker-v2-m3"
"""Novita's documented rerank model."""

MAX_DOCUMENTS_PER_REQUEST: dict[str, int] = {}
"""Most documents one ``/rerank`` request may carry, per model id, where Novita states it.

Novita states no such limit for its rerankers, so this starts empty and an input goes in one
request. Set an entry (``MAX_DOCUMENTS_PER_REQUEST[model] = 100``) or pass ``max_documents=`` per
call, and longer inputs are split into requests of that size and merged back.
"""


def max_documents_for(model: str, override: int | None = None) -> int | None:
    """Documents per request for ``model``: ``override`` if given, else the known limit.

    Raises:
        InvalidParameterError: ``override`` is not an integer >= 1.
    """
    if override is None:
        return MAX_DOCUMENTS_PER_REQUEST.get(model)
    if isinstance(override, bool) or not isinstance(override, int) or override < 1:
        raise InvalidParameterError(
            f"max_documents must be an integer >= 1 or None, got {override!r}"
        )
    return override


class RerankOptions(TypedDict, total=False):
    """The keyword options of a rerank call, as :func:`plan_rerank` takes them.

    ``top_n`` (how many of the best documents to return; None: all), ``max_documents``
    (documents per request; None: the model's known limit) and ``extra_body`` (fields merged
    into each JSON body as given).

    Example:
        ```python
        client.rerank(model, "Where is Paris?", documents, top_n=2, max_documents=100)
        ```
    """

    top_n: int | None
    max_documents: int | None
    extra_body: Mapping[str, Any] | None


@dataclass(frozen=True)
class RerankBatch:
    """One ``/rerank`` request of a call and where its documents sit in the caller's input.

    Args:
        request: The validated request.
        offset: Position of its first document in the caller's list.
        size: How many documents it carries.
        expected: How many results its answer must hold (``top_n`` capped at ``size``).

    Example:
        >>> batch = plan_rerank(DEFAULT_RERANK_MODEL, "q", ["a", "b"]).batches[0]
        >>> batch.problem({"results": [{"index": 0, "relevance_score": 0.5}]})
        "Novita's rerank answer holds 1 result(s) for 2 expected"
    """

    request: Request
    offset: int
    size: int
    expected: int

    def problem(self, answer: Mapping[str, Any]) -> str | None:
        """What is wrong with ``answer`` for this request, or None when it is sound.

        Every result must name a distinct document of the request by ``index`` and carry a
        finite numeric ``relevance_score``; fewer results than asked for mean documents were
        lost.
        """
        results = answer.get("results")
        if not isinstance(results, list):
            return "Novita's rerank answer has no 'results' list"
        seen: set[int] = set()
        for result in results:
            index = result.get("index") if isinstance(result, Mapping) else None
            if isinstance(index, bool) or not isinstance(index, int):
                return f"Novita's rerank result {result!r} has no integer 'index'"
            if not 0 <= index < self.size:
                return f"Novita's rerank result index {index} is outside 0..{self.size - 1}"
            if index in seen:
                return f"Novita's rerank answer names document {index} twice"
            seen.add(index)
            score = result.get("relevance_score")
            if (
                isinstance(score, bool)
                or not isinstance(score, (int, float))
                or not math.isfinite(score)
            ):
                return f"Novita's rerank result {index} has a non-numeric relevance_score"
        if len(seen) < self.expected:
            return (
                f"Novita's rerank answer holds {len(seen)} result(s) for {self.expected} expected"
            )
        return None


@dataclass(frozen=True)
class RerankPlan:
    """The requests of one rerank call and how their answers merge.

    Args:
        batches: One entry per request (none for an empty input).
        top_n: How many results the merged answer keeps (None: all).

    Example:
        >>> plan = plan_rerank(DEFAULT_RERANK_MODEL, "q", ["a", "b", "c"], top_n=2, max_documents=2)
        >>> [batch.request.json()["documents"] for batch in plan.batches]
        [['a', 'b'], ['c']]
        >>> first = [{"index": 1, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.1}]
        >>> second = [{"index": 0, "relevance_score": 0.9}]
        >>> plan.merge([{"results": first}, {"results": second}])["results"]
        [{'index': 2, 'relevance_score': 0.9}, {'index': 1, 'relevance_score': 0.2}]
    """

    batches: tuple[RerankBatch, ...]
    top_n: int | None

    def merge(self, answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """One answer from each batch's (checked) answer, in batch order.

        Returns:
            ``{"results": [{"index", "relevance_score"}, ...], "usage": {...}}``: results best
            first (ties in input order), indices into the caller's list; usage summed over the
            requests.
        """
        results: list[dict[str, Any]] = []
        usage: dict[str, int] = {}
        for batch, answer in zip(self.batches, answers, strict=True):
            results.extend(
                {
                    "index": batch.offset + result["index"],
                    "relevance_score": float(result["relevance_score"]),
                }
                for result in answer["results"]
            )
            for key, value in (answer.get("usage") or {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    usage[key] = usage.get(key, 0) + value
        results.sort(key=lambda item: (-item["relevance_score"], item["index"]))
        if self.top_n is not None:
            del results[self.top_n :]
        return {"results": results, "usage": usage}


def plan_rerank(
    model: str,
    query: str,
    documents: Sequence[str],
    *,
    top_n: int | None = None,
    max_documents: int | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> RerankPlan:
    """Validate a rerank call and split it into requests.

    Args:
        model: Rerank model id.
        query: The query the documents are ranked for.
        documents: The texts; an empty list gives a plan with no request.
        top_n: How many of the best documents to return (None: all).
        max_documents: Documents per request; defaults to the model's known limit.
        extra_body: Fields merged into each JSON body as given.

    Raises:
        InvalidParameterError: a field is missing, of the wrong type or out of range (no
            request is sent).
    """
    docs = list(documents) if isinstance(documents, (list, tuple)) else documents
    limit = max_documents_for(model, max_documents)
    params: dict[str, Any] = {"model": model, "query": query, "top_n": top_n}
    validate_params(RERANK, params)  # the documents are checked once, in build_request
    if not isinstance(docs, list):
        build_request(RERANK, {**params, "documents": docs})  # raises: not a list
    if not docs:
        return RerankPlan((), top_n)
    size = limit or len(docs)
    batches = []
    for offset in range(0, len(docs), size):
        part = docs[offset : offset + size]
        # Asking a request for more results than it has documents is pointless; asking each
        # batch for the overall top_n keeps every document that can make the merged top_n.
        wanted = min(top_n, len(part)) if top_n is not None else len(part)
        request = build_request(
            RERANK,
            {**params, "documents": part, "top_n": wanted if top_n is not None else None},
            extra_body=extra_body,
        )
        batches.append(RerankBatch(request, offset, len(part), wanted))
    return RerankPlan(tuple(batches), top_n)
