"""Faults the offline server injects: what they are, their header form, and what they send.

A :class:`Fault` is queued with :meth:`~novita_core.testing.OfflineNovitaServer.inject` or sent
per request in an ``X-Offline-Fault`` header.
"""

from novita_core.testing.faults.header import FAULT_HEADER, Fault, FaultKind
from novita_core.testing.faults.wire import (
    DripWriter,
    Plan,
    act,
    empty_choices,
    send_answer,
    send_events,
    send_json,
    shape_stream,
)

__all__ = [
    "FAULT_HEADER",
    "DripWriter",
    "Fault",
    "FaultKind",
    "Plan",
    "act",
    "empty_choices",
    "send_answer",
    "send_events",
    "send_json",
    "shape_stream",
]
