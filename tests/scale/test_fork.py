"""Forking after a call: the child builds its own pools and every answer is its own.

Before a fork the parent has a keep-alive connection in its pool. A child that reused it would
share the socket with the parent, and each could read the other's answer. The offline server
answers ``"Echo: <prompt>"`` (or a vector hashed from the text), after a short delay so that
parent and child requests overlap; every answer is checked against its own prompt.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from novita_core.testing import OfflineNovitaServer
from tests.scale.models import KIND_IDS, KINDS, Kind

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only"),
]

ROUNDS = 8
CALLS = 3
CHILD_SECONDS = 30.0


@pytest.fixture(scope="module")
def slow_server() -> Iterator[OfflineNovitaServer]:
    with OfflineNovitaServer(latency=0.01) as server:
        yield server


def _in_child(work: Callable[[], list[str]], write_fd: int) -> NoReturn:
    """Run ``work`` in the forked child, report through the pipe, never return to pytest."""
    code = 1
    try:
        payload: dict[str, Any] = {"answers": work()}
        code = 0
    except BaseException as exc:
        payload = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        try:
            os.write(write_fd, json.dumps(payload).encode())
        finally:
            os._exit(code)


def _wait(pid: int, read_fd: int) -> dict[str, Any]:
    deadline = time.monotonic() + CHILD_SECONDS
    while time.monotonic() < deadline:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"child {pid} did not finish in {CHILD_SECONDS}s")
    chunks = []
    while chunk := os.read(read_fd, 1 << 20):
        chunks.append(chunk)
    os.close(read_fd)
    result: dict[str, Any] = json.loads(b"".join(chunks) or b'{"error": "no report"}')
    return result


def _calls(kind: Kind, model: Any, who: str, round_: int, *, use_async: bool) -> list[str]:
    """Make ``CALLS`` calls, check each answer; the prompts answered (a small report)."""
    answered = []
    for i in range(CALLS):
        prompt = f"{who} round {round_} call {i}"
        answer = kind.run_async(model, prompt) if use_async else kind.call(model, prompt)
        kind.check(answer, prompt)
        answered.append(prompt)
    return answered


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_os_fork_after_a_call_every_answer_is_its_own(
    kind: Kind, slow_server: OfflineNovitaServer
) -> None:
    model = kind.build(slow_server)
    for round_ in range(ROUNDS):
        kind.check(kind.call(model, f"warm {round_}"), f"warm {round_}")  # a pooled connection
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _in_child(
                functools.partial(_calls, kind, model, "child", round_, use_async=round_ % 2 == 1),
                write_fd,
            )
        os.close(write_fd)
        _calls(kind, model, "parent", round_, use_async=False)
        report = _wait(pid, read_fd)
        assert "error" not in report, report["error"]
        assert report["answers"] == [f"child round {round_} call {i}" for i in range(CALLS)]


_pool_model: Any = None
_pool_kind: Kind | None = None


def _pool_task(prompt: str) -> Any:
    assert _pool_kind is not None
    return _pool_kind.call(_pool_model, prompt)


@pytest.mark.parametrize("kind", [KINDS[0], KINDS[2], KINDS[3]], ids=lambda k: k.name)
def test_fork_pool_after_a_call_every_answer_is_its_own(
    kind: Kind, slow_server: OfflineNovitaServer
) -> None:
    global _pool_model, _pool_kind
    _pool_model, _pool_kind = kind.build(slow_server), kind
    try:
        kind.check(kind.call(_pool_model, "warm"), "warm")
        context = multiprocessing.get_context("fork")
        for round_ in range(ROUNDS // 2):
            prompts = [f"pool round {round_} item {i}" for i in range(12)]
            with context.Pool(2) as pool:
                pending = pool.map_async(_pool_task, prompts)
                _calls(kind, _pool_model, "parent", round_, use_async=False)
                answers = pending.get(timeout=CHILD_SECONDS)
            for prompt, answer in zip(prompts, answers, strict=True):
                kind.check(answer, prompt)
    finally:
        _pool_model, _pool_kind = None, None
