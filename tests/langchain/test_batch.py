"""ChatNovita / Novita ``batch()`` through Novita's Batch API, against the offline server."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import openai
import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

from langchain_novita import ChatNovita, Novita
from novita_core.batch import BatchLineError, BatchTimeoutError
from novita_core.params import InvalidParameterError
from novita_core.testing import Fault, OfflineNovitaServer

MODEL = "meta-llama/llama-3.3-70b-instruct"
FILE_ID = "file-offline-000001"
BATCH_ID = "batch_offline_000002"


def routes(server: OfflineNovitaServer) -> list[str]:
    return [f"{r.method} {r.path.removeprefix('/v3/openai')}" for r in server.requests]


def uploaded_lines(server: OfflineNovitaServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.batches.files[FILE_ID].content.splitlines()]


HAPPY_ROUTES = [
    "POST /files",
    "POST /batches",
    f"GET /batches/{BATCH_ID}",
    f"GET /batches/{BATCH_ID}",
    "GET /files/file-offline-000003/content",
]


@pytest.fixture
def chat(connect: dict[str, Any]) -> ChatNovita:
    return ChatNovita(
        model=MODEL,
        temperature=0.3,
        top_k=10,
        use_batch_api=True,
        batch_api_poll_interval=0.001,
        **connect,
    )


@pytest.fixture
def llm(connect: dict[str, Any]) -> Novita:
    return Novita(
        model=MODEL, max_tokens=16, use_batch_api=True, batch_api_poll_interval=0.001, **connect
    )


class Runs(BaseCallbackHandler):
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.ended: list[UUID] = []
        self.errors: list[BaseException] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.started.append({"messages": messages, **kwargs})

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.started.append({"prompts": prompts, **kwargs})

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.ended.append(run_id)

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.errors.append(error)


def test_chat_batch_goes_through_the_batch_api_with_the_live_request_body(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    inputs = ["Hello", [SystemMessage("Be brief."), HumanMessage("Bye")]]
    out = chat.batch(inputs, stop=["END"], extra_body={"flag": 1})  # type: ignore[arg-type]
    assert [m.content for m in out] == ["Echo: Hello", "Echo: Bye"]
    assert all(isinstance(m, AIMessage) for m in out)
    assert out[0].response_metadata["novita_batch_id"] == BATCH_ID
    assert out[0].response_metadata["finish_reason"] == "stop"
    assert out[0].usage_metadata is not None
    assert routes(server) == HAPPY_ROUTES
    lines = uploaded_lines(server)
    assert [line["custom_id"] for line in lines] == ["request-0", "request-1"]
    assert lines[1]["body"] == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Bye"},
        ],
        "temperature": 0.3,
        "top_k": 10,
        "stop": ["END"],
        "flag": 1,
    }
    # The same body a live invoke sends.
    live = ChatNovita(model=MODEL, temperature=0.3, top_k=10, **_connect(server))
    live.invoke(inputs[1], stop=["END"], extra_body={"flag": 1})  # type: ignore[arg-type]
    assert server.last_request.json == lines[1]["body"]
    assert server.requests[1].json == {
        "input_file_id": FILE_ID,
        "endpoint": "/v1/chat/completions",
        "completion_window": "48h",
    }


def _connect(server: OfflineNovitaServer) -> dict[str, Any]:
    return {"api_key": server.api_key, "base_url": server.base_url}


async def test_chat_abatch_goes_through_the_batch_api(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    out = await chat.abatch([f"q{i}" for i in range(6)])
    assert [m.content for m in out] == [f"Echo: q{i}" for i in range(6)]
    assert routes(server) == HAPPY_ROUTES


def test_without_use_batch_api_batch_stays_live(
    connect: dict[str, Any], server: OfflineNovitaServer
) -> None:
    out = ChatNovita(model=MODEL, **connect).batch(["a", "b"])
    assert [m.content for m in out] == ["Echo: a", "Echo: b"]
    assert sorted(routes(server)) == ["POST /chat/completions"] * 2


def test_each_input_gets_its_own_run_marked_as_batch_api(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    runs = Runs()
    chat.batch(
        ["a", "b"],
        config=[
            {"callbacks": [runs], "metadata": {"row": 0}, "run_name": "first"},
            {"callbacks": [runs], "metadata": {"row": 1}},
        ],
    )
    assert len(runs.started) == 2
    assert [run["metadata"]["row"] for run in runs.started] == [0, 1]
    assert all(run["metadata"]["novita_batch_api"] is True for run in runs.started)
    assert runs.started[0]["metadata"]["ls_model_name"] == MODEL
    assert runs.started[0]["name"] == "first"
    assert runs.started[0]["messages"][0][0].content == "a"
    assert len(set(runs.ended)) == 2
    assert runs.errors == []


def test_a_failed_line_raises_after_the_batch_or_takes_its_place(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    inputs = ["ok", [ChatMessage(role="wizard", content="bad role")], "also ok"]
    runs = Runs()
    with pytest.raises(BatchLineError, match="role is invalid") as caught:
        chat.batch(inputs, config={"callbacks": [runs]})  # type: ignore[arg-type]
    assert caught.value.index == 1
    assert routes(server)[-2:] == [
        "GET /files/file-offline-000003/content",
        "GET /files/file-offline-000004/content",
    ]  # raised only after the whole batch, both result files, was read
    assert len(runs.ended) == 2
    assert runs.errors == [caught.value]

    server.reset()
    out = chat.batch(inputs, return_exceptions=True)  # type: ignore[arg-type]
    assert isinstance(out[0], AIMessage)
    assert isinstance(out[1], BatchLineError)
    assert out[1].status_code == 400
    assert out[2].content == "Echo: also ok"


async def test_async_return_exceptions(chat: ChatNovita, server: OfflineNovitaServer) -> None:
    inputs = [[ChatMessage(role="wizard", content="x")], "fine"]
    out = await chat.abatch(inputs, return_exceptions=True)  # type: ignore[arg-type]
    assert isinstance(out[0], BatchLineError)
    assert out[1].content == "Echo: fine"
    with pytest.raises(BatchLineError):
        await chat.abatch(inputs)  # type: ignore[arg-type]


def test_bad_parameters_fail_before_any_upload(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    runs = Runs()
    with pytest.raises(InvalidParameterError, match="temperature"):
        chat.batch(["a", "b"], temperature=7, config={"callbacks": [runs]})
    with pytest.raises(InvalidParameterError, match="Unknown parameter 'bogus'"):
        chat.batch_api_submit(["a"], bogus=1)
    assert server.requests == []
    assert runs.started == []


def test_submit_status_retrieve_cancel(chat: ChatNovita, server: OfflineNovitaServer) -> None:
    batch_id = chat.batch_api_submit(["one", "two"], temperature=0)
    assert batch_id == BATCH_ID
    assert uploaded_lines(server)[0]["body"]["temperature"] == 0
    status = chat.batch_api_status(batch_id)
    assert status["status"] == "in_progress"
    assert status["request_counts"]["total"] == 2
    out = chat.batch_api_retrieve(batch_id, poll_interval=0.001)
    assert [m.content for m in out] == ["Echo: one", "Echo: two"]
    assert chat.batch_api_status(batch_id)["status"] == "completed"

    other = chat.batch_api_submit(["three"])
    assert chat.batch_api_cancel(other)["status"] == "cancelling"
    assert routes(server)[-1] == f"POST /batches/{other}/cancel"
    cancelled = chat.batch_api_retrieve(other, return_exceptions=True)
    assert isinstance(cancelled[0], BatchLineError)
    with pytest.raises(BatchLineError, match="cancelled"):
        chat.batch_api_retrieve(other)


async def test_async_submit_status_retrieve_cancel(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    batch_id = await chat.abatch_api_submit(["one"])
    assert (await chat.abatch_api_status(batch_id))["status"] == "in_progress"
    out = await chat.abatch_api_retrieve(batch_id)
    assert out[0].content == "Echo: one"
    other = await chat.abatch_api_submit(["two"])
    assert (await chat.abatch_api_cancel(other))["status"] == "cancelling"


def test_polls_are_counted_and_the_deadline_is_typed(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    server.batches.polls_per_status = 3
    batch_id = chat.batch_api_submit(["slow"])
    chat.batch_api_retrieve(batch_id, poll_interval=0.001)
    assert routes(server).count(f"GET /batches/{batch_id}") == 6

    server.batches.polls_per_status = 10**6
    stuck = chat.batch_api_submit(["stuck"])
    with pytest.raises(BatchTimeoutError) as caught:
        chat.batch_api_retrieve(stuck, poll_interval=0.001, timeout=0.05)
    assert caught.value.status == "validating"


@pytest.mark.parametrize(
    ("path", "before"),
    [("/files", 0), ("/batches", 1), (f"/batches/{BATCH_ID}", 2), ("/content", 4)],
)
def test_401_on_each_step_fails_every_run(
    chat: ChatNovita, server: OfflineNovitaServer, path: str, before: int
) -> None:
    server.inject(Fault.status(401, path=path))
    runs = Runs()
    with pytest.raises(openai.AuthenticationError):
        chat.batch(["a", "b"], config={"callbacks": [runs]})
    assert len(server.requests) == before + 1
    assert len(runs.errors) == 2
    assert server.api_key not in str(runs.errors[0])


@pytest.mark.parametrize(
    ("path", "extra"),
    # A retried create also lists the batches first (the fault on "/batches" hits that too).
    [("/files", 2), ("/batches", 3), (f"/batches/{BATCH_ID}", 2), ("/content", 2)],
)
def test_5xx_on_each_step_is_retried(
    chat: ChatNovita, server: OfflineNovitaServer, path: str, extra: int
) -> None:
    server.inject(Fault.status(503, retry_after_ms=1, path=path), times=2)
    out = chat.batch(["a"])
    assert out[0].content == "Echo: a"
    assert len(server.requests) == len(HAPPY_ROUTES) + extra
    assert len(server.batches.batches) == 1


# -- Novita (completions) --------------------------------------------------------------------


def test_llm_batch_goes_through_the_completions_batch(
    llm: Novita, server: OfflineNovitaServer
) -> None:
    out = llm.batch(["Once upon", "The end"], stop=["zzz"])
    assert out == [" Echo: Once upon", " Echo: The end"]
    assert routes(server) == HAPPY_ROUTES
    assert server.requests[1].json["endpoint"] == "/v1/completions"
    assert uploaded_lines(server)[0] == {
        "custom_id": "request-0",
        "method": "POST",
        "url": "/v1/completions",
        "body": {"model": MODEL, "max_tokens": 16, "stop": ["zzz"], "prompt": "Once upon"},
    }


async def test_llm_abatch_and_verbs(llm: Novita, server: OfflineNovitaServer) -> None:
    assert await llm.abatch(["a", "b"]) == [" Echo: a", " Echo: b"]
    batch_id = await llm.abatch_api_submit(["c"])
    assert (await llm.abatch_api_status(batch_id))["endpoint"] == "/v1/completions"
    assert await llm.abatch_api_retrieve(batch_id) == [" Echo: c"]
    assert llm.batch_api_retrieve(batch_id) == [" Echo: c"]
    other = llm.batch_api_submit(["d"])
    assert llm.batch_api_cancel(other)["status"] == "cancelling"
    assert (await llm.abatch_api_cancel(other))["status"] == "cancelling"


def test_llm_unknown_model_every_line_fails(
    connect: dict[str, Any], server: OfflineNovitaServer
) -> None:
    llm = Novita(model="nobody/none", use_batch_api=True, batch_api_poll_interval=0.001, **connect)
    runs = Runs()
    out = llm.batch(["a", "b"], config={"callbacks": [runs]}, return_exceptions=True)
    assert [type(o) for o in out] == [BatchLineError, BatchLineError]
    assert out[0].status_code == 404  # type: ignore[union-attr]
    assert [run["prompts"] for run in runs.started] == [["a"], ["b"]]
    assert all(run["metadata"]["novita_batch_api"] for run in runs.started)
    assert len(runs.errors) == 2
    with pytest.raises(BatchLineError, match="MODEL_NOT_FOUND"):
        llm.batch(["a"])


class AsyncRuns(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.ended = 0
        self.metadata: list[dict[str, Any]] = []

    async def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.metadata.append(kwargs["metadata"])

    async def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.ended += 1


async def test_llm_abatch_runs_with_async_callbacks(llm: Novita) -> None:
    runs = AsyncRuns()
    await llm.abatch(["a", "b"], config={"callbacks": [runs]})
    assert runs.ended == 2
    assert [m["novita_batch_api"] for m in runs.metadata] == [True, True]


def test_batch_api_fields_are_validated(connect: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="batch_api_poll_interval"):
        ChatNovita(model=MODEL, batch_api_poll_interval=0, **connect)
    assert ChatNovita(model=MODEL, use_batch_api=True, **connect).use_batch_api


def test_chains_and_structured_output_batch_through_one_job(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    from langchain_core.prompts import ChatPromptTemplate
    from pydantic import BaseModel

    class Person(BaseModel):
        name: str
        age: int

    people = chat.with_structured_output(Person).batch(["Ada is 36", "Bob is 40"])
    assert [p.age for p in people] == [36, 40]  # type: ignore[union-attr]
    assert routes(server) == HAPPY_ROUTES
    body = uploaded_lines(server)[0]["body"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    assert body["tools"][0]["function"]["name"] == "Person"
    assert "ls_structured_output_format" not in body

    server.reset()
    chain = ChatPromptTemplate.from_template("Say {word}") | chat
    assert [m.content for m in chain.batch([{"word": "yes"}, {"word": "no"}])] == [
        "Echo: Say yes",
        "Echo: Say no",
    ]
    assert [r.method for r in server.requests] == ["POST", "POST", "GET", "GET", "GET"]


async def test_a_failed_job_with_return_exceptions_fills_every_place(
    chat: ChatNovita, server: OfflineNovitaServer
) -> None:
    server.inject(Fault.status(401, path="/files"), times=2)
    out = chat.batch(["a", "b"], return_exceptions=True)
    assert [type(o) for o in out] == [openai.AuthenticationError] * 2
    out = await chat.abatch(["a"], return_exceptions=True)
    assert isinstance(out[0], openai.AuthenticationError)
    assert routes(server) == ["POST /files", "POST /files"]
