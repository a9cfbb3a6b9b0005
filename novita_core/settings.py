"""Where the API key, base URL and transport options come from: argument, then env, then default."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from novita_core.errors import MissingAPIKeyError
from novita_core.retry_policy import DEFAULT_MAX_RETRY_WAIT as DEFAULT_MAX_RETRY_WAIT
from novita_core.retry_policy import DEFAULT_RETRY_POLICY, RetryPolicy

DEFAULT_BASE_URL = "https://api.novita.ai/v3/openai"
"""Novita's legacy OpenAI-compatible base, the one LiteLLM, LangChain and LlamaIndex default to.

``https://api.novita.ai/openai`` and ``https://api.novita.ai/openai/v1`` are newer and documented
but their equivalence is unconfirmed; pass ``base_url`` or set ``NOVITA_BASE_URL`` to use them.
"""

API_KEY_ENV = "NOVITA_API_KEY"
BASE_URL_ENVS = ("NOVITA_BASE_URL", "NOVITA_API_BASE")
"""``NOVITA_BASE_URL`` first; ``NOVITA_API_BASE`` is what LiteLLM and older LlamaIndex read."""

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2


def resolve_api_key(api_key: str | None = None) -> str:
    """Return the explicit key, else ``$NOVITA_API_KEY``; raise a clear error if neither is set."""
    key = api_key if api_key else os.environ.get(API_KEY_ENV)
    if not key:
        raise MissingAPIKeyError(
            f"No Novita API key: pass api_key=... or set the {API_KEY_ENV} environment variable "
            "(create a key at https://novita.ai/settings/key-management)."
        )
    return key


def resolve_base_url(base_url: str | None = None, *, argument: str = "base_url") -> str:
    """Return the explicit base URL, else ``NOVITA_BASE_URL``/``NOVITA_API_BASE``, else the default.

    Plain ``http://`` is accepted only when the caller names it (a local server): an env var or
    the default can never silently downgrade an ``https`` connection carrying the key.
    ``argument`` is the name the caller's framework gives the URL (``api_base`` in LlamaIndex),
    used in error messages.

    Raises:
        ValueError: the URL is not ``http(s)://host...``, or an env URL is plain http to
            another machine.
    """
    if base_url:
        return _checked_url(base_url.rstrip("/"), f"{argument}=")
    for name in BASE_URL_ENVS:
        value = os.environ.get(name)
        if value:
            url = value.rstrip("/")
            if not (_scheme(url) == "https" or _is_loopback(url)):
                raise ValueError(
                    f"{name}={url!r} is not an https URL; pass {argument}=... explicitly to use "
                    "a plain-http server."
                )
            return _checked_url(url, f"{name}=")
    return DEFAULT_BASE_URL


def _checked_url(url: str, source: str) -> str:
    """``url`` if it is an absolute ``http``/``https`` URL with a host, else a clear error."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  # a malformed port raises here, not at the first request
    except ValueError as exc:
        raise ValueError(f"{source}{url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(
            f"{source}{url!r} is not an http(s) URL with a host; expected e.g. {DEFAULT_BASE_URL!r}"
        )
    return url


def resolve_timeout(timeout: Any) -> Any:
    """Normalise a timeout the way ``ChatOpenAI`` accepts it, for the installed ``openai``.

    A number of seconds (per phase: connect, read, write, pool), a ``(connect, read)`` pair
    (read also bounds write and pool), an ``httpx.Timeout``/``httpx2.Timeout`` (whichever the
    installed ``openai`` uses) as given, or None for the SDK default.

    Raises:
        ValueError: anything else, or a number that is not > 0.
    """
    if timeout is None:
        return None
    if _is_number(timeout):
        return _seconds(timeout)
    from novita_core._compat import http_lib  # imports the openai SDK: only for these forms

    if isinstance(timeout, http_lib.Timeout):
        return timeout
    if isinstance(timeout, (tuple, list)) and len(timeout) == 2:
        connect, read = (None if value is None else _seconds(value) for value in timeout)
        return http_lib.Timeout(read, connect=connect)
    raise _timeout_error(timeout)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(value: Any) -> float:
    if not _is_number(value) or not value > 0:
        raise _timeout_error(value)
    return float(value)


def _timeout_error(value: Any) -> ValueError:
    return ValueError(
        "timeout must be a number of seconds > 0, a (connect, read) pair of them, an "
        f"httpx.Timeout/httpx2.Timeout (the installed openai's) or None, got {value!r}"
    )


ASYNC_TRANSPORTS = ("aiohttp", "httpx")

MODEL_LISTING_ENV = "NOVITA_MODEL_LISTING"
"""Set to ``0`` to never read ``GET /models`` (e.g. behind a gateway without it)."""


def _resolve_model_listing(value: bool | None) -> bool:
    if value is not None:
        return value
    return os.environ.get(MODEL_LISTING_ENV, "1").strip().lower() not in ("0", "false", "off", "no")


def _resolve_transport(value: str | None) -> str:
    transport = value or os.environ.get("NOVITA_ASYNC_TRANSPORT") or "aiohttp"
    if transport not in ASYNC_TRANSPORTS:
        raise ValueError(
            f"async_transport must be one of {list(ASYNC_TRANSPORTS)}, got {transport!r}"
        )
    return transport


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _is_loopback(url: str) -> bool:
    """Plain http to this machine: the parsed host (not a prefix of the text) is loopback.

    ``http://localhost.example.com`` or ``http://localhost@example.com`` are other hosts.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() != "http" or not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, repr=False)
class NovitaSettings:
    """Everything needed to reach Novita; the key is kept out of repr and equality output.

    Args:
        api_key: The Novita API key (resolved; never printed).
        base_url: OpenAI-compatible base URL.
        timeout: Seconds per HTTP attempt (connect + read), an ``httpx.Timeout``/``httpx2.Timeout``
            for per-phase limits (see :func:`resolve_timeout`), or None for the SDK default.
        max_retries: Retries after the first attempt; ``N`` means at most ``N + 1`` requests.
        default_headers: Extra headers sent with every request.
        http_client: A sync client the installed ``openai`` accepts as ``http_client``
            (``httpx.Client`` on openai 2.x, ``httpx2.Client`` on 3.x).
        http_async_client: The async counterpart (``httpx.AsyncClient`` / ``httpx2.AsyncClient``
            or ``openai.DefaultAioHttpClient()``).
        async_transport: ``"aiohttp"`` (default; the SDK's faster aiohttp transport, one pool
            per event loop) or ``"httpx"`` (the SDK's default transport). Ignored when
            ``http_async_client`` is given. Env: ``NOVITA_ASYNC_TRANSPORT``.
        retry_policy: What is retried and the waits between attempts, including
            ``max_retry_wait``, the longest server-requested wait (``Retry-After``) in seconds
            that a retry sleeps (when the server asks for more, the error is raised at once
            with the requested seconds as its ``retry_after`` attribute).
        model_listing: Read Novita's ``GET /models`` once per base URL, before the first
            request there, so that profiles and metadata of models built afterwards follow it.
            Env: ``NOVITA_MODEL_LISTING`` (``0`` turns it off).

    Example:
        >>> s = NovitaSettings.resolve(api_key="sk-test", base_url="http://127.0.0.1:9/v3/openai")
        >>> s
        NovitaSettings(base_url='http://127.0.0.1:9/v3/openai', timeout=60.0, max_retries=2)
    """

    api_key: str
    """The Novita API key (resolved; never printed)."""
    base_url: str = DEFAULT_BASE_URL
    """OpenAI-compatible base URL."""
    timeout: Any = DEFAULT_TIMEOUT
    """Seconds per HTTP attempt, an ``httpx.Timeout``/``httpx2.Timeout``, or None."""
    max_retries: int = DEFAULT_MAX_RETRIES
    """Retries after the first attempt."""
    default_headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers sent with every request."""
    http_client: Any = None
    """A sync HTTP client of the installed ``openai``'s kind, or None for a shared pool."""
    http_async_client: Any = None
    """The async counterpart, or None for a pool per event loop."""
    async_transport: str = "aiohttp"
    """``"aiohttp"`` or ``"httpx"``: the async transport when no ``http_async_client`` is given."""
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    """What is retried, and the waits between attempts."""
    model_listing: bool = True
    """Read Novita's ``GET /models`` once per base URL, before the first request there."""

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Any = DEFAULT_TIMEOUT,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: Any = None,
        http_async_client: Any = None,
        async_transport: str | None = None,
        max_retry_wait: float | None = None,
        model_listing: bool | None = None,
        base_url_argument: str = "base_url",
        retry_policy: RetryPolicy | None = None,
    ) -> NovitaSettings:
        """Build settings from arguments, falling back to the environment and defaults.

        ``base_url_argument`` is what the caller's framework calls the URL (for error messages).
        ``max_retry_wait``, when given, replaces that of ``retry_policy`` (default: the
        default :class:`RetryPolicy`).
        """
        if max_retries is None:
            max_retries = DEFAULT_MAX_RETRIES
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        policy = DEFAULT_RETRY_POLICY if retry_policy is None else retry_policy
        if not isinstance(policy, RetryPolicy):
            raise ValueError(f"retry_policy must be a RetryPolicy, got {policy!r}")
        if max_retry_wait is not None and max_retry_wait != policy.max_retry_wait:
            if isinstance(max_retry_wait, bool) or not max_retry_wait >= 0:
                raise ValueError(
                    f"max_retry_wait must be a number of seconds >= 0, got {max_retry_wait!r}"
                )
            policy = replace(policy, max_retry_wait=float(max_retry_wait))
        return cls(
            api_key=resolve_api_key(api_key),
            base_url=resolve_base_url(base_url, argument=base_url_argument),
            timeout=resolve_timeout(timeout),
            max_retries=max_retries,
            default_headers=dict(default_headers or {}),
            http_client=http_client,
            http_async_client=http_async_client,
            async_transport=_resolve_transport(async_transport),
            retry_policy=policy,
            model_listing=_resolve_model_listing(model_listing),
        )

    @property
    def max_retry_wait(self) -> float:
        """Longest ``Retry-After`` (seconds) a retry waits: the retry policy's."""
        return self.retry_policy.max_retry_wait

    @property
    def read_timeout(self) -> float | None:
        """Seconds a read may wait: ``timeout`` itself, or the ``read`` of a ``Timeout``."""
        if self.timeout is None or isinstance(self.timeout, float):
            return self.timeout
        read: float | None = self.timeout.read
        return read

    @property
    def pool_key(self) -> tuple[Any, ...]:
        """Identity of the connection pool these settings may share with others."""
        return (
            self.base_url,
            self.api_key,
            _timeout_key(self.timeout),
            tuple(sorted(self.default_headers.items())),
            id(self.http_client) if self.http_client is not None else None,
            id(self.http_async_client) if self.http_async_client is not None else None,
            self.async_transport,
        )

    def __repr__(self) -> str:
        return (
            f"NovitaSettings(base_url={self.base_url!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r})"
        )


def _timeout_key(timeout: Any) -> Any:
    """A hashable stand-in for ``timeout`` (``Timeout`` objects are not hashable)."""
    if timeout is None or isinstance(timeout, float):
        return timeout
    return tuple(sorted(timeout.as_dict().items()))


def check_picklable(owner: str, **http_clients: Any) -> None:
    """Refuse to pickle a model that holds a user-supplied HTTP client, with a clear reason.

    A pickle of a model carries its settings, the API key included (a worker needs it), and no
    connection pool: the receiving process builds its own. A user's HTTP client is a pool, and
    one that cannot cross processes.

    Raises:
        TypeError: naming the field, for each client that is set.
    """
    for name, client in http_clients.items():
        if client is not None:
            raise TypeError(
                f"cannot pickle {owner} with {name}=...: an HTTP client belongs to the process "
                f"that made it. Build the model in the worker, or leave {name} unset (each "
                "process then opens its own connections)."
            )


def sharing_memo(memo: dict[int, Any] | None, *http_clients: Any) -> dict[int, Any]:
    """A ``copy.deepcopy`` memo under which the given user HTTP clients are shared, not copied.

    A deep copy of a model is a second model on the same connections: copying a pool (its
    locks, its sockets) is neither possible nor wanted.
    """
    memo = {} if memo is None else memo
    for client in http_clients:
        if client is not None:
            memo[id(client)] = client
    return memo
