"""Novita's Batch API for ``NovitaAI``: many chats or completions as one job, in input order.

Translation only: inputs become the same core requests as ``chat()`` / ``complete()``, the
core's :mod:`novita_core.batch` runs the lifecycle, and each line's answer becomes a
``ChatResponse`` / ``CompletionResponse`` through ``NovitaAI``'s own conversions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from llama_index.core.base.llms.generic_utils import (
    chat_response_to_completion_response,
    prompt_to_messages,
)
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from novita_core.batch_api import BatchAPIVerbs
from novita_core.params import Request

if TYPE_CHECKING:
    from novita_core.batch import BatchResult

BatchInput = Sequence[ChatMessage] | str
"""One line: a chat (a list of messages) or a prompt."""


class _LLM(Protocol):
    """What the mixin uses of ``NovitaAI``."""

    is_chat_model: bool

    def _to_prompt(self, messages: Sequence[ChatMessage]) -> str: ...

    def _chat_request(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], stream: bool
    ) -> Request: ...

    def _completion_request(self, prompt: str, kwargs: dict[str, Any], stream: bool) -> Request: ...

    @staticmethod
    def _chat_response(data: dict[str, Any]) -> ChatResponse: ...

    @staticmethod
    def _completion_response(data: dict[str, Any]) -> CompletionResponse: ...


class NovitaBatchAPI(BatchAPIVerbs):
    """``batch_api_chat`` / ``batch_api_complete`` and the submit/status/retrieve/cancel verbs.

    All inputs of one call go into one JSONL file (Novita takes one model per file) and run as
    one Batch API job; the answers come back in input order when the whole job is done. A line
    that failed raises ``novita_core.batch.BatchLineError`` once the batch has finished, or
    takes its place with ``return_exceptions=True``. The verbs (``batch_api_submit`` ... and
    their async twins) are the core's :class:`~novita_core.batch_api.BatchAPIVerbs`;
    ``batch_api_retrieve`` answers one ``ChatResponse`` per line.
    """

    @property
    def _llm(self) -> _LLM:
        return cast("_LLM", self)

    def _batch_request(self, item: BatchInput, kwargs: dict[str, Any]) -> Request:
        llm = self._llm
        if isinstance(item, str):
            if not llm.is_chat_model:
                return llm._completion_request(item, kwargs, stream=False)
            item = prompt_to_messages(item)
        if llm.is_chat_model:
            return llm._chat_request(item, kwargs, stream=False)
        return llm._completion_request(llm._to_prompt(item), kwargs, stream=False)

    def _batch_api_requests(
        self, inputs: Sequence[BatchInput], kwargs: dict[str, Any]
    ) -> list[Request]:
        return [self._batch_request(item, dict(kwargs)) for item in inputs]

    def _batch_api_outputs(
        self, results: Sequence[BatchResult], batch_id: str, return_exceptions: bool
    ) -> list[ChatResponse]:
        return self._outputs(results, self._line_chat, return_exceptions)

    def _line_chat(self, data: dict[str, Any]) -> ChatResponse:
        from llama_index_novita.base import _completion_to_chat

        llm = self._llm
        if llm.is_chat_model:
            return llm._chat_response(data)
        return _completion_to_chat(llm._completion_response(data))

    def _line_completion(self, data: dict[str, Any]) -> CompletionResponse:
        llm = self._llm
        if llm.is_chat_model:
            return chat_response_to_completion_response(llm._chat_response(data))
        return llm._completion_response(data)

    @staticmethod
    def _outputs(
        results: Sequence[BatchResult],
        convert: Callable[[dict[str, Any]], Any],
        return_exceptions: bool,
    ) -> list[Any]:
        """Each line converted; a failed line raises, or stays in place as its error."""
        outputs: list[Any] = []
        for result in results:
            if isinstance(result, Exception):
                if not return_exceptions:
                    raise result
                outputs.append(result)
            else:
                outputs.append(convert(result))
        return outputs

    # -- one call, wait for the answers ----------------------------------------------------------

    def batch_api_chat(
        self,
        chats: Sequence[Sequence[ChatMessage]],
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[ChatResponse]:
        """Run ``chats`` as one Batch API job and wait; one ``ChatResponse`` per chat, in order.

        Args:
            chats: One list of messages per line.
            poll_interval: First wait between status polls (the core's default when None).
            timeout: Seconds to wait for the job (the core's default when None).
            return_exceptions: Put a failed line's error (a ``BatchLineError``) in its place
                instead of raising the first one.
            **kwargs: Request parameters for every line (validated before any upload).

        Example:
            ```python
            llm.batch_api_chat([[ChatMessage(role="user", content="Hi")]])[0].message
            ```
        """
        requests = self._batch_api_requests(chats, kwargs)
        _, results = self._batch_api_run(requests, poll_interval, timeout)
        return self._outputs(results, self._line_chat, return_exceptions)

    def batch_api_complete(
        self,
        prompts: Sequence[str],
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[CompletionResponse]:
        """Run ``prompts`` as one Batch API job and wait; one ``CompletionResponse`` each.

        Arguments as for :meth:`batch_api_chat`.
        """
        requests = self._batch_api_requests(prompts, kwargs)
        _, results = self._batch_api_run(requests, poll_interval, timeout)
        return self._outputs(results, self._line_completion, return_exceptions)

    async def abatch_api_chat(
        self,
        chats: Sequence[Sequence[ChatMessage]],
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[ChatResponse]:
        """Async :meth:`batch_api_chat`."""
        requests = self._batch_api_requests(chats, kwargs)
        _, results = await self._abatch_api_run(requests, poll_interval, timeout)
        return self._outputs(results, self._line_chat, return_exceptions)

    async def abatch_api_complete(
        self,
        prompts: Sequence[str],
        *,
        poll_interval: float | None = None,
        timeout: float | None = None,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[CompletionResponse]:
        """Async :meth:`batch_api_complete`."""
        requests = self._batch_api_requests(prompts, kwargs)
        _, results = await self._abatch_api_run(requests, poll_interval, timeout)
        return self._outputs(results, self._line_completion, return_exceptions)
