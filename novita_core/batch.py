"""Novita's Batch API: JSONL upload, batch creation, polling, result download, cancel.

The lines of a batch are built from the same validated :class:`~novita_core.params.Request` s as
live calls (:func:`~novita_core.params.build_request`: same checks, same fields, ``extra_body``
merged into each line's body). Every HTTP step goes through the shared ``openai`` client's
low-level calls (``max_retries=0``) under the one retry policy of :mod:`novita_core.retry`.

Results come back in input order, one per line: the line's response body (a plain dict, the
same JSON a live call answers) or a :class:`BatchLineError` for a line that failed or never ran.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from novita_core._compat import RawResponse
from novita_core.client import NovitaClient, _decode, _retyping
from novita_core.errors import NovitaError, describe_error_body
from novita_core.params import CHAT, COMPLETIONS, Endpoint, InvalidParameterError, Request

BATCH_ENDPOINTS: dict[Endpoint, str] = {
    CHAT: "/v1/chat/completions",
    COMPLETIONS: "/v1/completions",
}
"""The ``endpoint`` of a batch (and ``url`` of each line) for each endpoint Novita batches."""

COMPLETION_WINDOW = "48h"
"""The only ``completion_window`` Novita accepts."""

BATCH_BASE_URLS: dict[str, str] = {
    "https://api.novita.ai/v3/openai": "https://api.novita.ai/openai/v1",
    "https://api.novita.ai/openai": "https://api.novita.ai/openai/v1",
}
"""Novita documents ``/files`` and ``/batches`` under ``/openai/v1`` only; other bases as given."""

TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
"""Batch statuses after which nothing changes any more."""

DEFAULT_POLL_INTERVAL = 5.0
"""Seconds before the first status poll."""
POLL_BACKOFF = 1.5
"""Each wait is this many times the previous one ..."""
MAX_POLL_INTERVAL = 60.0
"""... up to this many seconds (or the initial interval, if that is longer)."""
DEFAULT_WAIT_TIMEOUT = 49 * 3600.0
"""How long :meth:`BatchClient.poll` waits by default: the 48 h window plus an hour to finish."""

CUSTOM_ID_PREFIX = "request-"
"""Line ``i`` is ``request-{i}``: results map back to input order by it."""


class BatchError(NovitaError):
    """A Batch API call could not give results (base class of the batch errors)."""


class BatchFailedError(BatchError):
    """The batch ended as ``failed`` (its input was rejected as a whole); no line ran.

    Args:
        message: What went wrong, with the server's reasons.
        batch: The final batch object.
    """

    def __init__(self, message: str, batch: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.batch = dict(batch)


class BatchTimeoutError(BatchError, TimeoutError):
    """The batch did not finish before the deadline; it keeps running on Novita's side.

    Args:
        batch_id: The batch waited for (retrieve it again later, or cancel it).
        status: Its last status.
        waited: Seconds waited.
    """

    def __init__(self, batch_id: str, status: str, waited: float) -> None:
        super().__init__(
            f"Batch {batch_id} still {status!r} after {waited:.1f}s; it keeps running: "
            "retrieve it again later or cancel it."
        )
        self.batch_id = batch_id
        self.status = status


class BatchLineError(BatchError):
    """One line of a batch failed (or never ran); the other lines are unaffected.

    Args:
        custom_id: The line's ``custom_id``.
        index: Its position in the input.
        message: What went wrong.
        status_code: The line's HTTP status, when it was answered.
        body: The line's error body, when there is one.
    """

    def __init__(
        self,
        custom_id: str,
        index: int,
        message: str,
        *,
        status_code: int | None = None,
        body: object = None,
    ) -> None:
        super().__init__(f"Batch request {custom_id} failed: {message}")
        self.custom_id = custom_id
        self.index = index
        self.status_code = status_code
        self.body = body


BatchResult = dict[str, Any] | BatchLineError
"""One line's outcome: the response body, or the error of that line."""


# -- pure steps: lines, schedule, results --------------------------------------------------------


def build_lines(requests: Sequence[Request]) -> tuple[str, list[dict[str, Any]]]:
    """Check that ``requests`` can form one batch and turn them into JSONL lines.

    Returns:
        The batch ``endpoint`` and one ``{custom_id, method, url, body}`` line per request.

    Raises:
        InvalidParameterError: no requests, a stream, an endpoint without batches, or more
            than one endpoint or model (Novita takes one model per file); nothing is sent.
    """
    if not requests:
        raise InvalidParameterError("a batch needs at least one request")
    endpoints = {request.endpoint for request in requests}
    if len(endpoints) > 1:
        raise InvalidParameterError(f"a batch takes one endpoint, got {sorted(endpoints)}")
    endpoint = requests[0].endpoint
    url = BATCH_ENDPOINTS.get(endpoint)
    if url is None:
        raise InvalidParameterError(
            f"the Batch API does not take {endpoint} requests; it takes {sorted(BATCH_ENDPOINTS)}"
        )
    models = {request.body.get("model") for request in requests}
    if len(models) > 1:
        raise InvalidParameterError(
            f"a batch takes one model (Novita: one model per file), got {sorted(map(str, models))}"
        )
    if any(request.body.get("stream") for request in requests):
        raise InvalidParameterError("stream=True is not allowed in a batch")
    lines = [
        {"custom_id": custom_id(i), "method": "POST", "url": url, "body": request.json()}
        for i, request in enumerate(requests)
    ]
    return url, lines


def custom_id(index: int) -> str:
    """The ``custom_id`` of the line at ``index`` (results are mapped back by it)."""
    return f"{CUSTOM_ID_PREFIX}{index}"


def encode_jsonl(lines: Sequence[Mapping[str, Any]]) -> bytes:
    """JSON Lines, UTF-8, one object per line."""
    return b"".join(
        json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        for line in lines
    )


def poll_intervals(first: float) -> Callable[[], float]:
    """Waits between polls: ``first``, then times :data:`POLL_BACKOFF` up to the cap."""
    cap = max(MAX_POLL_INTERVAL, first)
    current = first

    def next_wait() -> float:
        nonlocal current
        wait, current = current, min(current * POLL_BACKOFF, cap)
        return wait

    return next_wait


def _check_wait(poll_interval: float, timeout: float) -> None:
    if isinstance(poll_interval, bool) or not poll_interval > 0:
        raise InvalidParameterError(f"poll_interval must be > 0 seconds, got {poll_interval!r}")
    if isinstance(timeout, bool) or not timeout >= 0:
        raise InvalidParameterError(f"timeout must be >= 0 seconds, got {timeout!r}")


def parse_results(
    batch: Mapping[str, Any],
    output: bytes | None,
    errors: bytes | None,
    count: int | None = None,
) -> list[BatchResult]:
    """Map the output and error files back to input order by ``custom_id``.

    Args:
        batch: The finished batch object.
        output: The output file's content, if the batch has one.
        errors: The error file's content, if the batch has one.
        count: How many lines were submitted (else the batch's ``request_counts.total``).

    Raises:
        BatchFailedError: the batch ``failed`` as a whole.
        BatchError: a result line is not JSON or names a ``custom_id`` this package did not
            write.
    """
    status = str(batch.get("status"))
    if status == "failed":
        raise BatchFailedError(
            f"Batch {batch.get('id')} failed: {_batch_errors(batch) or 'no reason given'}", batch
        )
    outcomes: dict[int, BatchResult] = {}
    for content in (output, errors):
        for line in _jsonl(content):
            index, cid = _index_of(line)
            outcomes[index] = _outcome(line, cid, index)
    if count is None:
        counts = batch.get("request_counts")
        total = counts.get("total") if isinstance(counts, Mapping) else None
        count = total if isinstance(total, int) else max(outcomes, default=-1) + 1
    return [
        outcomes.get(i)
        or BatchLineError(custom_id(i), i, f"no result: the batch ended as {status!r}")
        for i in range(count)
    ]


def _batch_errors(batch: Mapping[str, Any]) -> str:
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, Mapping) else errors
    if not isinstance(data, list):
        return ""
    parts = []
    for item in data:
        if isinstance(item, Mapping):
            where = f" (line {item['line']})" if item.get("line") is not None else ""
            parts.append(f"{item.get('code') or 'error'}: {item.get('message')}{where}")
    return "; ".join(parts)


def _jsonl(content: bytes | None) -> list[dict[str, Any]]:
    lines = []
    for raw in (content or b"").splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if not isinstance(line, dict):
            raise BatchError(f"a batch result line is not a JSON object: {raw[:200]!r}")
        lines.append(line)
    return lines


def _index_of(line: Mapping[str, Any]) -> tuple[int, str]:
    cid = line.get("custom_id")
    if isinstance(cid, str) and cid.startswith(CUSTOM_ID_PREFIX):
        suffix = cid[len(CUSTOM_ID_PREFIX) :]
        if suffix.isdigit():
            return int(suffix), cid
    raise BatchError(
        f"batch result with an unknown custom_id {cid!r} (not written by this package)"
    )


def _outcome(line: Mapping[str, Any], cid: str, index: int) -> BatchResult:
    response = line.get("response")
    response = response if isinstance(response, Mapping) else {}
    status = response.get("status_code")
    body = response.get("body")
    error = line.get("error")
    if error:
        message = error.get("message") if isinstance(error, Mapping) else None
        code = error.get("code") if isinstance(error, Mapping) else None
        text = f"{code}: {message}" if code and message else str(message or code or error)
        return BatchLineError(cid, index, text, status_code=status, body=error)
    if isinstance(status, int) and 200 <= status < 300 and isinstance(body, dict):
        return body
    code = status if isinstance(status, int) else 0
    return BatchLineError(
        cid, index, describe_error_body(code, body), status_code=status, body=body
    )


# -- HTTP ------------------------------------------------------------------------------------------


class BatchClient:
    """The Batch API lifecycle over a :class:`~novita_core.client.NovitaClient`'s connection.

    Args:
        client: The connection (settings, shared pools, retries) to use.
        sleep: Waits between polls (sync); tests pass their own to record the schedule.
        async_sleep: Waits between polls (async).
        clock: Monotonic seconds, for the deadline.

    Example:
        >>> from novita_core import NovitaClient, NovitaSettings, build_request
        >>> from novita_core.batch import BatchClient
        >>> batches = BatchClient(NovitaClient(NovitaSettings.resolve(api_key="sk-...")))
        >>> requests = [build_request("chat", {"model": "meta-llama/llama-3.3-70b-instruct",
        ...     "messages": [{"role": "user", "content": q}]}) for q in ("Hi", "Bye")]
        >>> batch = batches.submit(requests)  # doctest: +SKIP
        >>> batches.retrieve(batch["id"])  # doctest: +SKIP
        [{'id': 'chatcmpl-...', 'choices': [...], ...}, {...}]
    """

    __slots__ = ("_async_sleep", "_clock", "_sleep", "client")

    def __init__(
        self,
        client: NovitaClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"BatchClient({self.client.settings!r})"

    def _url(self, path: str) -> str:
        base = BATCH_BASE_URLS.get(self.client.settings.base_url)
        return base + path if base else path

    # -- one HTTP step each (sync) ---------------------------------------------------------------

    def _json(self, method: str, path: str) -> dict[str, Any]:
        client = self.client.openai_client
        url = self._url(path)

        def attempt() -> dict[str, Any]:
            if method == "GET":
                return _decode(client.get(url, cast_to=RawResponse))
            return _decode(client.post(url, cast_to=RawResponse))

        return self.client._retry(attempt)

    def _content(self, file_id: str) -> bytes:
        client = self.client.openai_client
        url = self._url(f"/files/{file_id}/content")
        return self.client._retry(lambda: bytes(client.get(url, cast_to=RawResponse).content))

    def upload(self, lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """``POST /files`` (multipart, ``purpose=batch``): the file object."""
        client = self.client.openai_client
        url, kwargs = self._upload_args(lines)
        return self.client._retry(lambda: _decode(client.post(url, **kwargs)))

    def _upload_args(self, lines: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "cast_to": RawResponse,
            "body": {"purpose": "batch"},
            "files": [("file", ("batch.jsonl", encode_jsonl(lines), "application/jsonl"))],
            # The SDK replaces this with the multipart type and its boundary.
            "options": {"headers": {"Content-Type": "multipart/form-data"}},
        }
        return self._url("/files"), kwargs

    def create(self, input_file_id: str, endpoint: str) -> dict[str, Any]:
        """``POST /batches``: the new batch object.

        A retry first looks (``GET /batches``) for a batch already made from
        ``input_file_id``: an attempt that failed after the server accepted it (an answer cut
        off, a gateway 5xx) must not start the same job twice.
        """
        client = self.client.openai_client
        url = self._url("/batches")
        body = _create_body(input_file_id, endpoint)
        attempts = 0

        def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                found = _made_from(_decode(client.get(url, cast_to=RawResponse)), input_file_id)
                if found is not None:
                    return found
            return _decode(client.post(url, cast_to=RawResponse, body=body))

        return self.client._retry(attempt)

    def status(self, batch_id: str) -> dict[str, Any]:
        """``GET /batches/{id}``: the batch object (``status``, ``request_counts`` ...)."""
        return self._json("GET", f"/batches/{batch_id}")

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """``POST /batches/{id}/cancel``: the batch object (``cancelling``, then ``cancelled``)."""
        return self._json("POST", f"/batches/{batch_id}/cancel")

    def list_batches(self) -> list[dict[str, Any]]:
        """``GET /batches``: the account's batches, newest first as the server orders them."""
        data = self._json("GET", "/batches").get("data")
        return [entry for entry in data or () if isinstance(entry, dict)]

    def submit(self, requests: Sequence[Request]) -> dict[str, Any]:
        """Validate, upload and create: the new batch object (its ``id`` is what to keep).

        Raises:
            InvalidParameterError: the requests cannot form one batch; nothing is sent.
        """
        endpoint, lines = build_lines(requests)
        uploaded = self.upload(lines)
        return self.create(_file_id(uploaded), endpoint)

    def poll(
        self, batch_id: str, *, poll_interval: float | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Poll until the batch ends (waits grow from ``poll_interval`` up to a cap).

        Raises:
            BatchTimeoutError: still running after ``timeout`` seconds.
        """
        first, deadline = self._wait_plan(poll_interval, timeout)
        next_wait = poll_intervals(first)
        start = self._clock()
        while True:
            batch = self.status(batch_id)
            wait = self._next_wait(batch, batch_id, start, deadline, next_wait)
            if wait is None:
                return batch
            self._sleep(wait)

    def results(self, batch: Mapping[str, Any], count: int | None = None) -> list[BatchResult]:
        """Download the output and error files of a finished batch; results in input order."""
        output_id, error_id = _result_files(batch)
        output = self._content(output_id) if output_id else None
        errors = self._content(error_id) if error_id else None
        return parse_results(batch, output, errors, count)

    def retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        count: int | None = None,
    ) -> list[BatchResult]:
        """:meth:`poll`, then :meth:`results`."""
        batch = self.poll(batch_id, poll_interval=poll_interval, timeout=timeout)
        return self.results(batch, count)

    # -- async twins -----------------------------------------------------------------------------

    async def _ajson(self, method: str, path: str) -> dict[str, Any]:
        client = self.client.async_openai_client
        url = self._url(path)

        async def attempt() -> dict[str, Any]:
            if method == "GET":
                return _decode(await _retyping(client.get(url, cast_to=RawResponse)))
            return _decode(await _retyping(client.post(url, cast_to=RawResponse)))

        return await self.client._aretry(attempt)

    async def _acontent(self, file_id: str) -> bytes:
        client = self.client.async_openai_client
        url = self._url(f"/files/{file_id}/content")

        async def attempt() -> bytes:
            return bytes((await _retyping(client.get(url, cast_to=RawResponse))).content)

        return await self.client._aretry(attempt)

    async def aupload(self, lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Async :meth:`upload`."""
        client = self.client.async_openai_client
        url, kwargs = self._upload_args(lines)

        async def attempt() -> dict[str, Any]:
            return _decode(await _retyping(client.post(url, **kwargs)))

        return await self.client._aretry(attempt)

    async def acreate(self, input_file_id: str, endpoint: str) -> dict[str, Any]:
        """Async :meth:`create` (a retry, too, first looks for the batch already made)."""
        client = self.client.async_openai_client
        url = self._url("/batches")
        body = _create_body(input_file_id, endpoint)
        attempts = 0

        async def attempt() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                listing = _decode(await _retyping(client.get(url, cast_to=RawResponse)))
                found = _made_from(listing, input_file_id)
                if found is not None:
                    return found
            return _decode(await _retyping(client.post(url, cast_to=RawResponse, body=body)))

        return await self.client._aretry(attempt)

    async def astatus(self, batch_id: str) -> dict[str, Any]:
        """Async :meth:`status`."""
        return await self._ajson("GET", f"/batches/{batch_id}")

    async def acancel(self, batch_id: str) -> dict[str, Any]:
        """Async :meth:`cancel`."""
        return await self._ajson("POST", f"/batches/{batch_id}/cancel")

    async def asubmit(self, requests: Sequence[Request]) -> dict[str, Any]:
        """Async :meth:`submit`."""
        endpoint, lines = build_lines(requests)
        uploaded = await self.aupload(lines)
        return await self.acreate(_file_id(uploaded), endpoint)

    async def apoll(
        self, batch_id: str, *, poll_interval: float | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Async :meth:`poll`."""
        first, deadline = self._wait_plan(poll_interval, timeout)
        next_wait = poll_intervals(first)
        start = self._clock()
        while True:
            batch = await self.astatus(batch_id)
            wait = self._next_wait(batch, batch_id, start, deadline, next_wait)
            if wait is None:
                return batch
            await self._async_sleep(wait)

    async def aresults(
        self, batch: Mapping[str, Any], count: int | None = None
    ) -> list[BatchResult]:
        """Async :meth:`results`."""
        output_id, error_id = _result_files(batch)
        output = await self._acontent(output_id) if output_id else None
        errors = await self._acontent(error_id) if error_id else None
        return parse_results(batch, output, errors, count)

    async def aretrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        count: int | None = None,
    ) -> list[BatchResult]:
        """Async :meth:`retrieve`."""
        batch = await self.apoll(batch_id, poll_interval=poll_interval, timeout=timeout)
        return await self.aresults(batch, count)

    # -- polling plan shared by both -------------------------------------------------------------

    @staticmethod
    def _wait_plan(poll_interval: float | None, timeout: float | None) -> tuple[float, float]:
        first = DEFAULT_POLL_INTERVAL if poll_interval is None else poll_interval
        limit = DEFAULT_WAIT_TIMEOUT if timeout is None else timeout
        _check_wait(first, limit)
        return first, limit

    def _next_wait(
        self,
        batch: Mapping[str, Any],
        batch_id: str,
        start: float,
        timeout: float,
        next_wait: Callable[[], float],
    ) -> float | None:
        """None when the batch has ended, else how long to wait before the next poll."""
        status = str(batch.get("status"))
        if status in TERMINAL_STATUSES:
            return None
        waited = self._clock() - start
        if waited >= timeout:
            raise BatchTimeoutError(batch_id, status, waited)
        return min(next_wait(), timeout - waited)


def _create_body(input_file_id: str, endpoint: str) -> dict[str, Any]:
    return {
        "input_file_id": input_file_id,
        "endpoint": endpoint,
        "completion_window": COMPLETION_WINDOW,
    }


def _made_from(listing: Mapping[str, Any], input_file_id: str) -> dict[str, Any] | None:
    """The batch in a ``GET /batches`` answer that was created from ``input_file_id``."""
    for entry in listing.get("data") or ():
        if isinstance(entry, dict) and entry.get("input_file_id") == input_file_id:
            return entry
    return None


def _file_id(uploaded: Mapping[str, Any]) -> str:
    file_id = uploaded.get("id")
    if not isinstance(file_id, str) or not file_id:
        raise BatchError(f"the file upload answered without an id: {dict(uploaded)!r}")
    return file_id


def _result_files(batch: Mapping[str, Any]) -> tuple[str | None, str | None]:
    output, errors = batch.get("output_file_id"), batch.get("error_file_id")
    return (
        output if isinstance(output, str) and output else None,
        errors if isinstance(errors, str) and errors else None,
    )
