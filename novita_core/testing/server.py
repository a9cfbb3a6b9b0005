"""An offline, Novita-compatible HTTP server for tests, benchmarks and notebooks.

It speaks real HTTP/1.1 on 127.0.0.1 so that the code under test exercises its actual transport
(connection pools, keep-alive, SSE parsing, retries), yet never touches the network. This module
is the server's lifecycle, routing, request recording, fault queue and script of exact replies;
the bytes on the wire are :mod:`~novita_core.testing._http`, faults
:mod:`~novita_core.testing.faults`, and the deterministic answers
:mod:`~novita_core.testing.replies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from novita_core.testing._http import HttpRequest, Responder
from novita_core.testing._loop import LoopbackServer
from novita_core.testing.batches import BatchStore
from novita_core.testing.faults import FAULT_HEADER, Fault, FaultKind, wire
from novita_core.testing.replies import (
    ApiError,
    ModelInfo,
    build_chat,
    build_completion,
    build_embeddings,
    catalog_models,
    dumps,
    error_body,
    listing,
)
from novita_core.testing.replies.scripted import MatchQueue, ScriptedReply
from novita_core.testing.rerank import RERANK_PATH, build_rerank

__all__ = ["Fault", "FaultKind", "OfflineNovitaServer", "RecordedRequest", "ScriptedReply"]

DEFAULT_API_KEY = "test-key"
BASE_PATH = "/v3/openai"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it.

    Args:
        method: HTTP method.
        path: Request path without the query string.
        headers: Headers with lower-case names, ``authorization`` removed.
        json: Parsed JSON body, or None when absent or not JSON.
        authorized: Whether the bearer key was the accepted one.
        body: Raw body bytes.
        query: Query string (without ``?``).
        has_authorization: Whether any ``Authorization`` header arrived (its value is not kept).
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    authorized: bool
    body: bytes = b""
    query: str = ""
    has_authorization: bool = False


class OfflineNovitaServer(LoopbackServer):
    """Novita-compatible HTTP server on 127.0.0.1, run by an asyncio loop in a daemon thread.

    It accepts any path prefix (``/v3/openai``, ``/openai/v1``, none) before ``/chat/completions``,
    ``/completions``, ``/embeddings``, ``/rerank``, ``/models``, ``/files`` and ``/batches`` (the
    Batch API, see :mod:`novita_core.testing.batches`); records every request; checks the bearer
    key; validates bodies like Novita; answers deterministically; and injects faults.

    Args:
        api_key: The only bearer key accepted.
        port: TCP port; 0 picks a free one.
        host: Bind address. Only loopback addresses are allowed.
        extra_models: Additional chat model ids to accept besides the built-in catalog.
        latency: Seconds to wait before every response (simulated time to first byte).
        chunk_delay: Seconds between SSE events of a stream (simulated token rate).

    Example:
        >>> import json, urllib.request
        >>> from novita_core.testing import OfflineNovitaServer, Fault
        >>> with OfflineNovitaServer(api_key="test-key") as server:
        ...     server.inject(Fault.status(429, retry_after=1), times=1)
        ...     request = urllib.request.Request(
        ...         server.base_url + "/chat/completions",
        ...         data=json.dumps({
        ...             "model": "meta-llama/llama-3.1-8b-instruct",
        ...             "messages": [{"role": "user", "content": "hello"}],
        ...         }).encode(),
        ...         headers={"Authorization": "Bearer test-key"},
        ...     )
        ...     try:
        ...         urllib.request.urlopen(request)
        ...     except urllib.error.HTTPError as exc:
        ...         print(exc.code, exc.headers["Retry-After"])
        ...     reply = json.load(urllib.request.urlopen(request))
        ...     print(reply["choices"][0]["message"]["content"], len(server.requests))
        429 1
        Echo: hello 2
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        extra_models: Iterable[str] = (),
        latency: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self.latency = latency
        self.chunk_delay = chunk_delay
        self._models: dict[str, ModelInfo] = catalog_models()
        for model_id in extra_models:
            self.add_model(model_id)
        self._lock = threading.Lock()
        self._records: list[RecordedRequest] = []
        self._faults = MatchQueue[Fault]()
        self._script = MatchQueue[ScriptedReply]()
        self._auth_value = f"Bearer {api_key}"
        self._denied_models: dict[str, str] = {}
        self.batches = BatchStore(lambda: self._models)
        """Files and batches of the ``/files`` and ``/batches`` endpoints (this server's own)."""

    # -- public state ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Base URL for clients, mimicking Novita's legacy ``…/v3/openai`` base."""
        return self.url + BASE_PATH

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received since the last reset, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request.

        Raises:
            LookupError: If nothing was received.
        """
        with self._lock:
            if not self._records:
                raise LookupError("no request recorded")
            return self._records[-1]

    @property
    def models(self) -> list[str]:
        """Ids of the models the server accepts."""
        return list(self._models)

    def reset(self) -> None:
        """Forget recorded requests, queued faults and replies, in-flight maximum."""
        with self._lock:
            self._records.clear()
            self._max_in_flight = self._in_flight
        self._faults.clear()
        self._script.clear()

    def script(
        self,
        json: Any = None,
        *,
        stream: Iterable[Mapping[str, Any] | bytes | str] | None = None,
        path: str = "/chat/completions",
        model: str | None = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        done: bool = True,
        times: int = 1,
    ) -> None:
        r"""Answer the next request for ``path`` (and ``model``) with exactly this response.

        The first queued reply that matches answers (see :mod:`~.replies.scripted`); the key is
        still checked, the request recorded, and its fault applied on top.

        Args:
            json: The JSON body (an error body with ``status=``, or any odd shape).
            stream: A stream's chunks instead: dicts (sent as ``data: <json>``) or raw SSE text
                (``bytes``/``str`` sent as given, e.g. ``b": ping\n\n"``).
            path: Path suffix of the requests it answers.
            model: Only requests for this model (any when None).
            status: HTTP status.
            headers: Extra response headers.
            done: End a stream with ``data: [DONE]``.
            times: How many matching requests it answers.

        Example:
            ``server.script(stream=[chunk, {"error": {"message": "boom"}}], done=False)``
        """
        reply = ScriptedReply.build(
            path=path, json=json, stream=stream, model=model, status=status, headers=headers,
            done=done,
        )  # fmt: skip
        self._script.add(reply, times)

    def pending_scripts(self) -> list[ScriptedReply]:
        """Scripted replies not used yet, one entry per remaining use."""
        return self._script.pending()

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests (FIFO with other faults).

        Args:
            fault: The fault to produce.
            times: How many matching requests it applies to.
        """
        self._faults.add(fault, times)

    def pending_faults(self) -> list[Fault]:
        """Queued faults not yet consumed, one entry per remaining use."""
        return self._faults.pending()

    def add_model(
        self,
        model_id: str,
        *,
        context_size: int = 8192,
        max_output_tokens: int | None = None,
        kind: Literal["chat", "embedding", "rerank"] = "chat",
        reasoning: bool = False,
        dimensions: int | None = None,
        tool_calling: bool = True,
        structured_output: bool = True,
        input_modalities: tuple[str, ...] = ("text",),
        input_price: float | None = None,
        output_price: float | None = None,
        inline_think: bool = False,
    ) -> None:
        """Accept another model id, or replace a known one (also listed by ``GET /models``).

        Args:
            model_id: The id.
            context_size: Reported ``context_size``.
            max_output_tokens: Reported ``max_output_tokens``.
            kind: ``"chat"`` (chat + completions), ``"embedding"`` or ``"rerank"``.
            reasoning: Whether replies include reasoning (listed as the ``reasoning`` feature).
            dimensions: Default vector length for an embedding model.
            tool_calling: Listed with the ``function-calling`` feature.
            structured_output: Listed with the ``structured-outputs`` feature.
            input_modalities: Listed input modalities (``"image"`` adds ``vision``).
            input_price: USD per million prompt tokens, listed in 1/10000 USD.
            output_price: USD per million completion tokens.
            inline_think: Write reasoning inline as ``<think>...</think>`` in ``content``.
        """
        models = dict(self._models)
        models[model_id] = ModelInfo(
            model_id, context_size, max_output_tokens, tool_calling, structured_output, reasoning,
            "image" in input_modalities, kind, dimensions, input_modalities=input_modalities,
            inline_think=inline_think, input_price=input_price, output_price=output_price,
        )  # fmt: skip
        # Replace rather than mutate so the loop thread never sees a dict mid-update.
        self._models = models

    def deny_model(self, model_id: str, reason: str = "model_access_denied") -> None:
        """Answer 403 with ``reason`` to every request for ``model_id`` (per-key model scopes).

        Args:
            model_id: The model this server's key may not use.
            reason: The reason token of the 403 body.
        """
        self._denied_models = {**self._denied_models, model_id: reason}

    # -- HTTP -----------------------------------------------------------------------------------

    def _record(self, request: HttpRequest) -> RecordedRequest:
        body: Any = None
        if request.body:
            with contextlib.suppress(ValueError):
                body = json.loads(request.body)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={k: v for k, v in request.headers.items() if k != "authorization"},
            json=body,
            authorized=request.headers.get("authorization") == self._auth_value,
            body=request.body,
            query=request.query,
            has_authorization="authorization" in request.headers,
        )
        with self._lock:
            self._records.append(record)
        return record

    def _next_fault(self, request: HttpRequest) -> Fault | None:
        spec = request.headers.get(FAULT_HEADER)
        if spec:
            return Fault.parse(spec)
        return self._faults.take(lambda fault: fault.matches(request.path))

    async def _handle(self, request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        record = self._record(request)
        responder = Responder(writer, request.keep_alive, self.chunk_delay)
        try:
            fault = self._next_fault(request)
        except ValueError as exc:
            return await responder.send(400, dumps(error_body(400, str(exc))))
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None:
            streaming = isinstance(record.json, dict) and bool(record.json.get("stream"))
            sent = await wire.act(fault, streaming, responder)
            if sent is not None:
                return sent
        if not record.authorized:
            body = error_body(401, "failed to authenticate API key")
            return await responder.send(401, dumps(body))
        try:
            return await self._route(record, responder, fault)
        except ApiError as exc:
            return await responder.send(exc.status, dumps(exc.body()))

    async def _route(
        self, record: RecordedRequest, responder: Responder, fault: Fault | None
    ) -> bool:
        path, method, body = record.path.rstrip("/"), record.method, record.json
        scripted = self._script.take(lambda reply: reply.matches(path, body))
        if scripted is not None:
            if scripted.events is None:
                return await wire.send_json(
                    responder, scripted.status, scripted.json, fault, scripted.headers
                )
            return await wire.send_events(
                responder, scripted.events, fault, scripted.status, scripted.headers, scripted.done
            )
        if self.batches.routes(path):
            status, payload = self.batches.handle(method, path, record.headers, record.body)
            if isinstance(payload, bytes):
                return await responder.send(status, payload)
            return await wire.send_json(responder, status, payload, fault)
        if method == "GET" and (path.endswith("/models") or "/models/" in path):
            return await wire.send_json(responder, 200, self._listing(path), fault)
        endpoint = next((suffix for suffix in self._builders if path.endswith(suffix)), None)
        if endpoint is None:
            raise ApiError(404, f"no such endpoint: {method} {record.path}", reason="NOT_FOUND")
        if method != "POST":
            raise ApiError(405, f"{endpoint} only accepts POST", reason="METHOD_NOT_ALLOWED")
        if body is None:
            raise ApiError(400, "request body is not valid JSON")
        denied = self._denied_models.get(str(body.get("model"))) if isinstance(body, dict) else None
        if denied is not None:
            raise ApiError(403, "this API key may not use this model", reason=denied)
        answer = self._builders[endpoint](body)
        return await wire.send_answer(responder, answer, bool(body.get("stream")), fault)

    def _listing(self, path: str) -> dict[str, Any]:
        if path.endswith("/models"):
            return {"data": [listing(m) for m in self._models.values()]}
        model_id = path.rsplit("/models/", 1)[1]
        entry = self._models.get(model_id)
        if entry is None:
            raise ApiError(404, f"model not found: {model_id}")
        return listing(entry)

    @property
    def _builders(self) -> dict[str, Callable[[Any], dict[str, Any] | wire.Plan]]:
        """Endpoint path suffix -> the reply builder (``/completions`` after the chat one)."""
        models = self._models
        return {
            "/chat/completions": lambda body: build_chat(body, models),
            "/completions": lambda body: build_completion(body, models),
            "/embeddings": lambda body: build_embeddings(body, models),
            RERANK_PATH: lambda body: build_rerank(body, models),
        }
