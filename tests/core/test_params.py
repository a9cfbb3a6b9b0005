"""The parameter table: validation, wire placement, and the JSON the server receives."""

from __future__ import annotations

from typing import Any

import pytest

from novita_core import InvalidParameterError, NovitaClient, NovitaSettings, build_request
from novita_core.params import PARAMETERS, Wire, parameter_names, validate_params
from novita_core.testing import OfflineNovitaServer

MODEL = "meta-llama/llama-3.1-8b-instruct"
MESSAGES = [{"role": "user", "content": "Hello there"}]

BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("chat", {"temperature": 3}, "0 <= temperature <= 2"),
    ("chat", {"temperature": -0.1}, "0 <= temperature <= 2"),
    ("chat", {"temperature": "hot"}, "temperature must be a number"),
    ("chat", {"temperature": True}, "temperature must be a number"),
    ("chat", {"temperature": float("nan")}, "finite"),
    ("chat", {"top_p": 0}, "0 < top_p <= 1"),
    ("chat", {"top_p": 1.5}, "0 < top_p <= 1"),
    ("chat", {"stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
    ("chat", {"stop": [1]}, "list of strings"),
    ("chat", {"n": 0}, "1 <= n <= 128"),
    ("chat", {"n": 1.5}, "n must be an integer"),
    ("chat", {"presence_penalty": 2.5}, "-2 <= presence_penalty <= 2"),
    ("chat", {"frequency_penalty": -3}, "-2 <= frequency_penalty <= 2"),
    ("chat", {"repetition_penalty": 0}, "0 < repetition_penalty <= 2"),
    ("chat", {"repetition_penalty": 2.5}, "0 < repetition_penalty <= 2"),
    ("chat", {"top_k": 0}, "1 <= top_k <= 128"),
    ("chat", {"min_p": 1.2}, "0 <= min_p <= 1"),
    ("chat", {"logit_bias": {"50256": -150}}, "-100 <= bias <= 100"),
    ("chat", {"top_logprobs": 21}, "0 <= top_logprobs <= 20"),
    ("chat", {"max_tokens": 0}, "max_tokens >= 1"),
    ("chat", {"tool_choice": "sometimes"}, "tool_choice must be one of"),
    ("chat", {"response_format": {"type": "yaml"}}, "response_format['type']"),
    ("chat", {"frobnicate": 1}, "Unknown parameter 'frobnicate'"),
    ("chat", {"prompt": "x"}, "Unknown parameter 'prompt'"),
    ("completions", {"logprobs": 6}, "0 <= logprobs <= 5"),
    ("completions", {"tools": []}, "Unknown parameter 'tools'"),
    ("embeddings", {"dimensions": 0}, "dimensions >= 1"),
    ("embeddings", {"encoding_format": "base64"}, "encoding_format must be one of"),
]


@pytest.mark.parametrize(("endpoint", "params", "message"), BAD_VALUES)
def test_bad_values_name_the_parameter_and_range(
    endpoint: Any, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message.replace("[", r"\[")):
        validate_params(endpoint, params)


def test_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidParameterError) as info:
        validate_params("chat", {"temprature": 0.5})
    assert "temperature" in str(info.value)
    assert "extra_body" in str(info.value)


def test_cross_parameter_rules() -> None:
    base = {"model": MODEL, "messages": MESSAGES}
    with pytest.raises(InvalidParameterError, match="top_logprobs requires logprobs=True"):
        build_request("chat", {**base, "top_logprobs": 2})
    with pytest.raises(InvalidParameterError, match="stream_options is only allowed"):
        build_request("chat", {**base, "stream_options": {"include_usage": True}})
    with pytest.raises(InvalidParameterError, match="best_of must be >= n"):
        build_request("completions", {"model": MODEL, "prompt": "x", "n": 3, "best_of": 2})


def test_a_named_tool_choice_must_name_a_tool_of_the_request() -> None:
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    named = {"type": "function", "function": {"name": "get_weather"}}
    base = {"model": MODEL, "messages": MESSAGES}
    assert (
        build_request("chat", {**base, "tools": [weather], "tool_choice": named}).body[
            "tool_choice"
        ]
        == named
    )
    with pytest.raises(InvalidParameterError, match=r"'get_time', which is not among.*get_weather"):
        other = {"type": "function", "function": {"name": "get_time"}}
        build_request("chat", {**base, "tools": [weather], "tool_choice": other})
    with pytest.raises(InvalidParameterError, match=r"'get_weather', which is not among.*\[\]"):
        build_request("chat", {**base, "tool_choice": named})
    build_request("chat", {**base, "tools": [weather], "tool_choice": "required"})


def test_required_fields() -> None:
    with pytest.raises(InvalidParameterError, match="messages is required"):
        build_request("chat", {"model": MODEL})
    with pytest.raises(InvalidParameterError, match="messages must not be empty"):
        build_request("chat", {"model": MODEL, "messages": []})


def test_split_between_keywords_and_extra_body() -> None:
    request = build_request(
        "chat",
        {
            "model": MODEL,
            "messages": MESSAGES,
            "temperature": 0.2,
            "repetition_penalty": 1.1,
            "top_k": 40,
            "min_p": 0.05,
            "seed": None,
        },
        extra_body={"some_future_field": True},
    )
    assert request.body == {"model": MODEL, "messages": MESSAGES, "temperature": 0.2}
    assert request.extra_body == {
        "repetition_penalty": 1.1,
        "top_k": 40,
        "min_p": 0.05,
        "some_future_field": True,
    }


def test_streams_ask_for_usage_unless_told_otherwise() -> None:
    base = {"model": MODEL, "messages": MESSAGES, "stream": True}
    assert build_request("chat", base).body["stream_options"] == {"include_usage": True}
    off = build_request("chat", {**base, "stream_options": {"include_usage": False}})
    assert off.body["stream_options"] == {"include_usage": False}


def test_table_is_consistent() -> None:
    novita_extras = {spec.name for spec in PARAMETERS if spec.wire is Wire.EXTRA_BODY}
    assert novita_extras >= {"repetition_penalty", "top_k", "min_p", "separate_reasoning"}
    assert all(spec.wire in (Wire.KWARG, Wire.EXTRA_BODY) for spec in PARAMETERS)
    assert "tools" in parameter_names("chat")
    assert "tools" not in parameter_names("completions")


def test_novita_extras_travel_at_the_top_level_of_the_body(
    novita_server: OfflineNovitaServer,
) -> None:
    client = NovitaClient(
        NovitaSettings.resolve(api_key=novita_server.api_key, base_url=novita_server.base_url)
    )
    request = build_request(
        "chat",
        {
            "model": MODEL,
            "messages": MESSAGES,
            "temperature": 0,
            "repetition_penalty": 1.1,
            "top_k": 40,
        },
    )
    client.create(request)
    assert novita_server.requests[-1].json == {
        "model": MODEL,
        "messages": MESSAGES,
        "temperature": 0,
        "repetition_penalty": 1.1,
        "top_k": 40,
    }


def test_invalid_values_send_nothing(novita_server: OfflineNovitaServer) -> None:
    with pytest.raises(InvalidParameterError):
        build_request("chat", {"model": MODEL, "messages": MESSAGES, "temperature": 3})
    assert novita_server.requests == []


def test_validate_params_checks_combinations_too() -> None:
    with pytest.raises(InvalidParameterError, match="top_logprobs requires logprobs=True"):
        validate_params("chat", {"top_logprobs": 3, "logprobs": None})
    validate_params("chat", {"top_logprobs": 3, "logprobs": True})
