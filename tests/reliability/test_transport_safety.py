"""Transport safety: no silent plain-http downgrade, no Authorization header sent to another host.

* A base URL that is not https is used only when the caller passes it explicitly; from
  ``NOVITA_BASE_URL`` / ``NOVITA_API_BASE`` only https, or plain http to this machine (a local
  server), is accepted, judged on the parsed host (``http://localhost.evil.example`` and
  ``http://localhost@evil.example`` are other hosts).
* The openai client follows redirects (``follow_redirects=True``); the HTTP layer drops
  ``Authorization`` when a redirect leaves the origin. Proven with two offline servers on
  different ports, for the sync transport (httpx2 / httpx) and both async transports (the SDK's
  aiohttp transport, the core's default, and httpx).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import openai
import pytest

from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core import DEFAULT_BASE_URL, NovitaSettings
from novita_core.testing import Fault, OfflineNovitaServer
from tests.reliability.drivers import ALL_DRIVERS, Driver

pytestmark = pytest.mark.timeout(60)

KEY = "sk-redirect-test-key-0a1b2c"
PROMPT = "where does my key go"


# -- base URLs --------------------------------------------------------------------------------


def build_all(base_url: str | None = None) -> list[object]:
    """One of every class, with the base URL given explicitly or (None) taken from the env."""
    lc = {"api_key": KEY} if base_url is None else {"api_key": KEY, "base_url": base_url}
    li = {"api_key": KEY} if base_url is None else {"api_key": KEY, "api_base": base_url}
    return [
        ChatNovita(**lc),
        Novita(**lc),
        NovitaEmbeddings(**lc),
        NovitaAI(**li),
        NovitaEmbedding(**li),
    ]


def resolved_base_url(model: object) -> str:
    if isinstance(model, (NovitaAI, NovitaEmbedding)):
        return model._resolved_settings().base_url
    return model._client.settings.base_url  # type: ignore[attr-defined]


def test_default_base_url_is_https() -> None:
    assert DEFAULT_BASE_URL.startswith("https://")
    for model in build_all():
        assert resolved_base_url(model) == DEFAULT_BASE_URL


PLAIN_HTTP_ELSEWHERE = [
    "http://api.novita.ai/v3/openai",
    "http://10.0.0.5:8000/v1",
    "http://localhost.evil.example/v3/openai",
    "http://localhost@evil.example/v3/openai",
    "http://127.0.0.1.nip.io/v3/openai",
    "http://127.0.0.1@evil.example:80/v3/openai",
    "ftp://localhost/v3/openai",
]


@pytest.mark.parametrize("env", ["NOVITA_BASE_URL", "NOVITA_API_BASE"])
@pytest.mark.parametrize("url", PLAIN_HTTP_ELSEWHERE)
def test_plain_http_from_the_environment_is_rejected(
    monkeypatch: pytest.MonkeyPatch, env: str, url: str
) -> None:
    monkeypatch.setenv(env, url)
    with pytest.raises(ValueError, match=env) as info:
        NovitaSettings.resolve(api_key=KEY)
    assert "not an https URL" in str(info.value)
    for make in (
        lambda: ChatNovita(api_key=KEY),
        lambda: Novita(api_key=KEY),
        lambda: NovitaEmbeddings(api_key=KEY),
        lambda: NovitaAI(api_key=KEY),
        lambda: NovitaEmbedding(api_key=KEY),
    ):
        with pytest.raises(ValueError, match=env):
            make()


@pytest.mark.parametrize("url", PLAIN_HTTP_ELSEWHERE[:5])
def test_plain_http_given_explicitly_is_accepted(url: str) -> None:
    for model in build_all(url):
        assert resolved_base_url(model) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://proxy.example/v3/openai",
        "HTTPS://proxy.example/v3/openai",
        "http://127.0.0.1:8765/v3/openai",
        "http://127.0.0.2:8765/v3/openai",
        "http://localhost:8765/v3/openai",
        "http://[::1]:8765/v3/openai",
    ],
)
def test_https_or_loopback_from_the_environment_is_accepted(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("NOVITA_BASE_URL", url)
    for model in build_all():
        assert resolved_base_url(model) == url


def test_loopback_from_the_environment_really_works(
    novita_server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_API_BASE", novita_server.base_url)
    monkeypatch.setenv("NOVITA_API_KEY", novita_server.api_key)
    assert ChatNovita().invoke("hi").content == "Echo: hi"
    assert novita_server.requests[-1].authorized


# -- the offline server's redirect fault ------------------------------------------------------


def test_server_redirect_fault_and_authorization_recording(
    novita_server: OfflineNovitaServer,
) -> None:
    target = "http://127.0.0.1:9/v3/openai/chat/completions"
    fault = Fault.redirect(target, status=308)
    assert Fault.parse(fault.spec()) == fault
    with pytest.raises(ValueError):
        Fault.redirect(target, status=200)
    novita_server.inject(fault)
    conn = http.client.HTTPConnection("127.0.0.1", novita_server.port, timeout=5)
    try:
        body = json.dumps({"model": "m", "messages": []})
        conn.request("POST", "/v3/openai/chat/completions", body, {"Authorization": "Bearer x"})
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 308
        assert reply.getheader("Location") == target
        conn.request("POST", "/v3/openai/chat/completions", body)
        conn.getresponse().read()
    finally:
        conn.close()
    first, second = novita_server.requests
    assert first.has_authorization and not first.authorized
    assert "authorization" not in first.headers  # the value itself is never kept
    assert not second.has_authorization


# -- redirects --------------------------------------------------------------------------------


@pytest.fixture
def servers() -> Iterator[tuple[OfflineNovitaServer, OfflineNovitaServer]]:
    """The API (A) and another origin (B, another port) that would accept the same key."""
    with OfflineNovitaServer(api_key=KEY) as a, OfflineNovitaServer(api_key=KEY) as b:
        yield a, b


ASYNC_TRANSPORTS = ("aiohttp", "httpx")


def with_transports(drivers: list[Driver]) -> list[object]:
    """Async drivers once per async transport; sync ones once (they always use httpx(2))."""
    return [
        pytest.param(d, t, id=f"{d.id}-{t}" if t else d.id)
        for d in drivers
        for t in (ASYNC_TRANSPORTS if d.mode in ("async", "astream") else (None,))
    ]


def use_transport(monkeypatch: pytest.MonkeyPatch, transport: str | None) -> None:
    if transport is not None:
        monkeypatch.setenv("NOVITA_ASYNC_TRANSPORT", transport)


CHAT_DRIVERS = [d for d in ALL_DRIVERS if d.adapter == "ChatNovita"]


@pytest.mark.parametrize(("driver", "transport"), with_transports(ALL_DRIVERS))
def test_cross_origin_redirect_does_not_carry_the_key(
    servers: tuple[OfflineNovitaServer, OfflineNovitaServer],
    driver: Driver,
    transport: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_transport(monkeypatch, transport)
    a, b = servers
    a.inject(Fault.redirect(b.base_url + driver.path, status=307))
    with pytest.raises(openai.AuthenticationError, match="FAILED_TO_AUTH"):
        driver.run(a, PROMPT, init={"api_key": KEY, "max_retries": 2})
    (at_a,) = a.requests
    (at_b,) = b.requests  # the redirect was followed (307 keeps method and body) ...
    assert at_a.authorized
    assert not at_b.has_authorization  # ... without the Authorization header
    assert not at_b.authorized
    assert at_b.path.endswith(driver.path)
    assert at_b.method == "POST"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize(("driver", "transport"), with_transports(CHAT_DRIVERS))
def test_cross_origin_redirect_any_status(
    servers: tuple[OfflineNovitaServer, OfflineNovitaServer],
    status: int,
    driver: Driver,
    transport: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_transport(monkeypatch, transport)
    a, b = servers
    a.inject(Fault.redirect(b.base_url + "/chat/completions", status=status))
    with pytest.raises(openai.APIStatusError):
        driver.run(a, PROMPT, init={"api_key": KEY, "max_retries": 0})
    assert len(b.requests) == 1
    assert not b.requests[0].has_authorization


@pytest.mark.parametrize(("driver", "transport"), with_transports(CHAT_DRIVERS))
def test_same_origin_redirect_keeps_the_key(
    novita_server: OfflineNovitaServer,
    driver: Driver,
    transport: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control: the detection above works, since a same-origin hop does carry the key."""
    use_transport(monkeypatch, transport)
    server = novita_server
    server.inject(Fault.redirect(server.url + "/openai/v1/chat/completions", status=307))
    answer = driver.run(server, PROMPT, init={"max_retries": 0})
    assert answer == f"Echo: {PROMPT}"
    first, second = server.requests
    assert first.path == "/v3/openai/chat/completions"
    assert second.path == "/openai/v1/chat/completions"
    assert second.has_authorization and second.authorized


def test_redirect_to_https_upgrade_is_the_only_cross_origin_exception() -> None:
    """httpx keeps Authorization only for http:80 -> https:443 on the same host; a key is then
    sent over TLS to the same host, which is no leak. Anything else loses the header."""
    llm = ChatNovita(api_key=KEY, base_url="http://api.example/v1")  # no request is made
    client = llm._client.openai_client._client
    request = client.build_request(
        "POST", "http://api.example/v1/x", headers={"Authorization": "Bearer k"}
    )
    for location, kept in [
        ("https://api.example/v1/x", True),
        ("https://api.example:8443/v1/x", False),
        ("http://other.example/v1/x", False),
        ("https://other.example/v1/x", False),
    ]:
        headers = client._redirect_headers(request, type(request.url)(location), "POST")
        assert ("Authorization" in headers) is kept, location
