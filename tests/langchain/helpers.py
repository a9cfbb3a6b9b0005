"""Helpers shared by the LangChain adapter tests (imported by module name; no package)."""

from __future__ import annotations

from novita_core.testing import OfflineNovitaServer

_SHARED: list[OfflineNovitaServer] = []

PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAE"
    "hQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG, base64: the local stand-in for images the standard suite downloads."""


def shared_server() -> OfflineNovitaServer:
    """The server the standard integration suites point ``base_url`` at (started on first use).

    The suites read ``chat_model_params`` inside their own fixtures, so the server must be
    reachable from a property; conftest's session fixture stops it at the end.
    """
    if not _SHARED:
        _SHARED.append(OfflineNovitaServer(api_key="test-key").start())
    return _SHARED[0]


def stop_shared_server() -> None:
    """Stop the shared server if it was started."""
    while _SHARED:
        _SHARED.pop().stop()
