"""The physical floor: bare HTTP clients on the same offline server, no SDK and no framework.

Each floor contender builds the request JSON, sends it, and decodes the JSON answer (or every
SSE event of a stream) — the least work any client must do per call. The sync-and-async row
uses the HTTP library the installed ``openai`` sends with (``httpx`` on 2.x, ``httpx2`` on 3.x);
the aiohttp row is async only (its sync ``invoke``, used once by the worker's sanity check, is
``urllib``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import AsyncIterator
from importlib import import_module, metadata
from typing import Any

from contenders import MODEL, Contender


def _body(prompt: str, *, stream: bool = False) -> bytes:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def _content(answer: bytes) -> str:
    return str(json.loads(answer)["choices"][0]["message"]["content"] or "")


def _event(line: str) -> dict[str, Any] | None:
    """The decoded JSON of an SSE ``data:`` line; None for other lines and ``[DONE]``."""
    if line.startswith("data: ") and line != "data: [DONE]":
        return dict(json.loads(line[6:]))
    return None


class _Floor(Contender):
    """What both floors share: the URL, the headers, and counting a stream's events."""

    supports_batch = False

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._url = base_url.rstrip("/") + "/chat/completions"

    async def astream(self, prompt: str) -> int:
        n = 0
        async for _ in self.astream_iter(prompt):
            n += 1
        return n


def openai_http_library() -> str:
    """``httpx2`` when the installed openai is 3.x or later, else ``httpx``."""
    major = int(metadata.version("openai").split(".", 1)[0])
    return "httpx2" if major >= 3 else "httpx"


class BareHttpx(_Floor):
    """``httpx`` / ``httpx2`` ``Client`` and ``AsyncClient``: POST, read, ``json.loads``."""

    name = "floor:httpx"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        http: Any = import_module(openai_http_library())
        self.library = http.__name__
        self._sync = http.Client(headers=self._headers)
        self._async = http.AsyncClient(headers=self._headers)

    def invoke(self, prompt: str) -> str:
        return _content(self._sync.post(self._url, content=_body(prompt)).raise_for_status().read())

    def stream(self, prompt: str) -> int:
        with self._sync.stream("POST", self._url, content=_body(prompt, stream=True)) as resp:
            resp.raise_for_status()
            return sum(1 for line in resp.iter_lines() if _event(line) is not None)

    async def ainvoke(self, prompt: str) -> str:
        resp = await self._async.post(self._url, content=_body(prompt))
        return _content(resp.raise_for_status().content)

    async def astream_iter(self, prompt: str) -> AsyncIterator[Any]:  # type: ignore[override]
        request = self._async.stream("POST", self._url, content=_body(prompt, stream=True))
        async with request as resp:
            resp.raise_for_status()
            async for line in resp.aiter_lines():
                if (event := _event(line)) is not None:
                    yield event

    async def aclose(self) -> None:
        await self._async.aclose()


class BareAiohttp(_Floor):
    """``aiohttp.ClientSession`` (async only): POST, read, ``json.loads``."""

    name = "floor:aiohttp"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        import aiohttp

        self._aiohttp = aiohttp
        self._session: Any = None  # made on the worker's event loop, at the first async call

    def invoke(self, prompt: str) -> str:
        request = urllib.request.Request(self._url, _body(prompt), self._headers, method="POST")
        with urllib.request.urlopen(request, timeout=30) as resp:
            return _content(resp.read())

    def _client(self) -> Any:
        if self._session is None:
            self._session = self._aiohttp.ClientSession(headers=self._headers)
        return self._session

    async def ainvoke(self, prompt: str) -> str:
        async with self._client().post(self._url, data=_body(prompt)) as resp:
            resp.raise_for_status()
            return _content(await resp.read())

    async def astream_iter(self, prompt: str) -> AsyncIterator[Any]:  # type: ignore[override]
        async with self._client().post(self._url, data=_body(prompt, stream=True)) as resp:
            resp.raise_for_status()
            async for raw in resp.content:
                if (event := _event(raw.decode().rstrip("\r\n"))) is not None:
                    yield event

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


FLOORS: dict[str, type[Contender]] = {c.name: c for c in (BareHttpx, BareAiohttp)}
