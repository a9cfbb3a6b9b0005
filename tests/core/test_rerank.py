"""Rerank over real HTTP: the parameter table, NovitaClient.rerank/arerank, the offline /rerank."""

from __future__ import annotations

import json
import threading
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

from novita_core import (
    DEFAULT_RERANK_MODEL,
    InvalidParameterError,
    NovitaClient,
    NovitaResponseError,
    NovitaSettings,
)
from novita_core.params import build_request
from novita_core.rerank import MAX_DOCUMENTS_PER_REQUEST
from novita_core.testing import Fault, OfflineNovitaServer
from novita_core.testing.rerank import relevance

MODEL = DEFAULT_RERANK_MODEL
QUERY = "capital of France"
DOCS = [
    "Bananas are yellow when ripe.",
    "Paris is the capital of France.",
    "France borders Spain and Italy.",
    "The capital of Italy is Rome.",
]


def make_client(server: OfflineNovitaServer, **kwargs: Any) -> NovitaClient:
    settings = NovitaSettings.resolve(
        api_key=kwargs.pop("api_key", server.api_key), base_url=server.base_url, **kwargs
    )
    return NovitaClient(settings)


def rerank_requests(server: OfflineNovitaServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/rerank")]


def test_request_json_order_and_scores(novita_server: OfflineNovitaServer) -> None:
    answer = make_client(novita_server).rerank(MODEL, QUERY, DOCS)
    assert rerank_requests(novita_server) == [{"model": MODEL, "query": QUERY, "documents": DOCS}]
    assert novita_server.last_request.path == "/v3/openai/rerank"
    assert [r["index"] for r in answer["results"]] == [1, 3, 2, 0]
    assert [r["relevance_score"] for r in answer["results"]] == [
        relevance(QUERY, DOCS[i]) for i in (1, 3, 2, 0)
    ]
    assert set(answer["results"][0]) == {"index", "relevance_score"}
    assert answer["usage"]["total_tokens"] > 0


def test_top_n_goes_on_the_wire_and_limits_the_answer(novita_server: OfflineNovitaServer) -> None:
    answer = make_client(novita_server).rerank(MODEL, QUERY, DOCS, top_n=2)
    assert [r["index"] for r in answer["results"]] == [1, 3]
    assert novita_server.last_request.json["top_n"] == 2
    # More than there are documents: capped at their number, all come back.
    answer = make_client(novita_server).rerank(MODEL, QUERY, DOCS[:2], top_n=10)
    assert novita_server.last_request.json["top_n"] == 2
    assert len(answer["results"]) == 2


async def test_async_rerank_matches_sync(novita_server: OfflineNovitaServer) -> None:
    client = make_client(novita_server)
    assert await client.arerank(MODEL, QUERY, DOCS, top_n=3) == client.rerank(
        MODEL, QUERY, DOCS, top_n=3
    )


def test_empty_documents_give_no_results_and_no_request(
    novita_server: OfflineNovitaServer,
) -> None:
    assert make_client(novita_server).rerank(MODEL, QUERY, []) == {"results": [], "usage": {}}
    assert novita_server.requests == []


@pytest.mark.parametrize(
    ("query", "documents", "top_n", "message"),
    [
        ("", DOCS, None, "query must not be empty"),
        (3, DOCS, None, "query must be a string"),
        (QUERY, "one text", None, "documents must be a list"),
        (QUERY, ["ok", 7], None, "documents must be a list of strings, got int 7 at position 1"),
        (QUERY, DOCS, 0, "top_n must satisfy top_n >= 1"),
        (QUERY, DOCS, True, "top_n must be an integer"),
        (QUERY, [], 0, "top_n must satisfy top_n >= 1"),
    ],
)
def test_bad_input_fails_before_any_request(
    novita_server: OfflineNovitaServer, query: Any, documents: Any, top_n: Any, message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        make_client(novita_server).rerank(MODEL, query, documents, top_n=top_n)
    assert novita_server.requests == []


def test_table_rows_for_rerank() -> None:
    request = build_request("rerank", {"model": MODEL, "query": "q", "documents": ["a"]})
    assert request.path == "/rerank"
    assert request.json() == {"model": MODEL, "query": "q", "documents": ["a"]}
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'temperature'"):
        build_request(
            "rerank", {"model": MODEL, "query": "q", "documents": ["a"], "temperature": 1}
        )
    with pytest.raises(InvalidParameterError, match="documents is required"):
        build_request("rerank", {"model": MODEL, "query": "q"})


def test_long_input_is_split_and_merged_in_one_order(
    novita_server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = [f"document {i} about {'France capital' if i % 3 == 0 else 'bananas'}" for i in range(7)]
    whole = make_client(novita_server).rerank(MODEL, QUERY, docs)
    monkeypatch.setitem(
        MAX_DOCUMENTS_PER_REQUEST, MODEL, 3
    )  # a known per-model limit splits the input
    split = make_client(novita_server).rerank(MODEL, QUERY, docs, top_n=4)
    sent = rerank_requests(novita_server)[1:]
    assert [r["documents"] for r in sent] == [docs[0:3], docs[3:6], docs[6:7]]
    assert [r["top_n"] for r in sent] == [3, 3, 1]
    assert split["results"] == whole["results"][:4]
    assert split["usage"] == whole["usage"]  # summed over the three requests
    # A per-call value wins over the model's.
    make_client(novita_server).rerank(MODEL, QUERY, docs, max_documents=5)
    assert [len(r["documents"]) for r in rerank_requests(novita_server)[4:]] == [5, 2]


async def test_async_split_sends_batches_concurrently_and_merges(
    novita_server: OfflineNovitaServer,
) -> None:
    docs = [f"text {i} {'capital France' if i in (2, 5) else 'other'}" for i in range(6)]
    answer = await make_client(novita_server).arerank(MODEL, QUERY, docs, max_documents=2)
    assert len(rerank_requests(novita_server)) == 3
    assert [r["index"] for r in answer["results"][:2]] == [2, 5]
    assert sorted(r["index"] for r in answer["results"]) == list(range(6))


def test_bad_max_documents_is_refused(novita_server: OfflineNovitaServer) -> None:
    with pytest.raises(InvalidParameterError, match="max_documents"):
        make_client(novita_server).rerank(MODEL, QUERY, DOCS, max_documents=0)
    assert novita_server.requests == []


@pytest.mark.parametrize("max_retries", [0, 2])
@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_cost_exactly_n_plus_one_requests(
    novita_server: OfflineNovitaServer, status: int, max_retries: int
) -> None:
    novita_server.inject(Fault.status(status, retry_after_ms=5, path="/rerank"), times=10)
    with pytest.raises(openai.APIStatusError) as info:
        make_client(novita_server, max_retries=max_retries).rerank(MODEL, QUERY, DOCS)
    assert info.value.status_code == status
    assert len(novita_server.requests) == max_retries + 1


def test_one_transient_error_is_retried(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(429, retry_after_ms=5), times=1)
    answer = make_client(novita_server, max_retries=2).rerank(MODEL, QUERY, DOCS, top_n=1)
    assert answer["results"][0]["index"] == 1
    assert len(novita_server.requests) == 2


async def test_async_errors_and_retries(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(502, retry_after_ms=5), times=1)
    answer = await make_client(novita_server, max_retries=1).arerank(MODEL, QUERY, DOCS)
    assert len(answer["results"]) == 4
    assert len(novita_server.requests) == 2
    with pytest.raises(openai.AuthenticationError):
        await make_client(novita_server, api_key="sk-wrong", max_retries=3).arerank(
            MODEL, QUERY, DOCS
        )
    assert len(novita_server.requests) == 3


def test_401_is_not_retried_and_the_key_never_shows(novita_server: OfflineNovitaServer) -> None:
    secret = "sk-rerank-secret-never-printed"
    client = make_client(novita_server, api_key=secret, max_retries=3)
    assert secret not in repr(client)
    with pytest.raises(openai.AuthenticationError) as info:
        client.rerank(MODEL, QUERY, DOCS)
    assert len(novita_server.requests) == 1
    assert "FAILED_TO_AUTH" in str(info.value)
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert secret not in rendered


def test_malformed_and_cut_answers_are_typed_errors(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.malformed_json(path="/rerank"), times=1)
    with pytest.raises(NovitaResponseError):
        make_client(novita_server, max_retries=0).rerank(MODEL, QUERY, DOCS)
    novita_server.inject(Fault.drop_stream(path="/rerank"), times=1)
    with pytest.raises(openai.APIConnectionError):
        make_client(novita_server, max_retries=0).rerank(MODEL, QUERY, DOCS)


# -- answers that break Novita's promises, from a server that sends exactly them -----------------


@pytest.fixture
def canned() -> Iterator[tuple[str, list[Any]]]:
    """A raw server on 127.0.0.1 answering every POST with the next queued JSON body."""
    answers: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.dumps(answers.pop(0)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v3/openai", answers
    finally:
        httpd.shutdown()
        httpd.server_close()


def _result(index: Any, score: Any = 0.5) -> dict[str, Any]:
    return {"index": index, "relevance_score": score}


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ([_result(0), _result(5)], "index 5 is outside 0..1"),
        ([_result(0), _result(-1)], "index -1 is outside"),
        ([_result(1), _result(1)], "names document 1 twice"),
        ([_result(0), _result("1")], "has no integer 'index'"),
        ([_result(0), _result(1, "high")], "non-numeric relevance_score"),
        ([_result(0), _result(1, None)], "non-numeric relevance_score"),
        ([_result(0)], "holds 1 result"),
        (None, "no 'results' list"),
    ],
)
def test_broken_answers_raise_a_typed_error(
    canned: tuple[str, list[Any]], results: Any, message: str
) -> None:
    base_url, answers = canned
    answers.append({"id": "x", "results": results})
    client = NovitaClient(NovitaSettings.resolve(api_key="k", base_url=base_url, max_retries=2))
    with pytest.raises(NovitaResponseError, match=message):
        client.rerank(MODEL, QUERY, ["a", "b"])
    assert answers == []  # one request: a broken answer is not retried


def test_unsorted_answer_comes_back_sorted(canned: tuple[str, list[Any]]) -> None:
    base_url, answers = canned
    answers.append({"results": [_result(0, 0.1), _result(2, 0.9), _result(1, 0.5)]})
    client = NovitaClient(NovitaSettings.resolve(api_key="k", base_url=base_url))
    answer = client.rerank(MODEL, QUERY, ["a", "b", "c"])
    assert [r["index"] for r in answer["results"]] == [2, 1, 0]


# -- the offline server's /rerank --------------------------------------------------------------


def post(server: OfflineNovitaServer, body: Any, **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        server.base_url + "/rerank",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {server.api_key}", **headers},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_server_answers_in_novitas_shape(novita_server: OfflineNovitaServer) -> None:
    status, answer = post(
        novita_server, {"model": MODEL, "query": QUERY, "documents": DOCS, "top_n": 2}
    )
    assert status == 200
    assert set(answer) == {"id", "results", "usage"}
    assert answer["results"] == [
        {"index": 1, "relevance_score": relevance(QUERY, DOCS[1]), "document": {"text": DOCS[1]}},
        {"index": 3, "relevance_score": relevance(QUERY, DOCS[3]), "document": {"text": DOCS[3]}},
    ]
    assert answer["usage"]["prompt_tokens"] == answer["usage"]["total_tokens"] > 0
    qwen = {"model": "qwen/qwen3-reranker-8b", "query": "q", "documents": ["q"]}
    assert post(novita_server, qwen)[1]["results"][0]["relevance_score"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"model": MODEL, "documents": ["a"]}, 400, "query is required"),
        ({"model": MODEL, "query": "q", "documents": []}, 400, "must not be empty"),
        ({"model": MODEL, "query": "q", "documents": [1]}, 400, "list of strings"),
        ({"model": MODEL, "query": "q", "documents": ["a"], "top_n": 0}, 400, "top_n"),
        ({"query": "q", "documents": ["a"]}, 400, "model is required"),
        ({"model": "baai/bge-m3", "query": "q", "documents": ["a"]}, 400, "not a rerank model"),
        ({"model": "nobody/nothing", "query": "q", "documents": ["a"]}, 404, "model not found"),
    ],
)
def test_server_refuses_bad_bodies_with_novitas_flat_error(
    novita_server: OfflineNovitaServer, body: Any, status: int, message: str
) -> None:
    code, answer = post(novita_server, body)
    assert code == status
    assert set(answer) == {"code", "reason", "message", "metadata"}
    assert answer["code"] == status and message in answer["message"]


def test_server_faults_apply_to_rerank(novita_server: OfflineNovitaServer) -> None:
    body = {"model": MODEL, "query": "q", "documents": ["a"]}
    code, answer = post(novita_server, body, **{"X-Offline-Fault": "status=429;retry_after=1"})
    assert (code, answer["reason"]) == (429, "RATE_LIMIT_EXCEEDED")
    novita_server.inject(Fault.status(503), times=1)
    assert post(novita_server, body)[0] == 503
    assert post(novita_server, body)[0] == 200


def test_server_accepts_added_rerank_models(novita_server: OfflineNovitaServer) -> None:
    novita_server.add_model("acme/rerank-1", kind="rerank")
    answer = make_client(novita_server).rerank("acme/rerank-1", QUERY, DOCS, top_n=1)
    assert answer["results"][0]["index"] == 1
