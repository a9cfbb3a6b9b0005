"""Keep the API key out of the frame locals of the exceptions we raise.

A traceback rendered with locals (``pytest --showlocals``, Sentry,
``traceback.TracebackException(capture_locals=True)``) prints the ``repr`` of every local of every
frame of the exception and of its ``__cause__``/``__context__`` chain. Transport frames hold the
request headers (aiohttp keeps ``Authorization`` in a plain dict): such frames are cut out of the
traceback before the exception leaves the client. It runs only on the error path.
"""

from __future__ import annotations

from types import TracebackType


def scrub_secret(exc: BaseException, secret: str) -> None:
    """Drop the traceback entries of ``exc`` and its chain whose frame locals show ``secret``."""
    if not secret:
        return
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = _without_secret(current.__traceback__, secret)
        pending += [current.__cause__, current.__context__]


def _without_secret(tb: TracebackType | None, secret: str) -> TracebackType | None:
    kept: list[TracebackType] = []
    while tb is not None:
        if not _shows(tb, secret):
            kept.append(tb)
        tb = tb.tb_next
    for entry, following in zip(kept, [*kept[1:], None], strict=True):
        entry.tb_next = following
    return kept[0] if kept else None


def _shows(tb: TracebackType, secret: str) -> bool:
    for value in tb.tb_frame.f_locals.values():
        try:
            text = repr(value)
        except Exception:  # a repr that fails is rendered as a placeholder, without the value
            continue
        if secret in text:
            return True
    return False
