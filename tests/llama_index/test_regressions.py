"""Every reported problem of llama-index-llms-novita 0.4.0, each proven absent over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import openai
import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.bridge.pydantic import ConfigDict
from llama_index.core.llms import ChatMessage

from llama_index_novita import NovitaAI, NovitaEmbedding, NovitaRerank
from novita_core import InvalidParameterError, MissingAPIKeyError
from novita_core.testing import Fault, OfflineNovitaServer

USER = [ChatMessage(role="user", content="hello novita")]
SECRET = "sk-very-secret-key-123"


def test_novita_api_base_env_is_honoured(
    server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", server.api_key)
    monkeypatch.setenv("NOVITA_API_BASE", server.base_url)
    llm = NovitaAI()
    assert llm.chat(USER).message.content == "Echo: hello novita"
    assert server.last_request.path == "/v3/openai/chat/completions"
    assert server.last_request.authorized


def test_novita_base_url_env_wins_over_api_base_env(
    server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", server.api_key)
    monkeypatch.setenv("NOVITA_BASE_URL", server.base_url)
    monkeypatch.setenv("NOVITA_API_BASE", "http://127.0.0.1:9/nowhere")
    NovitaAI().chat(USER)
    assert len(server.requests) == 1


def test_api_base_and_is_function_calling_model_are_accepted(server: OfflineNovitaServer) -> None:
    llm = NovitaAI(
        model="meta-llama/llama-3.1-8b-instruct",
        api_key=server.api_key,
        api_base=server.base_url,
        is_function_calling_model=False,
        is_chat_model=True,
        context_window=4096,
        max_retries=1,
        timeout=5.0,
        additional_kwargs={"top_k": 3},
    )
    assert llm.metadata.is_function_calling_model is False
    assert llm.base_url == server.base_url
    llm.chat(USER)
    assert server.last_request.json["top_k"] == 3


@pytest.mark.parametrize(
    "model",
    ["qwen/qwen3-235b-a22b-instruct-2507", "meta-llama/llama-3.3-70b-instruct", "acme/brand-new"],
)
def test_function_calling_is_not_a_hardcoded_allowlist(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer, model: str
) -> None:
    server.add_model("acme/brand-new", context_size=32768)
    llm = make_llm(model=model)
    assert llm.metadata.is_function_calling_model is True

    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    async def main() -> str:
        agent = FunctionAgent(tools=[multiply], llm=llm)
        return str(await agent.run("multiply 6 and 7"))

    assert "42" in asyncio.run(main())


def test_function_calling_can_be_switched_off(make_llm: Callable[..., NovitaAI]) -> None:
    assert make_llm(is_function_calling_model=False).metadata.is_function_calling_model is False


def test_novita_params_in_additional_kwargs_go_to_the_body(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(additional_kwargs={"top_k": 40, "min_p": 0.1, "repetition_penalty": 1.05})
    llm.chat(USER)
    list(llm.stream_chat(USER))
    for request in server.requests:
        assert request.json["top_k"] == 40
        assert request.json["min_p"] == 0.1
        assert request.json["repetition_penalty"] == 1.05


def test_novita_params_as_constructor_kwargs_are_not_dropped(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    make_llm(top_k=40, min_p=0.1, repetition_penalty=1.05).chat(USER)
    body = server.last_request.json
    assert (body["top_k"], body["min_p"], body["repetition_penalty"]) == (40, 0.1, 1.05)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"top_kk": 40}, InvalidParameterError),  # unknown constructor kwarg
        ({"additional_kwargs": {"top_kk": 40}}, InvalidParameterError),
        ({"top_k": 0}, InvalidParameterError),
        ({"top_p": 0}, InvalidParameterError),
        ({"repetition_penalty": 2.5}, InvalidParameterError),
        ({"stop": ["a", "b", "c", "d", "e"]}, InvalidParameterError),
        ({"temperature": 3.0}, InvalidParameterError),  # the core's range, checked first
        ({"additional_kwargs": {"temperature": "hot"}}, InvalidParameterError),
    ],
)
def test_bad_arguments_fail_at_construction_with_no_request(
    server: OfflineNovitaServer, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        NovitaAI(api_key=server.api_key, api_base=server.base_url, **kwargs)
    assert server.requests == []


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (NovitaAI, {"top_kk": 40}, r"'top_kk' \(did you mean 'top_k'\?\) for NovitaAI"),
        (NovitaEmbedding, {"dimension": 8}, r"'dimension' \(did you mean 'dimensions'\?\)"),
        (NovitaRerank, {"topn": 2, "zzz": 1}, r"'topn' \(did you mean 'top_n'\?\), 'zzz' for"),
        (NovitaAI, {"base_url": "http://127.0.0.1:9"}, r"'base_url' \(did you mean 'api_base'\?\)"),
    ],
)
def test_unknown_constructor_arguments_name_the_argument_and_the_valid_fields(
    server: OfflineNovitaServer, cls: type[Any], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        cls(api_key=server.api_key, api_base=server.base_url, **kwargs)
    assert "Valid fields: " in str(caught.value)
    assert "api_base" in str(caught.value)
    assert server.requests == []


def test_a_subclass_that_allows_extra_inputs_keeps_them(server: OfflineNovitaServer) -> None:
    class Tagged(NovitaAI):
        model_config = ConfigDict(extra="allow")

    llm = Tagged(api_key=server.api_key, api_base=server.base_url, tag="nightly")
    assert llm.tag == "nightly"  # type: ignore[attr-defined]


def test_bad_per_call_kwargs_fail_before_any_request(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    with pytest.raises(InvalidParameterError, match="bogus"):
        llm.chat(USER, bogus=1)
    with pytest.raises(InvalidParameterError, match="min_p"):
        list(llm.stream_chat(USER, min_p=5))
    with pytest.raises(InvalidParameterError):
        llm.complete("x", top_k=1000)
    assert server.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_one_retry_layer_exactly_three_requests(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer, stream: bool
) -> None:
    llm = make_llm(max_retries=2)
    server.inject(Fault.status(503, retry_after_ms=5), times=10)
    with pytest.raises(openai.InternalServerError):
        if stream:
            list(llm.stream_chat(USER))
        else:
            llm.chat(USER)
    assert len(server.requests) == 3


def test_retry_recovers_and_async_stream_retries_too(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm(max_retries=2)
    server.inject(Fault.status(429, retry_after_ms=5), times=2)

    async def main() -> str:
        text = ""
        async for chunk in await llm.astream_chat(USER):
            text = chunk.message.content or ""
        return text

    assert asyncio.run(main()) == "Echo: hello novita"
    assert len(server.requests) == 3


def test_max_retries_zero_means_one_request(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    server.inject(Fault.status(500, retry_after_ms=5), times=5)
    with pytest.raises(openai.InternalServerError):
        make_llm(max_retries=0).complete("x")
    assert len(server.requests) == 1


def test_streamed_usage_is_present(llm: NovitaAI, server: OfflineNovitaServer) -> None:
    chunks = list(llm.stream_chat(USER))
    assert server.last_request.json["stream_options"] == {"include_usage": True}
    assert chunks[-1].additional_kwargs["prompt_tokens"] > 0
    assert chunks[-1].additional_kwargs["completion_tokens"] > 0


def test_api_key_never_leaks(server: OfflineNovitaServer) -> None:
    llm = NovitaAI(api_key=SECRET, api_base=server.base_url, max_retries=0)
    assert SECRET not in repr(llm)
    assert SECRET not in str(llm)
    assert SECRET not in llm.to_json()
    assert SECRET not in json.dumps(llm.to_dict(), default=str)
    assert "api_key" not in llm.to_dict()
    assert SECRET not in json.dumps(llm.to_payload(), default=str)
    with pytest.raises(openai.AuthenticationError) as info:
        llm.chat(USER)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert server.last_request.authorized is False


def test_to_dict_round_trips_without_the_key(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = make_llm(top_k=12, temperature=0.3)
    data = llm.to_dict()
    assert data["class_name"] == "NovitaAI"
    monkeypatch.setenv("NOVITA_API_KEY", server.api_key)
    clone = NovitaAI.from_dict(data)
    assert (clone.top_k, clone.temperature, clone.api_base) == (12, 0.3, server.base_url)
    clone.chat(USER)
    assert server.last_request.authorized


def test_missing_key_is_a_clear_error(server: OfflineNovitaServer) -> None:
    with pytest.raises(MissingAPIKeyError, match="NOVITA_API_KEY"):
        NovitaAI(api_base=server.base_url)


def test_sane_defaults_and_context_window(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    llm = make_llm()
    assert llm.temperature == 0.1
    assert llm.max_tokens is None
    assert llm.model != "deepseek/deepseek_v3"
    listing = {m["id"]: m for m in llm._novita.list_models()}
    meta = llm.metadata
    assert meta.context_window == listing[llm.model]["context_size"]
    assert meta.context_window != 3900
    assert 0 < meta.num_output < meta.context_window
    assert meta.model_name == llm.model


def test_context_window_from_model_list_and_explicit_override(
    make_llm: Callable[..., NovitaAI], server: OfflineNovitaServer
) -> None:
    server.add_model("acme/long-context", context_size=200_000)
    llm = make_llm(model="acme/long-context", model_listing=True)
    assert llm.metadata.context_window == 8192  # never I/O: not listed yet, not bundled
    assert server.requests == []
    llm.chat(USER)  # the first request reads Novita's model list
    assert [r.method for r in server.requests] == ["GET", "POST"]
    assert make_llm(model="acme/long-context").metadata.context_window == 200_000
    assert make_llm(model="acme/long-context", context_window=1000).metadata.context_window == 1000
    assert make_llm(max_tokens=500).metadata.num_output == 500


def test_plain_chat_calls_do_not_fetch_the_model_list(
    llm: NovitaAI, server: OfflineNovitaServer
) -> None:
    llm.chat(USER)
    llm.complete("x")
    assert {r.path for r in server.requests} == {"/v3/openai/chat/completions"}


def test_import_does_not_pull_langchain_or_register_novita_namespace() -> None:
    code = (
        "import sys, llama_index_novita\n"
        "assert not any(m.startswith('langchain') for m in sys.modules), 'langchain imported'\n"
        "assert 'llama_index.llms.novita' not in sys.modules\n"
        "print(llama_index_novita.__version__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
