"""The HTTP path: shared ``openai`` clients, JSON and SSE reading, retries, error translation.

All requests go through the official client's documented low-level call
``client.post(path, body=..., cast_to=<HTTP response>, stream=...)``: it keeps the SDK's auth,
base URL, headers, timeouts and typed status errors, and skips building typed response objects
that the adapters would only turn back into dicts. Clients are shared per connection identity
(base URL, key, timeout, headers, user HTTP client): one pool, created on first use. Async
clients are additionally kept per event loop, because a pool cannot outlive its loop, and all
pools are per process: a forked child drops the parent's and opens its own.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import threading
import time
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import openai

from novita_core import _deadline, _logging, catalog
from novita_core._compat import RawResponse, http_lib
from novita_core._deadline import deadline_at, within
from novita_core._scrub import scrub_secret
from novita_core._sdk_errors import (
    NovitaResponseError,
    NovitaServerError,
    NovitaStreamError,
    NovitaStreamServerError,
)
from novita_core.concurrency import DEFAULT_MAX_CONCURRENCY, bounded_gather
from novita_core.errors import describe_error_body
from novita_core.params import CHAT, COMPLETIONS, InvalidParameterError, Request
from novita_core.reasoning import normalize_response
from novita_core.rerank import RerankOptions, plan_rerank
from novita_core.retry import (
    OnRetry,
    acall_with_retry,
    call_with_retry,
    is_retryable_status,
    retry_after_seconds,
)
from novita_core.settings import NovitaSettings
from novita_core.streaming import (
    EventDecoder,
    MalformedEventError,
    StreamAssembler,
    StreamDelta,
    StreamErrorEvent,
    StreamIncompleteError,
    error_object,
    parse_event,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")

USER_AGENT_HEADER = {"X-Novita-Source": "novita-integrations"}

_logging.install()  # no request bodies in the SDK's DEBUG log unless opted in


def _status_error(
    made: openai.APIStatusError,
) -> openai.APIStatusError:
    # The server's requested wait in seconds (None without a usable header): a caller that got
    # the error at once because the wait exceeded ``max_retry_wait`` can schedule the retry.
    made.retry_after = retry_after_seconds(made)  # type: ignore[attr-defined]
    return made


def _sdk_user_agent(client: openai.OpenAI | openai.AsyncOpenAI) -> str:
    """The ``User-Agent`` the SDK's own public class sends (it uses the class name)."""
    public = openai.AsyncOpenAI if isinstance(client, openai.AsyncOpenAI) else openai.OpenAI
    return f"{public.__name__}/Python {openai.__version__}"


class _NovitaErrors:
    """Status errors that carry Novita's reason, message and ``retry_after``, for both clients."""

    user_agent = property(_sdk_user_agent)  # not this private class's name

    def _make_status_error(
        self, err_msg: str, *, body: object, response: Any
    ) -> openai.APIStatusError:
        made: openai.APIStatusError = super()._make_status_error(  # type: ignore[misc]
            describe_error_body(response.status_code, body), body=body, response=response
        )
        return _status_error(made)


class _NovitaOpenAI(_NovitaErrors, openai.OpenAI):
    """``openai.OpenAI`` with Novita's status errors."""


class _NovitaAsyncOpenAI(_NovitaErrors, openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` with Novita's status errors."""


def _client_kwargs(settings: NovitaSettings, http_client: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "api_key": settings.api_key,
        "base_url": settings.base_url,
        "max_retries": 0,  # tenacity in novita_core.retry is the one retry layer
        "default_headers": {**USER_AGENT_HEADER, **settings.default_headers},
    }
    if settings.timeout is not None:
        kwargs["timeout"] = settings.timeout
    if http_client is not None:
        kwargs["http_client"] = http_client
    return kwargs


def _default_async_http_client(settings: NovitaSettings) -> Any:
    if settings.http_async_client is not None:
        return settings.http_async_client
    if settings.async_transport == "aiohttp":
        try:
            return openai.DefaultAioHttpClient()
        except (AttributeError, RuntimeError, ImportError):  # aiohttp missing: SDK default
            return None
    return None


_sync_clients: dict[tuple[Any, ...], openai.OpenAI] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()
_fork_epoch = 0
"""Bumped in a forked child; a client cached under an older epoch belongs to the parent."""
_inherited: list[object] = []
"""Pools a forked child inherited. Kept referenced, never used or closed: closing them (or
letting the garbage collector do it) could send bytes, such as a TLS close_notify, on sockets
the parent is still using."""


def _forget_pools_after_fork() -> None:
    """In a forked child: drop the parent's pools so that every client is built anew."""
    global _fork_epoch, _lock
    _fork_epoch += 1
    _lock = threading.Lock()  # another thread may have held it at the fork
    _inherited.append((dict(_sync_clients), dict(_async_clients)))
    _sync_clients.clear()
    _async_clients.clear()


if hasattr(os, "register_at_fork"):  # POSIX only; spawned processes start empty anyway
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


def shared_client(settings: NovitaSettings) -> openai.OpenAI:
    """The process-wide sync client for these settings (created on first use)."""
    key = settings.pool_key
    client = _sync_clients.get(key)
    if client is None:
        with _lock:
            client = _sync_clients.get(key)
            if client is None:
                client = _NovitaOpenAI(**_client_kwargs(settings, settings.http_client))
                if settings.http_client is None:
                    _deadline.install(client._client)  # our own pool: bound whole attempts
                _sync_clients[key] = client
    return client


def shared_async_client(settings: NovitaSettings) -> openai.AsyncOpenAI:
    """The async client for these settings on the running event loop (created on first use).

    The loop's clients are closed when the loop shuts down (``asyncio.run`` and pytest-asyncio
    call ``loop.shutdown_asyncgens()``), so no connection or aiohttp session outlives it.
    """
    loop = asyncio.get_running_loop()
    per_loop = _async_clients.get(loop)
    if per_loop is None:
        _close_pools_of_closed_loops()
        per_loop = _async_clients[loop] = _LoopClients(loop)
    key = settings.pool_key
    client = per_loop.clients.get(key)
    if client is None:
        client = per_loop.clients[key] = _NovitaAsyncOpenAI(
            **_client_kwargs(settings, _default_async_http_client(settings))
        )
    return client


class _LoopClients:
    """The async clients of one event loop, closed by the loop's async-generator shutdown."""

    __slots__ = ("_closer", "clients")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.clients: dict[tuple[Any, ...], openai.AsyncOpenAI] = {}
        # An async generator parked at its ``yield`` is registered with the running loop, which
        # closes it in ``shutdown_asyncgens()``: its ``finally`` then closes our clients inside
        # the loop, where an aiohttp session must be closed.
        self._closer = self._close_on_shutdown()
        with contextlib.suppress(StopIteration):
            self._closer.asend(None).send(None)
        self._close_before(loop)

    def _close_before(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make ``loop.close()`` close our clients first when no ``shutdown_asyncgens()`` did.

        ``loop.run_until_complete(...)`` then ``loop.close()`` never shuts async generators
        down; once the loop is closed its connections can no longer be closed properly. Loops
        whose ``close`` cannot be wrapped (uvloop) are handled by the sweeps below instead.
        """
        close_loop = loop.close

        def close() -> None:
            if self.clients and not loop.is_running() and not loop.is_closed():
                with contextlib.suppress(Exception):
                    loop.run_until_complete(self._closer.aclose())
            close_loop()

        with contextlib.suppress(AttributeError):
            loop.close = close  # type: ignore[method-assign]

    async def _close_on_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            clients, self.clients = list(self.clients.values()), {}
            for client in clients:
                await client.close()

    def close_without_loop(self) -> None:
        """Close the clients of a loop that was closed without ``shutdown_asyncgens()``.

        Nothing can be awaited any more, and nothing needs to be: on a closed loop aiohttp
        closes its connector without waiting, so each ``close()`` coroutine finishes on its
        first step (one that would wait is abandoned; the process is ending or the loop gone).
        """
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            step = client.close()
            try:
                step.send(None)
            except Exception:  # StopIteration: closed; else a transport that needed its loop
                continue
            step.close()


def _close_pools_of_closed_loops() -> None:
    """Close what loops closed without ``shutdown_asyncgens()`` left open (and forget them)."""
    for loop, per_loop in list(_async_clients.items()):
        if loop.is_closed() and per_loop.clients:
            per_loop.close_without_loop()


@atexit.register
def _close_pools_at_exit() -> None:
    """At exit, close the async pools no loop shutdown closed, so none is reported unclosed."""
    for loop, per_loop in list(_async_clients.items()):
        if not per_loop.clients:
            continue
        if loop.is_closed():
            per_loop.close_without_loop()
        elif not loop.is_running():
            with contextlib.suppress(Exception):
                loop.run_until_complete(per_loop._closer.aclose())


def _options(request: Request) -> openai.RequestOptions:
    return {"extra_json": request.extra_body} if request.extra_body else {}


_CHOICE_ENDPOINTS = frozenset({CHAT, COMPLETIONS})

AnswerCheck = Callable[[dict[str, Any]], str | None]
"""Describes what is wrong with a decoded answer (None when it is sound)."""


def _json_object(response: Any) -> dict[str, Any] | None:
    """The body of a read response as a JSON object, or None when it is not one."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _decode(
    response: Any, endpoint: str | None = None, check: AnswerCheck | None = None
) -> dict[str, Any]:
    """The JSON object of a 2xx answer.

    An error object, or a chat/completions answer without choices, is raised as a typed error,
    never returned as an (empty) answer; so is what ``check`` reports.
    """
    data = _json_object(response)
    if data is None:
        raise NovitaResponseError(
            f"Novita answered HTTP {response.status_code} with a body that is not a JSON object: "
            f"{response.text[:200]!r}",
            response=response,
        )
    if "error" in data or "choices" not in data:
        error = error_object(data)
        if error is not None:
            raise _server_error(error, response.request, handed=0, streaming=False)
    if endpoint in _CHOICE_ENDPOINTS:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise NovitaResponseError(
                f"Novita answered HTTP {response.status_code} without any choice "
                f"(choices={choices!r}); there is no answer to return.",
                response=response,
                body=data,
            )
        for choice in choices:
            if isinstance(choice, dict) and choice.get("finish_reason") == "error":
                error = {"message": "the server ended the answer with finish_reason 'error'"}
                raise _server_error(error, response.request, handed=0, streaming=False)
    problem = check(data) if check is not None else None
    if problem is not None:
        raise NovitaResponseError(problem, response=response, body=data)
    return data


def _server_error(
    error: Mapping[str, Any], request: Any, *, handed: int, streaming: bool
) -> NovitaServerError:
    """The typed error for an error object in a 200 answer (retryable only before any chunk)."""
    code = error.get("code")
    details = [f"{name}={error[name]!r}" for name in ("code", "reason", "type") if error.get(name)]
    text = str(error.get("message") or "no message")
    if details:
        text += f" ({', '.join(details)})"
    retryable = handed == 0 and is_retryable_status(code)
    if not streaming:
        message = f"Novita answered HTTP 200 with an error instead of an answer: {text}"
        return NovitaServerError(message, request=request, error=error, retryable=retryable)
    where = f"after {handed} chunk(s)" if handed else "before any chunk"
    message = (
        f"Novita reported an error inside the stream {where}: {text}; the answer was not "
        "returned as complete."
    )
    return NovitaStreamServerError(message, request=request, error=error, retryable=retryable)


def _unencodable(request: Request, exc: UnicodeEncodeError) -> InvalidParameterError:
    """A clear error for a string the JSON body cannot carry (a lone surrogate)."""
    bad = exc.object[exc.start : exc.end] if isinstance(exc.object, str) else ""
    where = _find_string(request.json(), bad) if bad else None
    codepoints = ", ".join(f"U+{ord(char):04X}" for char in bad) or "?"
    return InvalidParameterError(
        f"{where or 'a string in the request'} contains {codepoints} ({exc.reason}): a lone "
        "surrogate is not valid Unicode and cannot be sent; fix or drop it (e.g. decode the "
        "source text with errors='replace'). Nothing was sent."
    )


def _find_string(value: Any, bad: str, path: str = "") -> str | None:
    if isinstance(value, str):
        return path if bad in value else None
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
        return next(
            (p for k, v in items if (p := _find_string(v, bad, f"{path}[{k!r}]" if path else k))),
            None,
        )
    if isinstance(value, (list, tuple)):
        return next(
            (p for i, v in enumerate(value) if (p := _find_string(v, bad, f"{path}[{i}]"))), None
        )
    return None


def _timeout_error(client: Any, request: Request) -> openai.APITimeoutError:
    """The SDK's timeout error, for a deadline we enforce ourselves (no SDK request at hand)."""
    url = str(client.base_url).rstrip("/") + request.path
    return openai.APITimeoutError(request=http_lib.Request("POST", url))


def _attempt_seconds(settings: NovitaSettings) -> float | None:
    """Seconds a whole attempt may take: ``timeout``, or a ``Timeout``'s connect plus read."""
    timeout = settings.timeout
    read = settings.read_timeout
    if read is None or isinstance(timeout, float):
        return read
    connect: float | None = timeout.connect
    return read + (connect or 0.0)


def _loop_deadline(timeout: float | None) -> float | None:
    return None if timeout is None else asyncio.get_running_loop().time() + timeout


def _monotonic_deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


_SPENT = http_lib.ByteStream(b"")


def _unbound(response: Any) -> Any:
    """``response``, freed of a stream that points back at it.

    httpx (openai 2.x) binds each response's stream back to the response, so a finished
    response and all that its transport hangs on it (aiohttp's response, headers, buffers) form
    a cycle that only Python's cyclic collector frees. When many streams end at once (LangChain
    holds each run's chunks until its ``on_llm_end``) those graphs would stay in memory until the
    next full collection. The stream is never read again, so an empty one takes its place.
    httpx2 (openai 3.x) keeps no such link (and reads ``elapsed`` from the stream): left as is.
    """
    bound_to = getattr(response.stream, "_response", None)
    if bound_to is not None and bound_to is response:
        response.stream = _SPENT
    return response


def _close(response: Any) -> None:
    response.close()
    _unbound(response)


async def _aclose(response: Any) -> None:
    await response.aclose()
    _unbound(response)


def _post(
    client: openai.OpenAI, request: Request, timeout: float | None, stream: bool = False
) -> Any:
    """One attempt's ``POST`` of ``request``, bounded as a whole by ``timeout`` seconds."""
    try:
        with deadline_at(_monotonic_deadline(timeout)):
            response = client.post(
                request.path,
                cast_to=RawResponse,
                body=request.body,
                options=_options(request),
                stream=stream,
            )
    except UnicodeEncodeError as exc:
        raise _unencodable(request, exc) from None
    return response if stream else _unbound(response)


async def _apost(
    client: openai.AsyncOpenAI, request: Request, timeout: float | None, stream: bool = False
) -> Any:
    """Async twin of :func:`_post`; the SDK's timeouts are told apart from aiohttp's resets."""
    try:
        response = await within(
            client.post(
                request.path,
                cast_to=RawResponse,
                body=request.body,
                options=_options(request),
                stream=stream,
            ),
            _loop_deadline(timeout),
        )
    except openai.APITimeoutError as exc:
        raise _retyped(exc) from exc.__cause__
    except asyncio.TimeoutError:
        raise _timeout_error(client, request) from None
    except UnicodeEncodeError as exc:
        raise _unencodable(request, exc) from None
    return response if stream else _unbound(response)


def _answers_in_json(response: Any) -> bool:
    """Whether a stream request was answered with one JSON body instead of an event stream.

    Some failures (a spent quota, a busy upstream) come back as a 200 JSON error object even
    for ``stream: true``; read as SSE it holds no event and would only say "stream ended".
    """
    content_type: str = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _json_instead_of_events(response: Any) -> Exception:
    """The error for a JSON body (read) that answered a stream request.

    An error object is raised as what it says (retried when its code is retryable); anything
    else is a stream that never started.
    """
    data = _json_object(response)
    error = error_object(data) if data is not None else None
    if error is not None:
        return _server_error(error, response.request, handed=0, streaming=False)
    return NovitaStreamError(
        "Novita stream failed: the stream ended before it was complete: the server sent one "
        f"JSON body instead of events ({response.text[:200]!r}); nothing was streamed.",
        request=response.request,
    )


def _refuse_json_answer(response: Any, timeout: float | None) -> NoReturn:
    """Read the one JSON body a stream request was answered with, and raise what it says.

    The body gets ``timeout`` seconds, as a first event would; a body that breaks or stalls is a
    transport failure before anything reached the caller, like any other.
    """
    try:
        with deadline_at(_monotonic_deadline(timeout)):
            response.read()
    except _TRANSPORT_ERRORS as exc:
        raise _stream_failure(exc, response, 0) from exc
    finally:
        _close(response)
    raise _json_instead_of_events(response)


async def _arefuse_json_answer(response: Any, timeout: float | None) -> NoReturn:
    """Async twin of :func:`_refuse_json_answer`."""
    try:
        await within(response.aread(), _loop_deadline(timeout))
    except asyncio.TimeoutError:
        stalled = http_lib.ReadTimeout(f"no whole body within {timeout}s", request=response.request)
        raise _stream_failure(stalled, response, 0) from None
    except _TRANSPORT_ERRORS as exc:
        raise _stream_failure(exc, response, 0) from exc
    finally:
        await _aclose(response)
    raise _json_instead_of_events(response)


def _sync_events(response: Any, timeout: float | None) -> Iterator[bytes]:
    """The SSE events of a response; waiting for each one (first included) ends by ``timeout``."""
    decoder = EventDecoder()
    chunks = response.iter_bytes()
    deadline = _monotonic_deadline(timeout)
    while True:
        with deadline_at(deadline):  # only around our own reads: the caller's code runs free
            data = next(chunks, None)
        if data is None:
            break
        events = decoder.feed(data)
        if events:
            deadline = _monotonic_deadline(timeout)
            yield from events
    yield from decoder.flush()


async def _async_events(response: Any, timeout: float | None) -> AsyncIterator[bytes]:
    """Async twin of :func:`_sync_events`."""
    decoder = EventDecoder()
    chunks = aiter(response.aiter_bytes())
    deadline = _loop_deadline(timeout)
    while True:
        try:
            data = await within(anext(chunks), deadline)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise http_lib.ReadTimeout(
                f"no complete event within {timeout}s", request=response.request
            ) from None
        events = decoder.feed(data)
        if events:
            deadline = _loop_deadline(timeout)
            for event in events:
                yield event
    for event in decoder.flush():
        yield event


def _is_timeout(exc: BaseException) -> bool:
    """Whether a transport failure really was a timeout.

    The SDK's aiohttp transport maps every ``aiohttp.ClientConnectionError`` (a connection reset
    included) to ``ConnectTimeout``, so the SDK reports "Request timed out." for a reset. The
    original aiohttp error is in the ``__cause__`` chain: only its timeout errors are timeouts.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if type(cause).__module__.startswith("aiohttp"):
            return isinstance(cause, (TimeoutError, asyncio.TimeoutError))
        cause = cause.__cause__
    return True


def _retyped(exc: openai.APITimeoutError) -> openai.APIConnectionError:
    """``exc`` itself for a real timeout, else the connection error it really was."""
    if _is_timeout(exc):
        return exc
    return openai.APIConnectionError(request=exc.request)


async def _retyping(call: Awaitable[T]) -> T:
    """``await call``; an SDK timeout that really was a reset raises as the connection error."""
    try:
        return await call
    except openai.APITimeoutError as exc:
        raise _retyped(exc) from exc.__cause__


def _stream_failure(exc: BaseException, response: Any, handed: int) -> Exception:
    """Map a failure while reading a stream to the error the caller should see.

    Before anything reached the caller, transport failures become the SDK's connection/timeout
    errors, which the retry policy repeats. After, they become :class:`NovitaStreamError`: the
    answer is truncated and the caller may already have acted on part of it.
    """
    request = response.request
    if isinstance(exc, StreamErrorEvent):
        return _server_error(exc.error, request, handed=handed, streaming=True)
    if isinstance(exc, (MalformedEventError, StreamIncompleteError)):
        return NovitaStreamError(f"Novita stream failed: {exc}", request=request)
    if handed == 0:
        if isinstance(exc, http_lib.TimeoutException) and _is_timeout(exc):
            return openai.APITimeoutError(request=request)
        return openai.APIConnectionError(request=request)
    return NovitaStreamError(
        f"Novita stream was cut off after {handed} chunk(s) ({type(exc).__name__}); the answer "
        "is truncated and was not returned as complete.",
        request=request,
    )


_TRANSPORT_ERRORS = (
    http_lib.HTTPError,
    http_lib.StreamError,
    MalformedEventError,
    StreamErrorEvent,
)


class NovitaClient:
    """Sends validated :class:`~novita_core.params.Request` s to Novita and reads the answers.

    Args:
        settings: Where and how to connect.

    Example:
        >>> from novita_core import NovitaClient, NovitaSettings, build_request
        >>> client = NovitaClient(NovitaSettings.resolve(api_key="sk-..."))
        >>> request = build_request("chat", {"model": "deepseek/deepseek-v4-flash",
        ...     "messages": [{"role": "user", "content": "Hi"}]})
        >>> client.create(request)["choices"][0]["message"]["content"]  # doctest: +SKIP
    """

    __slots__ = ("_epoch", "_sync", "settings")

    def __init__(self, settings: NovitaSettings) -> None:
        self.settings = settings
        self._sync: openai.OpenAI | None = None
        self._epoch = _fork_epoch

    def __repr__(self) -> str:
        return f"NovitaClient({self.settings!r})"

    def __reduce__(self) -> tuple[type[NovitaClient], tuple[NovitaSettings]]:
        # Pickles (and copies) carry the settings, the API key included, never a pool: the
        # receiving process builds its own on first use.
        return (NovitaClient, (self.settings,))

    def __deepcopy__(self, memo: dict[int, object]) -> NovitaClient:
        return NovitaClient(self.settings)  # settings are immutable (and may hold user clients)

    @property
    def openai_client(self) -> openai.OpenAI:
        """The shared sync ``openai.OpenAI`` client of this process (built lazily)."""
        if self._sync is None or self._epoch != _fork_epoch:
            self._sync = shared_client(self.settings)
            self._epoch = _fork_epoch
        return self._sync

    @property
    def async_openai_client(self) -> openai.AsyncOpenAI:
        """The ``openai.AsyncOpenAI`` client of the running event loop."""
        return shared_async_client(self.settings)

    # -- one JSON answer ---------------------------------------------------------------------

    def create(
        self,
        request: Request,
        check: AnswerCheck | None = None,
        on_retry: OnRetry | None = None,
    ) -> dict[str, Any]:
        """Send a non-streaming request and return the JSON answer as a dict.

        Chat answers come back with reasoning in ``reasoning_content`` whatever shape the model
        sent it in (see :mod:`novita_core.reasoning`). ``check`` inspects the decoded answer;
        what it reports is raised as :class:`NovitaResponseError` (not retried). ``timeout``
        bounds each whole attempt, from connect to the last byte of the body. ``on_retry`` is
        told of each retry (tenacity's ``RetryCallState``) before its sleep.
        """
        client = self.openai_client
        timeout = _attempt_seconds(self.settings)
        self._ensure_listing()

        def attempt() -> dict[str, Any]:
            response = _post(client, request, timeout)
            return _decode(response, request.endpoint, check)

        with self._secret_kept_out():
            data = self._retry(attempt, on_retry)
        return normalize_response(data) if request.endpoint == CHAT else data

    async def acreate(
        self,
        request: Request,
        check: AnswerCheck | None = None,
        on_retry: OnRetry | None = None,
    ) -> dict[str, Any]:
        """Async twin of :meth:`create` (an ``on_retry`` returning an awaitable is awaited)."""
        client = self.async_openai_client
        timeout = _attempt_seconds(self.settings)
        await self._aensure_listing()

        async def attempt() -> dict[str, Any]:
            response = await _apost(client, request, timeout)
            return _decode(response, request.endpoint, check)

        with self._secret_kept_out():
            data = await self._aretry(attempt, on_retry)
        return normalize_response(data) if request.endpoint == CHAT else data

    def _retry(self, attempt: Callable[[], T], on_retry: OnRetry | None = None) -> T:
        settings = self.settings
        return call_with_retry(attempt, settings.max_retries, settings.retry_policy, on_retry)

    async def _aretry(
        self, attempt: Callable[[], Awaitable[T]], on_retry: OnRetry | None = None
    ) -> T:
        settings = self.settings
        return await acall_with_retry(
            attempt, settings.max_retries, settings.retry_policy, on_retry
        )

    @contextlib.contextmanager
    def _secret_kept_out(self) -> Iterator[None]:
        """Cut the frames whose locals show the API key out of any exception leaving the block."""
        try:
            yield
        except Exception as exc:
            scrub_secret(exc, self.settings.api_key)
            raise

    # -- the model listing ---------------------------------------------------------------------

    def _ensure_listing(self) -> None:
        """Read ``GET /models`` before the first request to this base URL (see catalog)."""
        settings = self.settings
        if settings.model_listing and catalog.listing_due(settings.base_url):
            catalog.ensure_listing(settings.base_url, self._read_listing)

    async def _aensure_listing(self) -> None:
        settings = self.settings
        if settings.model_listing and catalog.listing_due(settings.base_url):
            await catalog.aensure_listing(settings.base_url, self._aread_listing)

    @property
    def _listing_options(self) -> openai.RequestOptions:
        # One attempt with its own short timeout: the listing must never hold up a call for
        # the call's timeout times its retries.
        timeout = self.settings.read_timeout
        return {"timeout": min(catalog.LISTING_TIMEOUT, timeout or catalog.LISTING_TIMEOUT)}

    def _read_listing(self) -> list[dict[str, Any]]:
        response = self.openai_client.get(
            "/models", cast_to=RawResponse, options=self._listing_options
        )
        return _listing_entries(_decode(response))

    async def _aread_listing(self) -> list[dict[str, Any]]:
        response = await self.async_openai_client.get(
            "/models", cast_to=RawResponse, options=self._listing_options
        )
        return _listing_entries(_decode(response))

    # -- rerank --------------------------------------------------------------------------------

    def rerank(
        self, model: str, query: str, documents: Sequence[str], **options: Unpack[RerankOptions]
    ) -> dict[str, Any]:
        """``POST /rerank``: ``documents`` scored against ``query``, best first.

        Validated before any request; an empty list gives no results without a request; inputs
        longer than ``max_documents`` (or the model's known limit) go in several requests whose
        answers are merged (see :mod:`novita_core.rerank`). ``options`` are ``top_n``,
        ``max_documents`` and ``extra_body`` (:class:`~novita_core.rerank.RerankOptions`).

        Returns:
            ``{"results": [{"index", "relevance_score"}, ...], "usage": {...}}``.

        Raises:
            InvalidParameterError: bad input; nothing is sent.
            NovitaResponseError: an answer with a missing, repeated or out-of-range index or a
                non-numeric score.
        """
        plan = plan_rerank(model, query, documents, **options)
        return plan.merge([self.create(b.request, b.problem) for b in plan.batches])

    async def arerank(
        self,
        model: str,
        query: str,
        documents: Sequence[str],
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        **options: Unpack[RerankOptions],
    ) -> dict[str, Any]:
        """Async twin of :meth:`rerank`; a split input keeps ``max_concurrency`` in flight."""
        plan = plan_rerank(model, query, documents, **options)
        answers = await bounded_gather(
            lambda batch: self.acreate(batch.request, batch.problem),
            plan.batches,
            limit=max_concurrency,
        )
        return plan.merge(answers)

    # -- streams -------------------------------------------------------------------------------

    def stream(
        self,
        request: Request,
        assembler: StreamAssembler | None = None,
        on_retry: OnRetry | None = None,
    ) -> Iterator[StreamDelta]:
        """Send a streaming request and yield deltas as they arrive.

        Pass an ``assembler`` to read the totals (text, tool calls, usage) afterwards. The
        request is retried only until its first delta is yielded (``on_retry`` is told of each
        retry, as in :meth:`create`). ``timeout`` bounds the wait
        for the first event and for each next one (a steady slow stream is not cut).

        Raises:
            NovitaStreamServerError: the server sent an error event (its message and code are
                kept); retried only before any chunk, and only for a retryable code.
            NovitaStreamError: the stream broke or ended early; nothing partial is returned as
                complete.
        """
        with self._secret_kept_out():
            yield from self._stream(request, assembler, on_retry)

    def _stream(
        self, request: Request, assembler: StreamAssembler | None, on_retry: OnRetry | None
    ) -> Iterator[StreamDelta]:
        asm = assembler if assembler is not None else StreamAssembler()
        client = self.openai_client
        timeout = _attempt_seconds(self.settings)
        self._ensure_listing()

        def open_stream() -> tuple[Any, Iterator[bytes], list[StreamDelta]]:
            asm.reset()
            response = _post(client, request, timeout, stream=True)
            if _answers_in_json(response):
                _refuse_json_answer(response, self.settings.read_timeout)
            events = _sync_events(response, self.settings.read_timeout)
            try:
                first = self._next_deltas(events, asm)
            except _TRANSPORT_ERRORS as exc:
                _close(response)
                raise _stream_failure(exc, response, 0) from exc
            except BaseException:
                _close(response)
                raise
            return response, events, first

        response, events, first = self._retry(open_stream, on_retry)
        handed = 0
        try:
            for delta in first:
                handed += 1
                yield delta
            try:
                for event in events:
                    for delta in asm.feed(parse_event(event)):
                        handed += 1
                        yield delta
                asm.finish()
            except (*_TRANSPORT_ERRORS, StreamIncompleteError) as exc:
                raise _stream_failure(exc, response, max(handed, 1)) from exc
        finally:
            _close(response)

    @staticmethod
    def _next_deltas(events: Iterator[bytes], asm: StreamAssembler) -> list[StreamDelta]:
        """Read until the first chunk that changes something (or the end of the stream)."""
        for event in events:
            deltas = asm.feed(parse_event(event))
            if deltas or asm.done:
                return deltas
        return []

    async def astream(
        self,
        request: Request,
        assembler: StreamAssembler | None = None,
        on_retry: OnRetry | None = None,
    ) -> AsyncIterator[StreamDelta]:
        """Async twin of :meth:`stream`."""
        with self._secret_kept_out():
            async for delta in self._astream(request, assembler, on_retry):
                yield delta

    async def _astream(
        self, request: Request, assembler: StreamAssembler | None, on_retry: OnRetry | None
    ) -> AsyncIterator[StreamDelta]:
        asm = assembler if assembler is not None else StreamAssembler()
        client = self.async_openai_client
        timeout = _attempt_seconds(self.settings)
        await self._aensure_listing()

        async def open_stream() -> tuple[Any, AsyncIterator[bytes], list[StreamDelta]]:
            asm.reset()
            response = await _apost(client, request, timeout, stream=True)
            if _answers_in_json(response):
                await _arefuse_json_answer(response, self.settings.read_timeout)
            events = _async_events(response, self.settings.read_timeout)
            try:
                first = await self._anext_deltas(events, asm)
            except _TRANSPORT_ERRORS as exc:
                await _aclose(response)
                raise _stream_failure(exc, response, 0) from exc
            except BaseException:
                await _aclose(response)
                raise
            return response, events, first

        response, events, first = await self._aretry(open_stream, on_retry)
        handed = 0
        try:
            for delta in first:
                handed += 1
                yield delta
            try:
                async for event in events:
                    for delta in asm.feed(parse_event(event)):
                        handed += 1
                        yield delta
                asm.finish()
            except (*_TRANSPORT_ERRORS, StreamIncompleteError) as exc:
                raise _stream_failure(exc, response, max(handed, 1)) from exc
        finally:
            await _aclose(response)

    @staticmethod
    async def _anext_deltas(
        events: AsyncIterator[bytes], asm: StreamAssembler
    ) -> list[StreamDelta]:
        async for event in events:
            deltas = asm.feed(parse_event(event))
            if deltas or asm.done:
                return deltas
        return []

    # -- models --------------------------------------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /models``: the ``data`` list of model dicts, with the call's retries.

        Also refreshes the catalog's listing for this base URL, so that profiles and metadata
        built afterwards follow it.
        """
        client = self.openai_client

        def attempt() -> list[dict[str, Any]]:
            return _listing_entries(_decode(client.get("/models", cast_to=RawResponse)))

        with self._secret_kept_out():
            entries = self._retry(attempt)
        catalog.refresh_listing(self.settings.base_url, lambda: entries)
        return entries


def _listing_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in data.get("data") or () if isinstance(entry, dict)]
