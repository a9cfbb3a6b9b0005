"""The HTTP path over real HTTP to the offline server: answers, retries, faults, pools, secrets."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

import openai
import pytest

from novita_core import (
    NovitaClient,
    NovitaResponseError,
    NovitaSettings,
    NovitaStreamError,
    StreamAssembler,
    build_request,
)
from novita_core._compat import http_lib
from novita_core.client import shared_client
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.1-8b-instruct"


def make_client(server: OfflineNovitaServer, **kwargs: Any) -> NovitaClient:
    settings = NovitaSettings.resolve(
        api_key=kwargs.pop("api_key", server.api_key), base_url=server.base_url, **kwargs
    )
    return NovitaClient(settings)


def chat(text: str = "Say hello", **params: Any) -> Any:
    return build_request(
        "chat", {"model": MODEL, "messages": [{"role": "user", "content": text}], **params}
    )


def test_chat_answer_is_a_plain_dict(novita_server: OfflineNovitaServer) -> None:
    answer = make_client(novita_server).create(chat("ping pong"))
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["total_tokens"] > 0
    sent = novita_server.requests[-1]
    assert sent.path.endswith("/chat/completions")
    assert sent.json == {"model": MODEL, "messages": [{"role": "user", "content": "ping pong"}]}
    assert "authorization" not in sent.headers


def test_stream_assembles_text_and_usage(novita_server: OfflineNovitaServer) -> None:
    client = make_client(novita_server)
    asm = StreamAssembler()
    deltas = list(client.stream(chat("one two three", stream=True), asm))
    text = "".join(d.content for d in deltas)
    assert text == asm.choices[0].text
    assert text
    assert asm.done
    assert asm.usage is not None
    assert deltas[-1].usage == asm.usage
    assert novita_server.requests[-1].json["stream_options"] == {"include_usage": True}


async def test_async_create_and_stream(novita_server: OfflineNovitaServer) -> None:
    client = make_client(novita_server)
    answer = await client.acreate(chat("async please"))
    assert answer["choices"][0]["message"]["content"]
    asm = StreamAssembler()
    deltas = [d async for d in client.astream(chat("async stream", stream=True), asm)]
    assert "".join(d.content for d in deltas) == asm.choices[0].text
    assert asm.done


def _responses_left_for_the_collector(run: Callable[[], object]) -> list[object]:
    """The HTTP responses that ``run`` left as garbage only the cyclic collector could free."""
    gc.collect()
    gc.disable()
    try:
        run()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return [o for o in gc.garbage if isinstance(o, http_lib.Response)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_finished_calls_free_their_responses_without_the_cyclic_collector(
    novita_server: OfflineNovitaServer, transport: str
) -> None:
    # Many streams ending together must not leave their connection objects for a later full
    # collection (the ChatNovita row of the bench's RSS phase).
    client = make_client(novita_server, async_transport=transport)
    client.create(chat())  # pools, the model listing and lazy imports are set up first

    def sync_calls() -> None:
        client.create(chat())
        list(client.stream(chat("one two", stream=True)))

    async def async_calls() -> None:
        await client.acreate(chat())
        async for _ in client.astream(chat("one two", stream=True)):
            pass

    assert _responses_left_for_the_collector(sync_calls) == []
    assert _responses_left_for_the_collector(lambda: asyncio.run(async_calls())) == []


def test_completions_and_embeddings(novita_server: OfflineNovitaServer) -> None:
    client = make_client(novita_server)
    completion = client.create(build_request("completions", {"model": MODEL, "prompt": "Once"}))
    assert completion["choices"][0]["text"]
    vectors = client.create(
        build_request("embeddings", {"model": "baai/bge-m3", "input": ["a", "b"]})
    )
    assert [len(item["embedding"]) for item in vectors["data"]] == [1024, 1024]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_persistent_503_costs_exactly_n_plus_one_requests(
    novita_server: OfflineNovitaServer, max_retries: int
) -> None:
    novita_server.inject(Fault.status(503, retry_after_ms=10), times=10)
    client = make_client(novita_server, max_retries=max_retries)
    with pytest.raises(openai.InternalServerError) as info:
        client.create(chat())
    assert len(novita_server.requests) == max_retries + 1
    assert "SERVICE_NOT_AVAILABLE" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
    ],
)
def test_client_errors_are_never_retried(
    novita_server: OfflineNovitaServer, status: int, error: type[Exception]
) -> None:
    novita_server.inject(Fault.status(status), times=5)
    with pytest.raises(error):
        make_client(novita_server, max_retries=3).create(chat())
    assert len(novita_server.requests) == 1


def test_wrong_key_is_401_with_novitas_message(novita_server: OfflineNovitaServer) -> None:
    secret = "sk-wrong-key-that-must-not-leak-42"
    with pytest.raises(openai.AuthenticationError) as info:
        make_client(novita_server, api_key=secret, max_retries=3).create(chat())
    assert len(novita_server.requests) == 1
    assert "FAILED_TO_AUTH" in str(info.value)
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value)
    assert secret not in rendered


def test_unknown_model_is_404(novita_server: OfflineNovitaServer) -> None:
    request = build_request(
        "chat", {"model": "nobody/nothing", "messages": [{"role": "user", "content": "x"}]}
    )
    with pytest.raises(openai.NotFoundError, match="MODEL_NOT_FOUND"):
        make_client(novita_server).create(request)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_transient_status_is_retried(novita_server: OfflineNovitaServer, status: int) -> None:
    novita_server.inject(Fault.status(status, retry_after_ms=5), times=1)
    answer = make_client(novita_server, max_retries=2).create(chat())
    assert answer["choices"]
    assert len(novita_server.requests) == 2


def test_retry_after_is_honoured(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(429, retry_after=1), times=1)
    started = time.monotonic()
    make_client(novita_server, max_retries=1).create(chat())
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5
    assert len(novita_server.requests) == 2


def test_connection_reset_is_retried(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.reset(), times=1)
    assert make_client(novita_server, max_retries=1).create(chat())["choices"]
    assert len(novita_server.requests) == 2


def test_stall_past_timeout_raises_timeout(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.stall(3), times=2)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        make_client(novita_server, timeout=0.3, max_retries=1).create(chat())
    assert time.monotonic() - started < 0.3 * 2 + 1.5
    assert len(novita_server.requests) == 2


def test_malformed_json_is_a_clear_error(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.malformed_json(), times=1)
    with pytest.raises(NovitaResponseError, match="not a JSON object"):
        make_client(novita_server).create(chat())


def test_stream_retried_before_first_chunk(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(502, retry_after_ms=5), times=1)
    deltas = list(make_client(novita_server, max_retries=1).stream(chat(stream=True)))
    assert deltas
    assert len(novita_server.requests) == 2


def test_dropped_stream_is_an_error_not_a_short_answer(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.drop_stream(after_chunks=2), times=3)
    received: list[str] = []
    with pytest.raises(NovitaStreamError, match="truncated"):
        for delta in make_client(novita_server, max_retries=2).stream(
            chat("one two three four five six seven", stream=True)
        ):
            received.append(delta.content)
    assert received  # the caller saw chunks, so the stream must not be replayed
    assert len(novita_server.requests) == 1


async def test_async_dropped_stream_is_an_error(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.drop_stream(after_chunks=2), times=3)
    client = make_client(novita_server, max_retries=2)
    with pytest.raises(NovitaStreamError):
        async for _ in client.astream(chat("one two three four five six", stream=True)):
            pass
    assert len(novita_server.requests) == 1


def test_malformed_sse_line_is_a_clear_error(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.malformed_sse(), times=1)
    with pytest.raises(NovitaStreamError, match="malformed SSE"):
        list(make_client(novita_server).stream(chat("a b c d", stream=True)))


async def test_async_retry_then_success(novita_server: OfflineNovitaServer) -> None:
    novita_server.inject(Fault.status(500, retry_after_ms=5), times=2)
    answer = await make_client(novita_server, max_retries=2).acreate(chat())
    assert answer["choices"]
    assert len(novita_server.requests) == 3


def test_clients_share_one_pool_per_identity(novita_server: OfflineNovitaServer) -> None:
    first, second = make_client(novita_server), make_client(novita_server)
    assert first.openai_client is second.openai_client
    other_key = NovitaSettings.resolve(api_key="another-key", base_url=novita_server.base_url)
    assert shared_client(other_key) is not first.openai_client
    assert first.openai_client.max_retries == 0


def test_list_models_reports_context_size(novita_server: OfflineNovitaServer) -> None:
    models = {entry["id"]: entry for entry in make_client(novita_server).list_models()}
    assert models[MODEL]["context_size"] > 0


def test_key_stays_out_of_debug_logs(
    novita_server: OfflineNovitaServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    novita_server.inject(Fault.status(503, retry_after_ms=5), times=1)
    make_client(novita_server, max_retries=1).create(chat())
    assert novita_server.api_key not in caplog.text


LOOPS_SCRIPT = """
import asyncio, gc, sys
from novita_core import NovitaClient, NovitaSettings, build_request
from novita_core.testing import OfflineNovitaServer
with OfflineNovitaServer() as server:
    client = NovitaClient(NovitaSettings.resolve(
        api_key=server.api_key, base_url=server.base_url, async_transport=sys.argv[1]))
    request = build_request("chat", {"model": "meta-llama/llama-3.1-8b-instruct",
                                     "messages": [{"role": "user", "content": "hi"}]})
    for _ in range(3):
        assert asyncio.run(client.acreate(request))["choices"]
    gc.collect()
print("ok")
"""


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_async_pools_close_with_their_event_loop(transport: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-X", "dev", "-c", LOOPS_SCRIPT, transport],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "ok", result.stderr
    assert "Unclosed" not in result.stderr
    assert "Event loop is closed" not in result.stderr


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "soon, maybe"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "86400"}, 86400.0),
        ({"retry-after-ms": "junk", "retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
    ],
)
def test_retry_after_seconds_reads_numbers_and_dates_and_ignores_garbage(
    headers: dict[str, str], seconds: float | None
) -> None:
    from novita_core._compat import http_lib
    from novita_core.retry import retry_after_seconds

    request = http_lib.Request("POST", "http://127.0.0.1:9/x")
    response = http_lib.Response(429, headers=headers, request=request)
    error = openai.RateLimitError("limited", response=response, body=None)
    assert retry_after_seconds(error) == seconds
