"""The API key never leaks, and request bodies stay out of the logs unless the user opts in.

Every way a model can be shown, serialized, logged or fail is scanned for a distinctive key
string: repr/str, pydantic dumps, ``langchain_core.load.dumps``, LlamaIndex ``to_json`` /
``to_dict``, callback and instrumentation payloads, DEBUG log output of every logger (the openai
SDK, httpx/httpcore, aiohttp, asyncio, ours) during a successful, a retried and a failing call,
and the messages and full tracebacks of the errors.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import ChatMessage

from langchain_novita import ChatNovita, Novita, NovitaEmbeddings
from llama_index_novita import NovitaAI, NovitaEmbedding
from novita_core import NovitaClient, NovitaSettings, NovitaStreamError, build_request
from novita_core._logging import BODY_OPT_IN_ENV, SDK_LOGGER, RequestBodyFilter
from novita_core.testing import Fault, OfflineNovitaServer
from tests.reliability.drivers import ALL_DRIVERS, Driver

pytestmark = pytest.mark.timeout(60)

KEY = "sk-SECRET-5f3a9c-do-not-leak-7d21"
WRONG_KEY = "sk-WRONG-91be07-do-not-leak-either-4c"
PROMPT = "zebra-PROMPT-marker-3141 tell me something"
PROMPT_MARK = "zebra-PROMPT-marker-3141"


def assert_clean(text: str, where: str = "") -> None:
    for secret in (KEY, WRONG_KEY):
        assert secret not in text, f"{secret!r} leaked {where}: ...{_around(text, secret)}..."


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 200) : at + len(needle) + 50]


@pytest.fixture
def server() -> Iterator[OfflineNovitaServer]:
    with OfflineNovitaServer(api_key=KEY) as srv:
        yield srv


# -- the objects themselves ----------------------------------------------------------------------

LC_CLASSES = [ChatNovita, Novita, NovitaEmbeddings]


def lc_models(server: OfflineNovitaServer) -> list[Any]:
    return [cls(api_key=KEY, base_url=server.base_url) for cls in LC_CLASSES]


def li_models(server: OfflineNovitaServer) -> list[Any]:
    return [
        NovitaAI(api_key=KEY, api_base=server.base_url),
        NovitaEmbedding(api_key=KEY, api_base=server.base_url),
    ]


def renderings(obj: Any) -> Iterator[tuple[str, str]]:
    yield "repr", repr(obj)
    yield "str", str(obj)
    yield "format", f"{obj!s} {obj!r}"
    if hasattr(obj, "model_dump"):
        yield "model_dump", repr(obj.model_dump())
        yield "model_dump(json)", repr(obj.model_dump(mode="json"))
        yield "model_dump_json", obj.model_dump_json()
        yield "fields", repr({name: getattr(obj, name) for name in type(obj).model_fields})


def test_langchain_objects_never_show_the_key(server: OfflineNovitaServer) -> None:
    for model in lc_models(server):
        for how, text in renderings(model):
            assert_clean(text, f"{type(model).__name__} {how}")
        assert_clean(dumps(model))
        assert_clean(dumps(model, pretty=True))
        assert_clean(repr(dumpd(model)))
        assert model.api_key.get_secret_value() == KEY  # still usable


def test_langchain_serialization_refers_to_the_env_var(server: OfflineNovitaServer) -> None:
    for model in lc_models(server)[:2]:
        assert dumpd(model)["kwargs"]["api_key"] == {
            "lc": 1,
            "type": "secret",
            "id": ["NOVITA_API_KEY"],
        }


def test_llama_index_objects_never_show_the_key(server: OfflineNovitaServer) -> None:
    for model in li_models(server):
        for how, text in renderings(model):
            assert_clean(text, f"{type(model).__name__} {how}")
        assert_clean(model.to_json())
        assert_clean(repr(model.to_dict()))
        if isinstance(model, NovitaAI):
            assert_clean(repr(model.to_payload()))
            assert_clean(repr(model.metadata))


def test_key_from_the_environment_never_shows(
    server: OfflineNovitaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVITA_API_KEY", KEY)
    models: list[Any] = [
        ChatNovita(base_url=server.base_url),
        Novita(base_url=server.base_url),
        NovitaEmbeddings(base_url=server.base_url),
        NovitaAI(api_base=server.base_url),
        NovitaEmbedding(api_base=server.base_url),
    ]
    for model in models:
        for _, text in renderings(model):
            assert_clean(text)
    assert models[0].invoke("hi").content == "Echo: hi"  # the env key is the one sent


def test_core_objects_never_show_the_key(server: OfflineNovitaServer) -> None:
    settings = NovitaSettings.resolve(api_key=KEY, base_url=server.base_url)
    client = NovitaClient(settings)
    for text in (repr(settings), str(settings), repr(client), str(client)):
        assert_clean(text)


# -- callback and instrumentation payloads --------------------------------------------------------


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            seen = object.__getattribute__(self, "seen")

            def record(*args: Any, **kwargs: Any) -> None:
                seen.append(f"{name} {args!r} {kwargs!r}")

            return record
        return object.__getattribute__(self, name)


def test_langchain_callbacks_and_tracing_payloads_have_no_key(server: OfflineNovitaServer) -> None:
    recorder = Recorder()
    chat, llm, _ = lc_models(server)
    chat.invoke("hi", config={"callbacks": [recorder]})
    list(chat.stream("hi", config={"callbacks": [recorder]}))
    llm.invoke("hi", config={"callbacks": [recorder]})
    assert any(s.startswith("on_chat_model_start") for s in recorder.seen)
    assert any(s.startswith("on_llm_start") for s in recorder.seen)
    assert_clean("\n".join(recorder.seen))
    assert_clean(repr(chat._get_ls_params()) + repr(chat._identifying_params))


class EventRecorder(BaseEventHandler):
    seen: list[str] = []

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.seen.append(f"{event!r} {event.model_dump()!r}")


def test_llama_index_instrumentation_events_have_no_key(server: OfflineNovitaServer) -> None:
    handler = EventRecorder(seen=[])
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        llm, embed = li_models(server)
        llm.chat([ChatMessage(role="user", content="hi")])
        llm.complete("hi")
        embed.get_text_embedding("hi")
    finally:
        dispatcher.event_handlers.remove(handler)
    assert handler.seen
    assert_clean("\n".join(handler.seen))


# -- logs at DEBUG, for every logger ---------------------------------------------------------------


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
    return "\n".join(parts)


@pytest.mark.parametrize("driver", ALL_DRIVERS, ids=[d.id for d in ALL_DRIVERS])
def test_debug_logs_of_all_loggers_hold_neither_key_nor_prompt(
    server: OfflineNovitaServer, driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: openai, httpx(2), httpcore, aiohttp, ...
    # success
    driver.run(server, PROMPT, init={"api_key": KEY, "max_retries": 2})
    # retried, then success (our retry warning and the SDK's status logging)
    server.inject(Fault.status(503, retry_after_ms=5), times=1)
    server.inject(Fault.reset(), times=1)
    driver.run(server, PROMPT, init={"api_key": KEY, "max_retries": 2})
    # a failing call: 401 for a wrong key
    with pytest.raises(openai.AuthenticationError) as info:
        driver.run(server, PROMPT, init={"api_key": WRONG_KEY, "max_retries": 2})
    assert len(server.requests) == 5

    logged = _log_text(caplog)
    assert "Novita request failed (HTTP 503)" in logged  # the logs were really captured
    assert any(r.name.startswith("openai") and r.levelno == logging.DEBUG for r in caplog.records)
    assert_clean(logged)
    assert PROMPT_MARK not in logged, _around(logged, PROMPT_MARK)  # no request bodies
    assert_clean("".join(traceback.format_exception(info.value)) + repr(info.value))


def test_sdk_request_options_record_has_its_body_blanked(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openai 2.x logs ``Request options: {... 'json_data': ...}`` at DEBUG; 3.x does not.

    The filter the core installs on the SDK's logger blanks the body unless opted in.
    """
    import novita_core.client  # noqa: F401  (installs the filter, as any request would)

    sdk_logger = logging.getLogger(SDK_LOGGER)
    assert any(isinstance(f, RequestBodyFilter) for f in sdk_logger.filters)
    options = {
        "method": "post",
        "url": "/chat/completions",
        "json_data": {"messages": [{"role": "user", "content": PROMPT}]},
        "extra_json": {"note": PROMPT},
        "headers": {"X-Novita-Source": "novita-integrations"},
    }
    caplog.set_level(logging.DEBUG)
    sdk_logger.debug("Request options: %s", options)
    message = caplog.records[-1].getMessage()
    assert PROMPT_MARK not in message
    assert "/chat/completions" in message  # the rest of the record is kept
    assert BODY_OPT_IN_ENV in message  # and says how to get the bodies

    monkeypatch.setenv(BODY_OPT_IN_ENV, "1")
    sdk_logger.debug("Request options: %s", options)
    assert PROMPT_MARK in caplog.records[-1].getMessage()
    # Unrelated records pass through untouched.
    sdk_logger.debug("HTTP Response: %s %i", "POST", 200)
    assert caplog.records[-1].getMessage() == "HTTP Response: POST 200"


def test_core_client_debug_logs_have_no_body_on_any_sdk_version(
    server: OfflineNovitaServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Core only, so it also proves the point when run against openai 2.x."""
    caplog.set_level(logging.DEBUG)
    client = NovitaClient(NovitaSettings.resolve(api_key=KEY, base_url=server.base_url))
    request = build_request(
        "chat",
        {
            "model": "meta-llama/llama-3.1-8b-instruct",
            "messages": [{"role": "user", "content": PROMPT}],
        },
    )
    assert client.create(request)["choices"][0]["message"]["content"] == f"Echo: {PROMPT}"
    asyncio.run(client.acreate(request))
    logged = _log_text(caplog)
    assert caplog.records
    assert PROMPT_MARK not in logged
    assert_clean(logged)


# -- exception messages and tracebacks ------------------------------------------------------------

FAILURES: list[tuple[str, Callable[[OfflineNovitaServer], None], dict[str, Any]]] = [
    ("401", lambda s: None, {"api_key": WRONG_KEY}),
    ("503", lambda s: s.inject(Fault.status(503, retry_after_ms=5), times=5), {}),
    ("reset", lambda s: s.inject(Fault.reset(), times=5), {}),
    ("stall", lambda s: s.inject(Fault.stall(3), times=5), {"timeout": 0.2}),
    ("malformed_json", lambda s: s.inject(Fault.malformed_json(), times=5), {}),
    ("malformed_sse", lambda s: s.inject(Fault.malformed_sse(), times=5), {}),
    ("drop_stream", lambda s: s.inject(Fault.drop_stream(4), times=5), {}),
]


@pytest.mark.parametrize(
    ("setup", "init"), [(f[1], f[2]) for f in FAILURES], ids=[f[0] for f in FAILURES]
)
@pytest.mark.parametrize("driver", ALL_DRIVERS, ids=[d.id for d in ALL_DRIVERS])
def test_errors_and_tracebacks_never_show_the_key(
    server: OfflineNovitaServer,
    driver: Driver,
    setup: Callable[[OfflineNovitaServer], None],
    init: dict[str, Any],
) -> None:
    setup(server)
    try:
        driver.run(server, PROMPT, init={"api_key": KEY, "max_retries": 1, **init})
    except Exception as exc:
        error: BaseException = exc
    else:
        # malformed_sse / drop_stream on a non-stream call answer normally
        assert not driver.streaming
        return
    text = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    text += repr(getattr(error, "body", None)) + repr(getattr(error, "request", None))
    assert_clean(text)
    if isinstance(error, NovitaStreamError | openai.APIStatusError):
        assert str(error)  # a message, not a blank error
