"""Novita's Batch API behind ``batch()`` / ``abatch()``, shared by ChatNovita and Novita.

Translation only: inputs become the same core requests as live calls, the core's
:mod:`novita_core.batch` runs the lifecycle, and each line's answer becomes the class's usual
output (``AIMessage`` or ``str``) through the class's own result conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager, Callbacks
from langchain_core.language_models import LangSmithParams, LanguageModelInput
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list
from pydantic import BaseModel, Field

from langchain_novita._common import JsonDict
from novita_core.batch_api import BatchAPIVerbs
from novita_core.params import Request

if TYPE_CHECKING:
    from novita_core.batch import BatchResult

BATCH_API_METADATA_KEY = "novita_batch_api"
"""Run metadata flag set on every run that went through the Batch API."""
BATCH_ID_KEY = "novita_batch_id"
"""Where the batch id is kept: ``response_metadata`` of messages, ``llm_output`` of results."""


class _Model(Protocol):
    """What the mixin uses of the LangChain model it is mixed into."""

    callbacks: Callbacks
    verbose: bool
    tags: list[str] | None
    metadata: dict[str, Any] | None

    @property
    def _serialized(self) -> dict[str, Any]: ...

    def _convert_input(self, model_input: LanguageModelInput) -> PromptValue: ...

    def _dict_for_compat(self) -> dict[str, Any]: ...

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams: ...

    def _build_request(
        self, prompt: Any, stop: list[str] | None, *, stream: bool, **kwargs: Any
    ) -> Request: ...


class NovitaBatchAPI(BatchAPIVerbs, BaseModel):
    """``batch`` / ``abatch`` through Novita's Batch API, plus its submit/status/retrieve verbs.

    With ``use_batch_api=True`` all inputs of one ``batch`` call go into one JSONL file (one
    model per file), run as one Batch API job, and come back in input order when the whole job
    is done. Every input still gets its own LangChain run (metadata ``novita_batch_api: True``).
    The verbs (``batch_api_submit`` ... and their async twins) are the core's
    :class:`~novita_core.batch_api.BatchAPIVerbs`; their answers are ``AIMessage`` s or
    ``str`` s.
    """

    _ls_model_type: ClassVar[Literal["chat", "llm"]]

    use_batch_api: bool = False
    """Send ``batch``/``abatch`` through Novita's Batch API (one job; the answers arrive when
    the whole job is done) instead of one live request per input."""
    batch_api_poll_interval: float | None = Field(default=None, gt=0)
    """Seconds before the first status poll of a batch; later waits grow up to a cap
    (None: ``novita_core.batch.DEFAULT_POLL_INTERVAL``)."""
    batch_api_timeout: float | None = Field(default=None, gt=0)
    """Seconds to wait for a batch to end before ``BatchTimeoutError``; the job keeps running
    and ``batch_api_retrieve`` can fetch it later (None: the core's default, the 48 h window
    plus an hour)."""

    def _batch_api_result(self, response: JsonDict) -> LLMResult:
        """One line's answer (a live call's JSON) as an ``LLMResult`` with one generation."""
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def _lc(self) -> _Model:
        return cast("_Model", self)

    def _prompt_requests(
        self, prompts: Sequence[Any], stop: list[str] | None, kwargs: JsonDict
    ) -> list[Request]:
        return [self._lc._build_request(p, stop, stream=False, **kwargs) for p in prompts]

    def _batch_api_requests(
        self, inputs: Sequence[LanguageModelInput], kwargs: JsonDict
    ) -> list[Request]:
        stop = kwargs.pop("stop", None)
        return self._prompt_requests(self._batch_api_prompts(inputs), stop, kwargs)

    def _batch_api_outputs(
        self, results: Sequence[BatchResult], batch_id: str, return_exceptions: bool
    ) -> list[Any]:
        return self._outputs(self._outcomes(results, batch_id), return_exceptions)

    def _batch_api_prompts(self, inputs: Sequence[LanguageModelInput]) -> list[Any]:
        values = [self._lc._convert_input(model_input) for model_input in inputs]
        if self._ls_model_type == "chat":
            return [value.to_messages() for value in values]
        return [value.to_string() for value in values]

    def _batch_api_wait(
        self, poll_interval: float | None, timeout: float | None
    ) -> tuple[float | None, float | None]:
        return (
            self.batch_api_poll_interval if poll_interval is None else poll_interval,
            self.batch_api_timeout if timeout is None else timeout,
        )

    def _batch_plan(
        self,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None,
        kwargs: JsonDict,
    ) -> tuple[list[Request], list[tuple[Any, JsonDict, JsonDict]]]:
        """The validated requests, and per input: its prompt, configure() and run-start args."""
        model = self._lc
        stop = kwargs.pop("stop", None)
        prompts = self._batch_api_prompts(inputs)
        requests = self._prompt_requests(prompts, stop, kwargs)  # raises before any run
        runs = []
        for prompt, run_config in zip(prompts, get_config_list(config, len(inputs)), strict=True):
            metadata = {
                **(run_config.get("metadata") or {}),
                **model._get_ls_params(stop=stop, **kwargs),
                BATCH_API_METADATA_KEY: True,
            }
            configure = {
                "inheritable_callbacks": run_config.get("callbacks"),
                "local_callbacks": model.callbacks,
                "verbose": model.verbose,
                "inheritable_tags": run_config.get("tags"),
                "local_tags": model.tags,
                "inheritable_metadata": metadata,
                "local_metadata": model.metadata,
            }
            start = {
                "invocation_params": {**model._dict_for_compat(), "stop": stop, **kwargs},
                "options": {"stop": stop},
                "name": run_config.get("run_name"),
                "run_id": run_config.get("run_id"),
                "batch_size": len(inputs),
            }
            runs.append((prompt, configure, start))
        return requests, runs

    @staticmethod
    def _run_start(manager: Any, prompt: Any) -> Any:
        """The manager's chat-model or LLM run start, by the kind of prompt."""
        return manager.on_chat_model_start if isinstance(prompt, list) else manager.on_llm_start

    def _outcomes(
        self, results: Sequence[BatchResult], batch_id: str
    ) -> list[tuple[Any, LLMResult | None]]:
        """Each line as (output, LLMResult) or (error, None)."""
        outcomes: list[tuple[Any, LLMResult | None]] = []
        for result in results:
            if isinstance(result, Exception):
                outcomes.append((result, None))
                continue
            llm_result = self._batch_api_result(result)
            llm_result.llm_output = {**(llm_result.llm_output or {}), BATCH_ID_KEY: batch_id}
            generation = llm_result.generations[0][0]
            if isinstance(generation, ChatGeneration):
                message = generation.message
                # The same response_metadata a live call gets from BaseChatModel.
                message.response_metadata = {
                    **llm_result.llm_output,
                    **(generation.generation_info or {}),
                    **message.response_metadata,
                }
                outcomes.append((message, llm_result))
            else:
                outcomes.append((generation.text, llm_result))
        return outcomes

    @staticmethod
    def _outputs(
        outcomes: Sequence[tuple[Any, LLMResult | None]], return_exceptions: bool
    ) -> list[Any]:
        outputs = [output for output, _ in outcomes]
        if not return_exceptions:
            for output in outputs:
                if isinstance(output, Exception):
                    raise output
        return outputs

    # -- batch / abatch ------------------------------------------------------------------------

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Run ``inputs``: through the Batch API with ``use_batch_api=True``, else live.

        With the Batch API a failed line's error takes its place when ``return_exceptions``
        is True; otherwise the first failure is raised once the whole batch has finished. A
        failure of the job itself (upload, create, polling) is raised, or with
        ``return_exceptions`` put in every input's place.
        """
        if not self.use_batch_api or not inputs:
            parent = cast("Any", super())
            return list(parent.batch(inputs, config, return_exceptions=return_exceptions, **kwargs))
        requests, runs = self._batch_plan(inputs, config, kwargs)
        run_managers = []
        for prompt, configure, start in runs:
            begin = self._run_start(CallbackManager.configure(**configure), prompt)
            run_managers.extend(begin(self._lc._serialized, [prompt], **start))
        try:
            batch_id, results = self._batch_api_run(requests, None, None)
            outcomes = self._outcomes(results, batch_id)
        except BaseException as exc:
            for run_manager in run_managers:
                run_manager.on_llm_error(exc)
            if return_exceptions and isinstance(exc, Exception):
                return [exc] * len(inputs)  # as LangChain's own batch() does for such failures
            raise
        for run_manager, (output, llm_result) in zip(run_managers, outcomes, strict=True):
            if llm_result is None:
                run_manager.on_llm_error(output)
            else:
                run_manager.on_llm_end(llm_result)
        return self._outputs(outcomes, return_exceptions)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async :meth:`batch`."""
        if not self.use_batch_api or not inputs:
            parent = cast("Any", super())
            outputs = await parent.abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
            return list(outputs)
        requests, runs = self._batch_plan(inputs, config, kwargs)
        run_managers = []
        for prompt, configure, start in runs:
            begin = self._run_start(AsyncCallbackManager.configure(**configure), prompt)
            run_managers.extend(await begin(self._lc._serialized, [prompt], **start))
        try:
            batch_id, results = await self._abatch_api_run(requests, None, None)
            outcomes = self._outcomes(results, batch_id)
        except BaseException as exc:
            for run_manager in run_managers:
                await run_manager.on_llm_error(exc)
            if return_exceptions and isinstance(exc, Exception):
                return [exc] * len(inputs)  # as LangChain's own batch() does for such failures
            raise
        for run_manager, (output, llm_result) in zip(run_managers, outcomes, strict=True):
            if llm_result is None:
                await run_manager.on_llm_error(output)
            else:
                await run_manager.on_llm_end(llm_result)
        return self._outputs(outcomes, return_exceptions)
