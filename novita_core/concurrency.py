"""Bounded fan-out: at most ``limit`` requests of one call in flight, results in input order.

Novita limits requests per minute per account and model, so a call that splits its input into
many requests (embedding batches, several prompts, rerank batches) must not send them all at
once. Adapters use :func:`bounded_gather` when they fan out themselves, and
:class:`LoopLimiter` when the framework fans out for them and each piece is one call of ours.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

__all__ = ["DEFAULT_MAX_CONCURRENCY", "LoopLimiter", "bounded_gather", "check_max_concurrency"]

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAX_CONCURRENCY = 4
"""Requests one call keeps in flight by default: small, so that N workers on one key stay far
below Novita's per-account RPM limits."""


def check_max_concurrency(value: int) -> int:
    """``value`` if it is a whole number >= 1.

    Raises:
        ValueError: naming ``max_concurrency`` and what is allowed.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_concurrency must be an integer >= 1, got {value!r}")
    return value


async def bounded_gather(
    func: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int
) -> list[R]:
    """``[await func(item) for item in items]``, with at most ``limit`` awaits running at once.

    ``min(limit, len(items))`` workers take the next item as soon as they finish one, so the
    pipe stays full without ever holding more than ``limit`` requests open. The first failure
    cancels the rest and is raised.

    Args:
        func: The coroutine function to apply (one request per call).
        items: Its inputs.
        limit: Most calls in flight at once (>= 1).

    Returns:
        The results, in the order of ``items``.

    Example:
        >>> import asyncio
        >>> async def double(x: int) -> int:
        ...     await asyncio.sleep(0)
        ...     return 2 * x
        >>> asyncio.run(bounded_gather(double, range(5), limit=2))
        [0, 2, 4, 6, 8]
    """
    check_max_concurrency(limit)
    todo: Sequence[T] = items if isinstance(items, Sequence) else list(items)
    if len(todo) <= 1:
        return [await func(item) for item in todo]
    results: list[R | None] = [None] * len(todo)
    indexes = iter(range(len(todo)))

    async def worker() -> None:
        for index in indexes:  # one shared iterator: each index is taken by exactly one worker
            results[index] = await func(todo[index])

    workers = [asyncio.ensure_future(worker()) for _ in range(min(limit, len(todo)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return results  # type: ignore[return-value]  # every slot was filled


class LoopLimiter:
    """A semaphore of ``limit`` slots per event loop, for one object's calls on that loop.

    An ``asyncio.Semaphore`` belongs to the loop it is first used on, and a model may be used
    from several loops (``asyncio.run`` twice, a worker's own loop); each loop gets its own.
    Not pickled with its owner (see ``__reduce__``): an unpickled copy starts with no loops.

    Args:
        limit: Slots per loop (>= 1).

    Example:
        >>> limiter = LoopLimiter(4)
        >>> async def one_request() -> None:
        ...     async with limiter.slot():
        ...         ...  # send the request
    """

    __slots__ = ("__weakref__", "_per_loop", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = check_max_concurrency(limit)
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._per_loop = weakref.WeakKeyDictionary()

    def slot(self) -> asyncio.Semaphore:
        """The running loop's semaphore (``async with limiter.slot(): ...``)."""
        loop = asyncio.get_running_loop()
        semaphore = self._per_loop.get(loop)
        if semaphore is None:
            semaphore = self._per_loop[loop] = asyncio.Semaphore(self.limit)
        return semaphore

    def __reduce__(self) -> tuple[type[LoopLimiter], tuple[int]]:
        return (LoopLimiter, (self.limit,))

    def __deepcopy__(self, memo: dict[int, object]) -> LoopLimiter:
        return LoopLimiter(self.limit)
