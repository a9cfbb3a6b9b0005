"""Faults the offline server injects: what they are, their header form, and what they send.

A :class:`Fault` is queued with :meth:`~novita_core.testing.OfflineNovitaServer.inject` or sent
per request in an ``X-Offline-Fault`` header; :mod:`~novita_core.testing.faults.wire` sends it.
"""

from novita_core.testing.faults.header import FAULT_HEADER, Fault, FaultKind

__all__ = ["FAULT_HEADER", "Fault", "FaultKind"]
