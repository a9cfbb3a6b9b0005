"""Connection settings the adapters hand to the core: timeouts, URLs, and rebuilding on change."""

from __future__ import annotations

from typing import Any

import pytest

from novita_core._compat import http_lib
from novita_core.catalog import LISTING_TIMEOUT
from novita_core.client import NovitaClient
from novita_core.connection import connect, constructor_names
from novita_core.params import (
    CHAT,
    InvalidParameterError,
    build_request,
    check_one_choice_stream,
    check_raw_values,
)
from novita_core.settings import NovitaSettings, resolve_timeout
from novita_core.testing import OfflineNovitaServer

KEY = "sk-test-connection"
MODEL = "meta-llama/llama-3.3-70b-instruct"


def test_connect_reuses_the_connection_while_fields_are_unchanged() -> None:
    headers = {"X-A": "1"}
    first = connect(None, api_key=KEY, base_url="http://127.0.0.1:9/v1", default_headers=headers)
    same = connect(first, api_key=KEY, base_url="http://127.0.0.1:9/v1", default_headers=headers)
    assert same is first and same.client is first.client
    headers["X-A"] = "2"  # edited in place: a change all the same
    edited = connect(first, api_key=KEY, base_url="http://127.0.0.1:9/v1", default_headers=headers)
    assert edited is not first and edited.settings.default_headers == {"X-A": "2"}
    moved = connect(edited, api_key=KEY, base_url="http://127.0.0.1:8/v1", default_headers=headers)
    assert moved.settings.base_url == "http://127.0.0.1:8/v1"
    assert KEY not in repr(moved)


def test_constructor_names_are_the_fields_and_all_their_aliases() -> None:
    from pydantic import AliasChoices, BaseModel, Field

    class Model(BaseModel):
        plain: int = 0
        aliased: int = Field(default=0, alias="other")
        choices: int = Field(default=0, validation_alias=AliasChoices("choices", "chosen"))

    assert constructor_names(Model) == {"plain", "aliased", "other", "choices", "chosen"}


def test_connect_compares_user_http_clients_by_identity() -> None:
    class Client:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    first = connect(None, api_key=KEY, http_client=Client())
    assert connect(first, api_key=KEY, http_client=first.settings.http_client) is first
    assert connect(first, api_key=KEY, http_client=Client()) is not first


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        (5, 5.0),
        (2.5, 2.5),
        ((1, 7), http_lib.Timeout(7.0, connect=1.0)),
        ([1, None], http_lib.Timeout(None, connect=1.0)),
        (http_lib.Timeout(3.0), http_lib.Timeout(3.0)),
    ],
)
def test_timeout_forms(given: Any, expected: Any) -> None:
    assert resolve_timeout(given) == expected


@pytest.mark.parametrize("bad", [True, 0, -2, "5", (1,), (1, 2, 3), ("a", 1), float("nan")])
def test_bad_timeouts(bad: Any) -> None:
    with pytest.raises(ValueError, match="timeout must be"):
        resolve_timeout(bad)


def test_model_listing_takes_its_limit_from_a_timeout_object(
    novita_server: OfflineNovitaServer,
) -> None:
    settings = NovitaSettings.resolve(
        api_key=novita_server.api_key,
        base_url=novita_server.base_url,
        timeout=http_lib.Timeout(0.5, connect=0.2),
        model_listing=True,
    )
    assert settings.read_timeout == 0.5
    NovitaClient(settings).create(
        build_request("chat", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    )
    listing, chat = novita_server.requests
    assert listing.path.endswith("/models") and chat.path.endswith("/chat/completions")
    assert listing.headers["x-stainless-read-timeout"] == str(min(LISTING_TIMEOUT, 0.5))


def test_timeout_object_reaches_the_sdk_and_keeps_pools_apart(
    novita_server: OfflineNovitaServer,
) -> None:
    settings = NovitaSettings.resolve(
        api_key=novita_server.api_key,
        base_url=novita_server.base_url,
        timeout=http_lib.Timeout(9.0, connect=1.0),
    )
    other = NovitaSettings.resolve(
        api_key=novita_server.api_key, base_url=novita_server.base_url, timeout=9.0
    )
    assert settings.pool_key != other.pool_key
    hash(settings.pool_key)
    client = NovitaClient(settings)
    assert client.openai_client.timeout == http_lib.Timeout(9.0, connect=1.0)
    client.list_models()
    assert novita_server.last_request.headers["x-stainless-read-timeout"] == "9.0"


@pytest.mark.parametrize(
    "url", ["api.novita.ai/v3", "ftp://h/v1", "http://", "https:///path", "http://h:port/v1"]
)
def test_explicit_base_urls_need_a_scheme_and_host(url: str) -> None:
    with pytest.raises(ValueError, match=r"base_url="):
        NovitaSettings.resolve(api_key=KEY, base_url=url)
    with pytest.raises(ValueError, match=r"api_base="):
        NovitaSettings.resolve(api_key=KEY, base_url=url, base_url_argument="api_base")


def test_raw_values_refuse_booleans_for_numbers_only() -> None:
    check_raw_values(CHAT, {"logprobs": True, "temperature": 0.5, "not_a_param": True})
    with pytest.raises(InvalidParameterError, match="temperature must be a number, got bool"):
        check_raw_values(CHAT, {"temperature": True})
    with pytest.raises(InvalidParameterError, match=r"logit_bias\['1'\] must be a number"):
        check_raw_values(CHAT, {"logit_bias": {"1": False}})


def test_one_choice_streams() -> None:
    check_one_choice_stream({"n": 3})
    check_one_choice_stream({"n": 1, "stream": True})
    with pytest.raises(InvalidParameterError, match="n=3 cannot be streamed"):
        check_one_choice_stream({"n": 3, "stream": True})
