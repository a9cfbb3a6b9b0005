"""The retry policy on the settings: its checks, its backoff, and the core client's ``on_retry``."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from tenacity import RetryCallState

from novita_core import CHAT, NovitaClient, NovitaSettings, RetryPolicy, build_request
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
QUICK = RetryPolicy(initial_backoff=0.01)


@pytest.fixture
def server(novita_server: OfflineNovitaServer) -> OfflineNovitaServer:
    return novita_server


def _client(server: OfflineNovitaServer, **kwargs: Any) -> NovitaClient:
    kwargs = {"retry_policy": QUICK, "max_retries": 2, **kwargs}
    return NovitaClient(
        NovitaSettings.resolve(api_key=server.api_key, base_url=server.base_url, **kwargs)
    )


def _request(**params: Any) -> Any:
    return build_request(
        CHAT, {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], **params}
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_backoff": -1}, "initial_backoff must be a number of seconds >= 0"),
        ({"max_backoff": "8"}, "max_backoff must be a number of seconds >= 0"),
        ({"max_retry_wait": True}, "max_retry_wait must be a number of seconds >= 0"),
        ({"jitter": 1.5}, "jitter must be a fraction between 0 and 1"),
    ],
)
def test_bad_policy_values_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


def test_backoff_doubles_up_to_its_bound_with_the_jitter_below_it() -> None:
    policy = RetryPolicy(initial_backoff=1.0, max_backoff=3.0, jitter=0.5)
    for attempt, bound in [(1, 1.0), (2, 2.0), (3, 3.0), (9, 3.0)]:
        waits = [policy.backoff(attempt) for _ in range(50)]
        assert all(bound / 2 <= w <= bound for w in waits)
    assert RetryPolicy(initial_backoff=1.0, jitter=0.0).backoff(2) == 2.0


def test_what_is_retried_is_the_policy() -> None:
    default = RetryPolicy()
    assert [default.retries_status(s) for s in (408, 409, 429, 500, 503, "502")] == [True] * 6
    assert [default.retries_status(s) for s in (400, 401, 404, 422, True, None)] == [False] * 6
    narrow = RetryPolicy(statuses=frozenset({429}), server_errors=False)
    assert [narrow.retries_status(s) for s in (429, 408, 503)] == [True, False, False]


def test_settings_carry_the_policy_and_max_retry_wait_replaces_its_own() -> None:
    settings = NovitaSettings.resolve(api_key="k")
    assert settings.retry_policy == RetryPolicy()
    assert settings.max_retry_wait == 60.0
    tuned = NovitaSettings.resolve(api_key="k", retry_policy=QUICK, max_retry_wait=2)
    assert tuned.retry_policy == RetryPolicy(initial_backoff=0.01, max_retry_wait=2.0)
    assert tuned.max_retry_wait == 2.0
    with pytest.raises(ValueError, match="retry_policy must be a RetryPolicy"):
        NovitaSettings.resolve(api_key="k", retry_policy={"initial_backoff": 1})  # type: ignore[arg-type]


def test_on_retry_sees_each_retry_of_create_and_stream(server: OfflineNovitaServer) -> None:
    seen: list[int] = []

    def on_retry(state: RetryCallState) -> None:
        seen.append(state.attempt_number)

    client = _client(server)
    server.inject(Fault.status(429, retry_after_ms=5), times=2)
    assert client.create(_request(), on_retry=on_retry)["choices"]
    assert seen == [1, 2]
    server.inject(Fault.status(503, retry_after_ms=5), times=1)
    assert list(client.stream(_request(stream=True), on_retry=on_retry))
    assert seen == [1, 2, 1]
    assert len(server.requests) == 5


def test_async_on_retry_may_be_a_coroutine(server: OfflineNovitaServer) -> None:
    seen: list[int] = []

    async def on_retry(state: RetryCallState) -> None:
        await asyncio.sleep(0)
        seen.append(state.attempt_number)

    async def main() -> None:
        client = _client(server)
        server.inject(Fault.reset(), times=1)
        assert (await client.acreate(_request(), on_retry=on_retry))["choices"]

    asyncio.run(main())
    assert seen == [1]
    assert len(server.requests) == 2


def test_a_policy_without_connection_errors_raises_at_once(
    server: OfflineNovitaServer,
) -> None:
    client = _client(server, retry_policy=RetryPolicy(connection_errors=False))
    server.inject(Fault.reset(), times=1)
    with pytest.raises(openai.APIConnectionError):
        client.create(_request())
    assert len(server.requests) == 1


def test_a_longer_retry_after_than_the_policy_allows_raises_at_once(
    server: OfflineNovitaServer,
) -> None:
    client = _client(server, retry_policy=RetryPolicy(max_retry_wait=0.5))
    server.inject(Fault.status(429, retry_after=5), times=1)
    with pytest.raises(openai.RateLimitError) as info:
        client.create(_request())
    assert info.value.retry_after == 5.0  # type: ignore[attr-defined]
    assert len(server.requests) == 1
