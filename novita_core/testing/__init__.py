"""Offline Novita-compatible HTTP server, its pytest fixtures and CLI.

Tests, benchmarks and notebooks talk to it over real HTTP on 127.0.0.1, so nothing here ever
reaches the network. See :class:`OfflineNovitaServer`.
"""

from novita_core.testing.server import Fault, OfflineNovitaServer, RecordedRequest

__all__ = ["Fault", "OfflineNovitaServer", "RecordedRequest"]
