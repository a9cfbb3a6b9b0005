"""The Batch API lifecycle over real HTTP to the offline server: exact requests, order, errors."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from novita_core import NovitaClient, NovitaSettings, build_request
from novita_core.batch import (
    BATCH_BASE_URLS,
    BatchClient,
    BatchFailedError,
    BatchLineError,
    BatchTimeoutError,
    build_lines,
    parse_results,
)
from novita_core.params import InvalidParameterError, Request
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
FILE_ID = "file-offline-000001"
BATCH_ID = "batch_offline_000002"
OUTPUT_ID = "file-offline-000003"


def make_batches(server: OfflineNovitaServer, **kwargs: Any) -> BatchClient:
    settings = NovitaSettings.resolve(
        api_key=server.api_key,
        base_url=server.base_url,
        max_retries=kwargs.pop("max_retries", 2),
    )
    return BatchClient(NovitaClient(settings), **kwargs)


def chat(text: str, **params: Any) -> Request:
    extra_body = params.pop("extra_body", None)
    messages = params.pop("messages", [{"role": "user", "content": text}])
    return build_request(
        "chat", {"model": MODEL, "messages": messages, **params}, extra_body=extra_body
    )


def uploaded_lines(server: OfflineNovitaServer, file_id: str = FILE_ID) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.batches.files[file_id].content.splitlines()]


def routes(server: OfflineNovitaServer) -> list[str]:
    prefix = "/v3/openai"
    return [f"{r.method} {r.path.removeprefix(prefix)}" for r in server.requests]


HAPPY_ROUTES = [
    "POST /files",
    "POST /batches",
    f"GET /batches/{BATCH_ID}",
    f"GET /batches/{BATCH_ID}",
    f"GET /files/{OUTPUT_ID}/content",
]


def test_submit_and_retrieve_send_exactly_the_documented_requests(
    novita_server: OfflineNovitaServer,
) -> None:
    waits: list[float] = []
    batches = make_batches(novita_server, sleep=waits.append)
    requests = [
        chat("first", temperature=0.2, top_k=5, extra_body={"custom_flag": True}),
        chat("second", temperature=0.2, top_k=5, extra_body={"custom_flag": True}),
    ]
    batch = batches.submit(requests)
    assert batch["id"] == BATCH_ID
    assert batch["status"] == "validating"

    upload = novita_server.requests[0]
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="purpose"\r\n\r\nbatch\r\n' in upload.body
    assert b'filename="batch.jsonl"' in upload.body
    assert uploaded_lines(novita_server) == [
        {
            "custom_id": f"request-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": request.json(),
        }
        for i, request in enumerate(requests)
    ]
    # The line bodies are what a live call sends: same builder, Novita extras merged in.
    assert uploaded_lines(novita_server)[0]["body"] == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "first"}],
        "temperature": 0.2,
        "top_k": 5,
        "custom_flag": True,
    }
    assert novita_server.requests[1].json == {
        "input_file_id": FILE_ID,
        "endpoint": "/v1/chat/completions",
        "completion_window": "48h",
    }

    results = batches.retrieve(batch["id"], poll_interval=0.5)
    assert [r["choices"][0]["message"]["content"] for r in results] == [
        "Echo: first",
        "Echo: second",
    ]
    assert routes(novita_server) == HAPPY_ROUTES
    assert waits == [0.5]
    assert all(r.authorized for r in novita_server.requests)


def test_results_come_back_in_input_order_although_the_output_file_is_shuffled(
    novita_server: OfflineNovitaServer,
) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    texts = [f"question {i}" for i in range(12)]
    batch = batches.submit([chat(text) for text in texts])
    results = batches.retrieve(batch["id"])
    assert [r["choices"][0]["message"]["content"] for r in results] == [
        f"Echo: {text}" for text in texts
    ]
    output = novita_server.batches.files[OUTPUT_ID].content.splitlines()
    written = [json.loads(line)["custom_id"] for line in output]
    assert sorted(written) == sorted(f"request-{i}" for i in range(12))
    assert written != [f"request-{i}" for i in range(12)]


def test_failed_lines_keep_their_place_with_their_own_error(
    novita_server: OfflineNovitaServer,
) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    requests = [
        chat("ok 0"),
        chat("", messages=[{"role": "wizard", "content": "bad role"}]),
        chat("ok 2"),
    ]
    batch = batches.submit(requests)
    results = batches.retrieve(batch["id"])
    assert isinstance(results[0], dict)
    assert isinstance(results[2], dict)
    error = results[1]
    assert isinstance(error, BatchLineError)
    assert (error.custom_id, error.index, error.status_code) == ("request-1", 1, 400)
    assert "INVALID_REQUEST_BODY" in str(error)
    assert "role is invalid" in str(error)
    sent = routes(novita_server)
    finished = batches.status(batch["id"])
    assert finished["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert sent[-2:] == [
        f"GET /files/{finished['output_file_id']}/content",
        f"GET /files/{finished['error_file_id']}/content",
    ]


def test_unknown_model_fails_every_line_in_the_error_file(
    novita_server: OfflineNovitaServer,
) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    requests = [
        build_request(
            "chat", {"model": "nobody/no-model", "messages": [{"role": "user", "content": q}]}
        )
        for q in ("a", "b")
    ]
    results = batches.retrieve(batches.submit(requests)["id"])
    assert [type(r) for r in results] == [BatchLineError, BatchLineError]
    assert all(r.status_code == 404 for r in results)
    assert "MODEL_NOT_FOUND" in str(results[0])


def test_completions_batch(novita_server: OfflineNovitaServer) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    requests = [
        build_request("completions", {"model": MODEL, "prompt": p, "max_tokens": 8})
        for p in ("Once", "Twice")
    ]
    batch = batches.submit(requests)
    assert novita_server.requests[1].json["endpoint"] == "/v1/completions"
    assert {line["url"] for line in uploaded_lines(novita_server)} == {"/v1/completions"}
    results = batches.retrieve(batch["id"])
    assert [r["choices"][0]["text"] for r in results] == [" Echo: Once", " Echo: Twice"]


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "at least one request"),
        (
            [chat("a"), build_request("completions", {"model": MODEL, "prompt": "b"})],
            "one endpoint",
        ),
        (
            [
                chat("a"),
                build_request(
                    "chat", {"model": "other/model", "messages": [{"role": "user", "content": "b"}]}
                ),
            ],
            "one model",
        ),
        ([chat("a", stream=True)], "stream=True"),
        ([build_request("embeddings", {"model": "baai/bge-m3", "input": "x"})], "does not take"),
    ],
)
def test_invalid_batches_are_refused_before_any_upload(
    novita_server: OfflineNovitaServer, requests: list[Request], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        make_batches(novita_server).submit(requests)
    assert novita_server.requests == []


def test_polling_backs_off_up_to_the_cap(novita_server: OfflineNovitaServer) -> None:
    novita_server.batches.polls_per_status = 4  # 4 polls validating, 4 in progress
    waits: list[float] = []
    batches = make_batches(novita_server, sleep=waits.append)
    batch = batches.submit([chat("slow")])
    assert batches.poll(batch["id"], poll_interval=20)["status"] == "completed"
    assert waits == [20, 30, 45, 60, 60, 60, 60]
    assert routes(novita_server).count(f"GET /batches/{BATCH_ID}") == 8


def test_polling_starts_small_and_grows_by_half(novita_server: OfflineNovitaServer) -> None:
    novita_server.batches.polls_per_status = 2
    waits: list[float] = []
    batches = make_batches(novita_server, sleep=waits.append)
    batches.poll(batches.submit([chat("x")])["id"], poll_interval=1)
    assert waits == [1, 1.5, 2.25]


def test_deadline_raises_a_typed_timeout_and_leaves_the_batch_running(
    novita_server: OfflineNovitaServer,
) -> None:
    novita_server.batches.polls_per_status = 1000
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    waits: list[float] = []
    batches = make_batches(novita_server, sleep=sleep, clock=lambda: now[0])
    batch = batches.submit([chat("x")])
    with pytest.raises(BatchTimeoutError) as caught:
        batches.retrieve(batch["id"], poll_interval=4, timeout=10)
    assert isinstance(caught.value, TimeoutError)
    assert (caught.value.batch_id, caught.value.status) == (BATCH_ID, "validating")
    assert waits == [4, 6]  # the last wait is cut to the deadline
    assert routes(novita_server).count(f"GET /batches/{BATCH_ID}") == 3


@pytest.mark.parametrize(("poll_interval", "timeout"), [(0, 10), (-1, 10), (1, -1)])
def test_bad_wait_arguments_are_refused_before_polling(
    novita_server: OfflineNovitaServer, poll_interval: float, timeout: float
) -> None:
    with pytest.raises(InvalidParameterError):
        make_batches(novita_server).poll("batch_x", poll_interval=poll_interval, timeout=timeout)
    assert novita_server.requests == []


def test_cancel_before_it_runs_gives_every_line_an_error(
    novita_server: OfflineNovitaServer,
) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    batch = batches.submit([chat("a"), chat("b")])
    cancelling = batches.cancel(batch["id"])
    assert cancelling["status"] == "cancelling"
    assert routes(novita_server)[-1] == f"POST /batches/{BATCH_ID}/cancel"
    results = batches.retrieve(batch["id"])
    assert batches.status(batch["id"])["status"] == "cancelled"
    assert all(isinstance(r, BatchLineError) for r in results)
    assert "cancelled" in str(results[0])


def test_cancel_in_progress_keeps_the_lines_already_answered(
    novita_server: OfflineNovitaServer,
) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    batch = batches.submit([chat(f"q{i}") for i in range(4)])
    assert batches.status(batch["id"])["status"] == "in_progress"
    batches.cancel(batch["id"])
    results = batches.retrieve(batch["id"])
    assert [isinstance(r, dict) for r in results] == [True, True, False, False]
    assert results[1]["choices"][0]["message"]["content"] == "Echo: q1"


def test_a_rejected_input_file_fails_the_batch_as_a_whole(
    novita_server: OfflineNovitaServer,
) -> None:
    batches = make_batches(novita_server, sleep=lambda _: None)
    _, lines = build_lines([chat("a"), chat("b")])
    lines[1]["body"]["model"] = "other/model"  # Novita: one model per file
    uploaded = batches.upload(lines)
    batch = batches.create(uploaded["id"], "/v1/chat/completions")
    with pytest.raises(BatchFailedError, match="mixed_models") as caught:
        batches.retrieve(batch["id"])
    assert caught.value.batch["status"] == "failed"


RETRY_STEPS = [("/files", 0), ("/batches", 1), (f"/batches/{BATCH_ID}", 2), ("/content", 4)]
POLL = f"GET /batches/{BATCH_ID}"
CONTENT = f"GET /files/{OUTPUT_ID}/content"
# Per step: the routes of two failed attempts, then those of the attempt that works. A retried
# create first lists the batches (the failed attempt may have made it): the fault on "/batches"
# also hits that listing.
RETRIED_STEPS = [
    ("/files", 0, ["POST /files"] * 2, ["POST /files"]),
    ("/batches", 1, ["POST /batches", "GET /batches"], ["GET /batches", "POST /batches"]),
    (f"/batches/{BATCH_ID}", 2, [POLL] * 2, [POLL]),
    ("/content", 4, [CONTENT] * 2, [CONTENT]),
]


@pytest.mark.parametrize(("path", "before", "failed", "success"), RETRIED_STEPS)
def test_5xx_on_each_step_is_retried_with_exact_request_counts(
    novita_server: OfflineNovitaServer,
    path: str,
    before: int,
    failed: list[str],
    success: list[str],
) -> None:
    novita_server.inject(Fault.status(503, retry_after_ms=1, path=path), times=2)
    batches = make_batches(novita_server, sleep=lambda _: None, max_retries=2)
    batch = batches.submit([chat("a")])
    batches.retrieve(batch["id"])
    expected = [*HAPPY_ROUTES[:before], *failed, *success, *HAPPY_ROUTES[before + 1 :]]
    assert routes(novita_server) == expected
    assert len(novita_server.batches.batches) == 1


@pytest.mark.parametrize(("path", "before", "failed", "success"), RETRIED_STEPS)
def test_5xx_beyond_the_retries_raises_after_max_retries_plus_one(
    novita_server: OfflineNovitaServer,
    path: str,
    before: int,
    failed: list[str],
    success: list[str],
) -> None:
    novita_server.inject(Fault.status(503, retry_after_ms=1, path=path), times=3)
    batches = make_batches(novita_server, sleep=lambda _: None, max_retries=2)
    with pytest.raises(openai.InternalServerError):
        batches.retrieve(batches.submit([chat("a")])["id"])
    # Three attempts: the third fails on its first request.
    assert routes(novita_server) == [*HAPPY_ROUTES[:before], *failed, success[0]]


def test_a_create_whose_answer_was_lost_is_not_submitted_twice(
    novita_server: OfflineNovitaServer,
) -> None:
    # The server makes the batch, then cuts the answer off: the retry finds that batch.
    novita_server.inject(Fault.drop_stream(path="/batches"))
    batches = make_batches(novita_server, sleep=lambda _: None, max_retries=1)
    batch = batches.submit([chat("once")])
    assert batch["id"] == BATCH_ID
    assert list(novita_server.batches.batches) == [BATCH_ID]
    assert routes(novita_server) == ["POST /files", "POST /batches", "GET /batches"]


async def test_async_create_retry_finds_the_batch_already_made(
    novita_server: OfflineNovitaServer,
) -> None:
    novita_server.inject(Fault.drop_stream(path="/batches"))
    batches = make_batches(novita_server, async_sleep=_no_sleep, max_retries=1)
    assert (await batches.asubmit([chat("once")]))["id"] == BATCH_ID
    assert len(novita_server.batches.batches) == 1


@pytest.mark.parametrize(("path", "before"), RETRY_STEPS)
def test_401_on_each_step_is_not_retried(
    novita_server: OfflineNovitaServer, path: str, before: int
) -> None:
    novita_server.inject(Fault.status(401, path=path))
    batches = make_batches(novita_server, sleep=lambda _: None, max_retries=2)
    with pytest.raises(openai.AuthenticationError) as caught:
        batches.retrieve(batches.submit([chat("a")])["id"])
    assert len(novita_server.requests) == before + 1
    assert novita_server.api_key not in str(caught.value)


def test_wrong_key_fails_the_upload_and_is_never_printed(
    novita_server: OfflineNovitaServer,
) -> None:
    settings = NovitaSettings.resolve(api_key="sk-secret-123", base_url=novita_server.base_url)
    batches = BatchClient(NovitaClient(settings))
    assert "sk-secret-123" not in repr(batches)
    with pytest.raises(openai.AuthenticationError) as caught:
        batches.submit([chat("a")])
    assert "sk-secret-123" not in str(caught.value)
    assert routes(novita_server) == ["POST /files"]


async def test_async_lifecycle_matches_the_sync_one(novita_server: OfflineNovitaServer) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    batches = make_batches(novita_server, async_sleep=sleep)
    batch = await batches.asubmit([chat("a"), chat("b")])
    assert (await batches.astatus(batch["id"]))["status"] == "in_progress"
    results = await batches.aretrieve(batch["id"], poll_interval=2)
    assert [r["choices"][0]["message"]["content"] for r in results] == ["Echo: a", "Echo: b"]
    assert routes(novita_server) == HAPPY_ROUTES
    assert waits == []  # the explicit status call already moved it on: one poll finished it
    other = await batches.asubmit([chat("c")])
    assert (await batches.acancel(other["id"]))["status"] == "cancelling"


async def test_async_5xx_then_401(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(502, retry_after_ms=1, path="/files"))
    novita_server.inject(Fault.status(401, path="/content"))
    batches = make_batches(novita_server, async_sleep=_no_sleep)
    batch = await batches.asubmit([chat("a")])
    with pytest.raises(openai.AuthenticationError):
        await batches.aretrieve(batch["id"])
    assert routes(novita_server) == ["POST /files", *HAPPY_ROUTES]


async def _no_sleep(_: float) -> None:
    return None


def test_documented_base_is_used_for_the_default_novita_urls() -> None:
    for base in ("https://api.novita.ai/v3/openai", "https://api.novita.ai/openai"):
        batches = BatchClient(NovitaClient(NovitaSettings.resolve(api_key="k", base_url=base)))
        assert batches._url("/files") == "https://api.novita.ai/openai/v1/files"
    own = BatchClient(NovitaClient(NovitaSettings.resolve(api_key="k", base_url="https://x.io/v1")))
    assert own._url("/batches") == "/batches"  # relative: the client's own base URL


def test_parse_results_reads_both_error_forms_and_missing_lines() -> None:
    output = b'{"custom_id": "request-1", "response": {"status_code": 200, "body": {"id": "x"}}}\n'
    errors = (
        b'{"custom_id": "request-0", "response": null, '
        b'"error": {"code": "batch_expired", "message": "not run in time"}}\n'
    )
    batch = {"id": "b", "status": "expired", "request_counts": {"total": 3}}
    first, second, third = parse_results(batch, output, errors)
    assert isinstance(first, BatchLineError)
    assert "batch_expired: not run in time" in str(first)
    assert second == {"id": "x"}
    assert isinstance(third, BatchLineError)
    assert "'expired'" in str(third)


def test_the_offline_server_speaks_the_openai_sdks_files_and_batches(
    novita_server: OfflineNovitaServer,
) -> None:
    sdk = openai.OpenAI(api_key=novita_server.api_key, base_url=novita_server.base_url)
    _, lines = build_lines([chat("a")])
    uploaded = sdk.files.create(file=("in.jsonl", json.dumps(lines[0]).encode()), purpose="batch")
    assert (uploaded.model_extra or {})["metadata"] == {"total_requests": 1}
    assert sdk.files.retrieve(uploaded.id).filename == "in.jsonl"
    batch = sdk.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="48h",  # Novita's only window; the SDK's type says "24h"
    )
    assert [b.id for b in sdk.batches.list()] == [batch.id]
    while sdk.batches.retrieve(batch.id).status != "completed":
        pass
    done = sdk.batches.retrieve(batch.id)
    assert done.output_file_id is not None
    content = sdk.files.content(done.output_file_id).content
    assert json.loads(content)["response"]["body"]["choices"][0]["message"]["content"] == "Echo: a"
    with pytest.raises(openai.BadRequestError):
        sdk.batches.cancel(batch.id)
    assert sdk.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)
    with pytest.raises(openai.BadRequestError):
        sdk.files.create(file=("x.jsonl", b"{}"), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError):
        sdk.batches.retrieve("batch_missing")


def test_each_server_keeps_its_own_files_and_batches() -> None:
    with OfflineNovitaServer() as one, OfflineNovitaServer() as two:
        make_batches(one).submit([chat("a")])
        assert list(one.batches.batches) == [BATCH_ID]
        assert two.batches.batches == {}
        assert two.batches.files == {}


def test_files_and_batches_can_live_under_another_base_on_the_same_host(
    novita_server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for Novita's own bases: the batch endpoints go to an absolute URL, same key and pool.
    monkeypatch.setitem(
        BATCH_BASE_URLS,
        novita_server.base_url,
        novita_server.url + "/openai/v1",
    )
    batches = make_batches(novita_server, sleep=lambda _: None)
    results = batches.retrieve(batches.submit([chat("moved")])["id"])
    assert results[0]["choices"][0]["message"]["content"] == "Echo: moved"
    assert {r.path.split("/")[1:3] == ["openai", "v1"] for r in novita_server.requests} == {True}
    assert all(r.authorized for r in novita_server.requests)


def test_a_connection_reset_on_the_download_is_retried(
    novita_server: OfflineNovitaServer,
) -> None:
    novita_server.inject(Fault.reset(path="/content"))
    batches = make_batches(novita_server, sleep=lambda _: None, max_retries=1)
    results = batches.retrieve(batches.submit([chat("a")])["id"])
    assert results[0]["choices"][0]["message"]["content"] == "Echo: a"
    assert routes(novita_server)[-2:] == [f"GET /files/{OUTPUT_ID}/content"] * 2


def test_fault_header_and_listing_work_on_batch_paths(novita_server: OfflineNovitaServer) -> None:
    settings = NovitaSettings.resolve(
        api_key=novita_server.api_key,
        base_url=novita_server.base_url,
        max_retries=0,
        default_headers={"X-Offline-Fault": "status=429"},
    )
    with pytest.raises(openai.RateLimitError):
        BatchClient(NovitaClient(settings)).submit([chat("a")])
    assert routes(novita_server) == ["POST /files"]
    batches = make_batches(novita_server)
    first = batches.submit([chat("a")])
    second = batches.submit([chat("b")])
    assert [b["id"] for b in batches.list_batches()] == [second["id"], first["id"]]
