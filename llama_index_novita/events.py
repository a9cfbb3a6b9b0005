"""Instrumentation events of the Novita classes (seen by LlamaIndex event handlers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events import BaseEvent

if TYPE_CHECKING:
    from tenacity import RetryCallState

dispatcher = get_dispatcher(__name__)


class NovitaRetryEvent(BaseEvent):
    """A request to Novita failed and is about to be sent again (one event per retry).

    Args:
        attempt: The number of the attempt that failed (1 for the first request).
        wait: Seconds slept before the next attempt.
        error: What failed, without the request or the key (``HTTP 429``, ``APITimeoutError``).

    Example:
        ```python
        from llama_index.core.instrumentation import get_dispatcher
        from llama_index.core.instrumentation.event_handlers import BaseEventHandler

        class Retries(BaseEventHandler):
            def handle(self, event, **kwargs):
                if isinstance(event, NovitaRetryEvent):
                    print(event.attempt, event.error)

        get_dispatcher().add_event_handler(Retries())
        ```
    """

    attempt: int
    """The number of the attempt that failed (1 for the first request)."""
    wait: float
    """Seconds slept before the next attempt."""
    error: str
    """What failed, without the request or the key (``HTTP 429``, ``APITimeoutError``)."""

    @classmethod
    def class_name(cls) -> str:
        """The event's name in LlamaIndex's instrumentation."""
        return "NovitaRetryEvent"


def dispatch_retry(state: RetryCallState) -> None:
    """Tell LlamaIndex's event handlers of a retry (the core client's ``on_retry``)."""
    # Imported here: novita_core.retry loads the openai SDK, which importing the package must not.
    from novita_core.retry import describe_failure

    failure = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    dispatcher.event(
        NovitaRetryEvent(attempt=state.attempt_number, wait=wait, error=describe_failure(failure))
    )
