"""What is retried and how long to wait between attempts: one frozen value on the settings.

Kept free of the ``openai`` and ``tenacity`` imports so that :mod:`novita_core.settings` stays
light; :mod:`novita_core.retry` applies the policy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_MAX_RETRY_WAIT = 60.0
"""Seconds: a longer ``Retry-After`` is not waited for; the error is raised at once."""


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are repeated and the wait before each repeat (how many: ``max_retries``).

    Retried: the HTTP statuses in ``statuses``, any 5xx when ``server_errors``, connection errors
    and timeouts when ``connection_errors``, and a 200 answer whose body (or first stream event)
    is an error object with such a status as its ``code``. Never a stream once a chunk reached
    the caller. The wait honours ``retry-after-ms`` / ``Retry-After`` when the server sends
    them, else it is exponential: attempt ``k`` waits up to
    ``min(max_backoff, initial_backoff * 2 ** (k - 1))`` seconds, of which the last ``jitter``
    fraction is random.

    Args:
        statuses: HTTP statuses (besides 5xx) worth repeating.
        server_errors: Whether every 5xx status is repeated.
        connection_errors: Whether connection errors and timeouts are repeated.
        initial_backoff: Seconds of the first exponential wait (its upper bound).
        max_backoff: Upper bound of any exponential wait, in seconds.
        jitter: Fraction (0 to 1) of each exponential wait drawn at random: the wait is uniform
            in ``[bound * (1 - jitter), bound]``.
        max_retry_wait: Longest server-requested wait (seconds) a retry sleeps; when the server
            asks for more, the error is raised at once with the requested seconds as its
            ``retry_after`` attribute.

    Example:
        >>> from novita_core import NovitaSettings, RetryPolicy
        >>> quick = RetryPolicy(initial_backoff=0.01, max_backoff=0.1)
        >>> s = NovitaSettings.resolve(api_key="sk-test", retry_policy=quick)
        >>> s.retry_policy.initial_backoff
        0.01
    """

    statuses: frozenset[int] = frozenset({408, 409, 429})
    """HTTP statuses (besides 5xx) worth repeating."""
    server_errors: bool = True
    """Whether every 5xx status is repeated."""
    connection_errors: bool = True
    """Whether connection errors and timeouts are repeated."""
    initial_backoff: float = 0.25
    """Seconds of the first exponential wait (its upper bound)."""
    max_backoff: float = 8.0
    """Upper bound of any exponential wait, in seconds."""
    jitter: float = 0.5
    """Fraction (0 to 1) of each exponential wait drawn at random."""
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    """Longest server-requested wait (seconds) a retry sleeps; a longer one raises at once."""

    def __post_init__(self) -> None:
        for name in ("initial_backoff", "max_backoff", "max_retry_wait"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if isinstance(self.jitter, bool) or not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be a fraction between 0 and 1, got {self.jitter!r}")
        object.__setattr__(self, "statuses", frozenset(self.statuses))

    def retries_status(self, status: object) -> bool:
        """Whether an HTTP status (or a provider error ``code`` that is one) is worth repeating."""
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        if isinstance(status, bool) or not isinstance(status, int):
            return False
        return status in self.statuses or (self.server_errors and 500 <= status < 600)

    def backoff(self, attempt_number: int) -> float:
        """Seconds to wait after failed attempt ``attempt_number`` (1-based) without Retry-After."""
        bound = min(self.max_backoff, self.initial_backoff * 2 ** (attempt_number - 1))
        return random.uniform(bound * (1 - self.jitter), bound)


DEFAULT_RETRY_POLICY = RetryPolicy()
"""The policy settings get when none is given."""
