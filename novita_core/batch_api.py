"""The Batch API verbs an adapter model offers: submit, status, retrieve and cancel.

Both adapters mix :class:`BatchAPIVerbs` into their models. It knows the order of the steps
and nothing of either framework: the model supplies the requests for its inputs and turns each
line's answer into its framework's output. The lifecycle itself is :mod:`novita_core.batch`,
imported on first use (it imports the ``openai`` SDK; importing an adapter must not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from novita_core.params import Request

if TYPE_CHECKING:
    from novita_core.batch import BatchClient, BatchResult
    from novita_core.connection import ConnectedModel


class BatchAPIVerbs:
    """``batch_api_submit`` / ``_status`` / ``_retrieve`` / ``_cancel`` and their async twins.

    Mixed into a :class:`~novita_core.connection.ConnectedModel` (the batches go over its
    connection). The model implements :meth:`_batch_api_requests` and
    :meth:`_batch_api_outputs`, and may fill in its own wait defaults in :meth:`_batch_api_wait`.
    Inputs and outputs are typed ``Any``: pydantic wants no ``Generic`` before its ``BaseModel``.

    Example:
        ```python
        batch_id = llm.batch_api_submit(inputs, temperature=0)  # no waiting
        llm.batch_api_status(batch_id)["status"]  # "in_progress" ...
        answers = llm.batch_api_retrieve(batch_id, timeout=3600)  # in input order
        ```
    """

    def _batch_api_requests(self, inputs: Sequence[Any], kwargs: dict[str, Any]) -> list[Request]:
        """The validated request of each input (raising before anything is uploaded)."""
        raise NotImplementedError

    def _batch_api_outputs(
        self, results: Sequence[BatchResult], batch_id: str, return_exceptions: bool
    ) -> list[Any]:
        """Each line's answer as the model's output; a failed line raises, or stays in place."""
        raise NotImplementedError

    def _batch_api_wait(
        self, poll_interval: float | None, timeout: float | None
    ) -> tuple[float | None, float | None]:
        """The poll interval and timeout of a wait: as given (None: the core's defaults)."""
        return poll_interval, timeout

    def _batches(self) -> BatchClient:
        from novita_core.batch import BatchClient  # imports the openai SDK: first use only

        return BatchClient(cast("ConnectedModel", self)._current_connection().client)

    def _batch_api_run(
        self, requests: list[Request], poll_interval: float | None, timeout: float | None
    ) -> tuple[str, list[BatchResult]]:
        """Submit ``requests`` as one job and wait: its id and one result per request."""
        batches = self._batches()
        batch_id = str(batches.submit(requests)["id"])
        first, limit = self._batch_api_wait(poll_interval, timeout)
        results = batches.retrieve(
            batch_id, poll_interval=first, timeout=limit, count=len(requests)
        )
        return batch_id, results

    async def _abatch_api_run(
        self, requests: list[Request], poll_interval: float | None, timeout: float | None
    ) -> tuple[str, list[BatchResult]]:
        """Async :meth:`_batch_api_run`."""
        batches = self._batches()
        batch_id = str((await batches.asubmit(requests))["id"])
        first, limit = self._batch_api_wait(poll_interval, timeout)
        results = await batches.aretrieve(
            batch_id, poll_interval=first, timeout=limit, count=len(requests)
        )
        return batch_id, results

    def batch_api_submit(self, inputs: Sequence[Any], **kwargs: Any) -> str:
        """Submit ``inputs`` as one Batch API job and return its id (no waiting).

        ``kwargs`` are per-call request parameters (``stop``, ``temperature`` ...), validated
        before anything is uploaded.
        """
        return str(self._batches().submit(self._batch_api_requests(inputs, kwargs))["id"])

    def batch_api_status(self, batch_id: str) -> dict[str, Any]:
        """The batch object: ``status``, ``request_counts``, ``output_file_id`` ..."""
        return self._batches().status(batch_id)

    def batch_api_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Wait for the batch to end; its answers in input order, as the model's outputs.

        Args:
            batch_id: The id from :meth:`batch_api_submit`.
            poll_interval: First wait between status polls (default: the model's
                ``batch_api_poll_interval`` where it has one, else the core's).
            timeout: Seconds to wait (default: the model's ``batch_api_timeout`` where it has
                one, else the core's).
            return_exceptions: Put a failed line's error (a ``BatchLineError``) in its place
                instead of raising it.
        """
        first, limit = self._batch_api_wait(poll_interval, timeout)
        results = self._batches().retrieve(batch_id, poll_interval=first, timeout=limit)
        return self._batch_api_outputs(results, batch_id, return_exceptions)

    def batch_api_cancel(self, batch_id: str) -> dict[str, Any]:
        """Ask Novita to cancel the batch; the batch object (``cancelling``)."""
        return self._batches().cancel(batch_id)

    async def abatch_api_submit(self, inputs: Sequence[Any], **kwargs: Any) -> str:
        """Async :meth:`batch_api_submit`."""
        requests = self._batch_api_requests(inputs, kwargs)
        return str((await self._batches().asubmit(requests))["id"])

    async def abatch_api_status(self, batch_id: str) -> dict[str, Any]:
        """Async :meth:`batch_api_status`."""
        return await self._batches().astatus(batch_id)

    async def abatch_api_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Async :meth:`batch_api_retrieve`."""
        first, limit = self._batch_api_wait(poll_interval, timeout)
        results = await self._batches().aretrieve(batch_id, poll_interval=first, timeout=limit)
        return self._batch_api_outputs(results, batch_id, return_exceptions)

    async def abatch_api_cancel(self, batch_id: str) -> dict[str, Any]:
        """Async :meth:`batch_api_cancel`."""
        return await self._batches().acancel(batch_id)
