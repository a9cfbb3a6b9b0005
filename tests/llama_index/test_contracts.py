"""The LlamaIndex contracts users rely on: persistent options, live settings, OpenAILike idioms."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai
import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
USER = [ChatMessage(role="user", content="hi")]


def bodies(server: OfflineNovitaServer, suffix: str) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith(suffix)]


def run_chat(llm: NovitaAI, mode: str) -> None:
    """One chat turn through the sync, async, stream or async-stream entry point."""
    if mode == "chat":
        llm.chat(USER)
    elif mode == "stream_chat":
        list(llm.stream_chat(USER))
    elif mode == "achat":
        asyncio.run(llm.achat(USER))
    else:

        async def drain() -> None:
            async for _ in await llm.astream_chat(USER):
                pass

        asyncio.run(drain())


CHAT_MODES = ["chat", "stream_chat", "achat", "astream_chat"]


# -- a persistent extra_body -----------------------------------------------------------------


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_extra_body_field_is_sent_with_every_request(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI], mode: str
) -> None:
    llm = make_llm(model=MODEL, extra_body={"provider_hint": "fast", "seed_mode": 1})
    run_chat(llm, mode)
    body = bodies(server, "/chat/completions")[-1]
    assert (body["provider_hint"], body["seed_mode"]) == ("fast", 1)


def test_extra_body_sources_merge_field_then_additional_kwargs_then_call(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    llm = make_llm(
        model=MODEL,
        extra_body={"a": "field", "b": "field"},
        additional_kwargs={"extra_body": {"b": "additional", "c": "additional"}},
    )
    llm.chat(USER, extra_body={"c": "call"})
    body = server.last_request.json
    assert (body["a"], body["b"], body["c"]) == ("field", "additional", "call")


def test_extra_body_reaches_the_completions_endpoint(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    make_llm(model=MODEL, is_chat_model=False, extra_body={"x_flag": True}).complete("Once")
    assert bodies(server, "/completions")[-1]["x_flag"] is True


def test_extra_body_must_be_a_dict(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    with pytest.raises(ValueError, match="extra_body"):
        make_llm(additional_kwargs={"extra_body": "nope"})
    assert server.requests == []


def test_embedding_extra_body_field_is_sent(server: OfflineNovitaServer) -> None:
    embed = NovitaEmbedding(
        api_key=server.api_key, api_base=server.base_url, extra_body={"truncate": "END"}
    )
    embed.get_text_embedding("x")
    asyncio.run(embed.aget_text_embedding("y"))
    assert [body["truncate"] for body in bodies(server, "/embeddings")] == ["END", "END"]


# -- connection fields assigned after construction -------------------------------------------


def test_assigned_api_base_and_api_key_are_used(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    llm = make_llm(model=MODEL)
    llm.chat(USER)
    with OfflineNovitaServer(api_key="second-key") as other:
        llm.api_base = other.base_url
        llm.api_key = "second-key"  # type: ignore[assignment]  # users assign plain strings
        llm.chat(USER)
        asyncio.run(llm.achat(USER))
        assert len(other.requests) == 2 and other.last_request.authorized
        assert llm.base_url == other.base_url
    assert len(server.requests) == 1


def test_assigned_max_retries_and_timeout_are_used(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    llm = make_llm(model=MODEL, max_retries=0)
    llm.chat(USER)
    llm.max_retries = 2
    llm.timeout = 17
    server.reset()
    server.inject(Fault.status(503), times=2)
    llm.chat(USER)
    assert len(server.requests) == 3
    assert server.last_request.headers["x-stainless-read-timeout"] == "17.0"


def test_assigned_wrong_key_is_used(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    llm = make_llm(model=MODEL, max_retries=0)
    llm.api_key = "wrong"  # type: ignore[assignment]
    with pytest.raises(openai.AuthenticationError):
        llm.chat(USER)
    assert not server.last_request.authorized


def test_assigned_embedding_api_base_is_used(server: OfflineNovitaServer) -> None:
    embed = NovitaEmbedding(api_key="second-key", api_base=server.base_url, max_retries=0)
    with OfflineNovitaServer(api_key="second-key") as other:
        embed.api_base = other.base_url
        assert len(embed.get_text_embedding("x")) == 1024
        assert len(other.requests) == 1
    assert server.requests == []


def test_timeout_pair_reaches_the_openai_client(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    make_llm(model=MODEL, timeout=(2, 8)).chat(USER)
    assert server.last_request.headers["x-stainless-read-timeout"] == "8.0"


# -- completion_to_prompt on the completions endpoint ----------------------------------------


def _wrap(prompt: str) -> str:
    return f"<s>[INST] {prompt} [/INST]"


@pytest.mark.parametrize("mode", ["complete", "stream_complete", "acomplete", "astream_complete"])
def test_completion_to_prompt_applies_on_the_completions_endpoint(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI], mode: str
) -> None:
    llm = make_llm(model=MODEL, is_chat_model=False, completion_to_prompt=_wrap)
    if mode == "complete":
        llm.complete("Once")
    elif mode == "stream_complete":
        list(llm.stream_complete("Once"))
    elif mode == "acomplete":
        asyncio.run(llm.acomplete("Once"))
    else:

        async def drain() -> None:
            async for _ in await llm.astream_complete("Once"):
                pass

        asyncio.run(drain())
    assert bodies(server, "/completions")[-1]["prompt"] == "<s>[INST] Once [/INST]"


def test_formatted_prompts_and_chat_are_not_wrapped_twice(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    llm = make_llm(
        model=MODEL,
        is_chat_model=False,
        completion_to_prompt=_wrap,
        messages_to_prompt=lambda messages: "|".join(str(m.content) for m in messages),
    )
    llm.complete("Once", formatted=True)
    llm.chat(USER)
    assert [body["prompt"] for body in bodies(server, "/completions")] == ["Once", "hi"]


# -- OpenAILike idioms -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", CHAT_MODES)
def test_stream_options_in_additional_kwargs_apply_to_streams_only(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI], mode: str
) -> None:
    llm = make_llm(model=MODEL, additional_kwargs={"stream_options": {"include_usage": True}})
    run_chat(llm, mode)
    body = server.last_request.json
    if mode.startswith(("stream", "astream")):
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
    else:
        assert "stream" not in body and "stream_options" not in body


def test_logit_bias_with_int_token_ids_in_the_constructor(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    make_llm(model=MODEL, logit_bias={50256: -100, "42": 5}).chat(USER)
    assert server.last_request.json["logit_bias"] == {"50256": -100, "42": 5}


def test_insecure_env_base_url_error_names_api_base(
    server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_BASE_URL", "http://novita.example/v3/openai")
    with pytest.raises(ValueError, match=r"pass api_base=\.\.\. explicitly") as info:
        NovitaAI(api_key="k")
    assert "base_url=" not in str(info.value)
    with pytest.raises(ValueError, match="api_base="):
        NovitaEmbedding(api_key="k")


def test_bad_api_base_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match=r"api_base='novita\.example/v1' is not an http\(s\)"):
        NovitaAI(api_key="k", api_base="novita.example/v1")


@pytest.mark.parametrize("flag", [True, False])
def test_constructor_refuses_booleans_for_numbers(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI], flag: bool
) -> None:
    for name in ("temperature", "top_p", "max_tokens", "top_k", "seed", "repetition_penalty"):
        with pytest.raises(ValueError, match=f"{name} must be"):
            make_llm(**{name: flag})
    with pytest.raises(ValueError, match="dimensions must be an integer"):
        NovitaEmbedding(api_key="k", api_base=server.base_url, dimensions=flag)
    for model in (make_llm, lambda **kw: NovitaEmbedding(api_key="k", **kw)):
        with pytest.raises(ValueError, match="max_retries"):
            model(max_retries=flag)
    assert server.requests == []


def test_n_above_one_is_refused_on_streams(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI]
) -> None:
    llm = make_llm(model=MODEL, additional_kwargs={"n": 2})
    with pytest.raises(ValueError, match="n=2 cannot be streamed"):
        llm.stream_chat(USER)
    assert server.requests == []


@pytest.mark.parametrize(("mode", "agent"), [("chat", "OpenAI"), ("achat", "AsyncOpenAI")])
def test_user_agent_is_the_sdks_public_one(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI], mode: str, agent: str
) -> None:
    run_chat(make_llm(model=MODEL), mode)
    assert server.last_request.headers["user-agent"] == f"{agent}/Python {openai.__version__}"


@pytest.mark.parametrize(
    "name", ["api_type", "api_version", "strict", "modalities", "audio_config", "tokenizer"]
)
def test_openai_like_arguments_the_readme_names_are_refused(
    server: OfflineNovitaServer, make_llm: Callable[..., NovitaAI], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        make_llm(**{name: None})
    assert server.requests == []


def test_raw_and_tool_calls_are_dicts_as_the_readme_says(
    make_llm: Callable[..., NovitaAI],
) -> None:
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    llm = make_llm(model=MODEL)
    response = llm.chat_with_tools([FunctionTool.from_defaults(multiply)], "6 times 7?")
    assert isinstance(response.raw, dict) and response.raw["usage"]["total_tokens"] > 0
    calls = response.message.additional_kwargs["tool_calls"]
    assert calls[0]["function"]["name"] == "multiply"
