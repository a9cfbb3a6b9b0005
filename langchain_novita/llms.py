"""Novita text-completion models for LangChain: :class:`Novita` (the ``/completions`` endpoint)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.language_models.base import LanguageModelInput
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list
from pydantic import AliasChoices, ConfigDict, Field

from langchain_novita._batch import NovitaBatchAPI
from langchain_novita._common import (
    JsonDict,
    NovitaGeneration,
    retry_callback,
)
from novita_core.answers import USAGE_KEYS
from novita_core.catalog import DEFAULT_CHAT_MODEL
from novita_core.concurrency import DEFAULT_MAX_CONCURRENCY, bounded_gather
from novita_core.params import (
    COMPLETIONS,
    Endpoint,
    Request,
)
from novita_core.streaming import StreamDelta

_batch_max_concurrency: ContextVar[int | None] = ContextVar(
    "novita_batch_max_concurrency", default=None
)
"""``abatch``'s ``config["max_concurrency"]``: LangChain hands each group of that many prompts
to one ``agenerate`` call, which then sends them all at once, as it does for other LLMs."""


def _add_usage(total: JsonDict, usage: Mapping[str, Any] | None) -> None:
    for key in USAGE_KEYS:
        if usage and isinstance(usage.get(key), int):
            total[key] = total.get(key, 0) + usage[key]


def _generation(choice: Mapping[str, Any]) -> Generation:
    info: JsonDict = {"finish_reason": choice.get("finish_reason")}
    if choice.get("logprobs") is not None:
        info["logprobs"] = choice["logprobs"]
    return Generation(text=choice.get("text") or "", generation_info=info)


def _delta_chunk(delta: StreamDelta) -> GenerationChunk:
    info: JsonDict = {}
    if delta.finish_reason:
        info["finish_reason"] = delta.finish_reason
    if delta.logprobs is not None:
        info["logprobs"] = delta.logprobs
    if delta.usage:
        info["token_usage"] = delta.usage
    return GenerationChunk(text=delta.content, generation_info=info or None)


class Novita(NovitaBatchAPI, NovitaGeneration, BaseLLM):
    """Novita AI text completions (the OpenAI-compatible ``/completions`` endpoint).

    For chat models with messages, tools and structured output use
    :class:`~langchain_novita.ChatNovita`; this class sends a raw prompt string.

    Setup:
        ```bash
        pip install "novita-integrations[langchain]"
        export NOVITA_API_KEY="your-api-key"
        ```

    Key init args:
        model (alias ``model_name``): Novita model id; defaults to the core's default chat
            model.
        temperature, top_p, max_tokens, stop, n, seed, presence_penalty, frequency_penalty,
        logit_bias, repetition_penalty, top_k, min_p: Sampling parameters, validated
            against Novita's ranges.
        logprobs: Number (0-5) of most likely tokens to return log-probabilities for.
        api_key, base_url, timeout, max_retries, default_headers: As for ``ChatNovita``.
        model_kwargs: Other completions parameters (``echo``, ``suffix``, ``best_of`` ...).

    Several prompts in one ``generate`` call are sent as one request each (in async code up to
    ``max_concurrency`` at once, or ``abatch``'s ``config={"max_concurrency": n}``); the summed
    token usage is in ``llm_output["token_usage"]``. With ``use_batch_api=True``,
    ``batch``/``abatch`` send all prompts as one Novita Batch API job (see
    ``batch_api_submit`` / ``batch_api_retrieve`` to submit now and collect later).

    Example:
        ```python
        from langchain_novita import Novita

        llm = Novita(model="meta-llama/llama-3.1-8b-instruct", max_tokens=64)
        llm.invoke("The capital of France is")
        for text in llm.stream("Once upon a time"):
            print(text, end="")
        ```
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "llm"
    _endpoint: ClassVar[Endpoint] = COMPLETIONS

    model: str = Field(
        default=DEFAULT_CHAT_MODEL, validation_alias=AliasChoices("model", "model_name")
    )
    """Novita model id."""
    logprobs: int | None = None
    """Log-probabilities of this many most likely tokens per position (0-5)."""
    echo: bool | None = None
    """Return the prompt before the completion."""
    best_of: int | None = None
    """Generate this many completions server-side and return the best ``n`` (not streamable)."""
    suffix: str | None = None
    """Text that comes after the completion."""
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, gt=0)
    """Most requests one async ``generate`` of several prompts keeps in flight (sync calls send
    one at a time). Novita's rate limits are per account: keep it small when many workers
    share a key."""

    @property
    def _llm_type(self) -> str:
        return "novita"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_novita", "llms"]``."""
        return ["langchain_novita", "llms"]

    def _build_request(
        self, prompt: str, stop: list[str] | None, *, stream: bool, **kwargs: Any
    ) -> Request:
        return self._request(stop, stream, kwargs, prompt=prompt)

    @staticmethod
    def _result(responses: list[JsonDict]) -> LLMResult:
        usage: JsonDict = {}
        for response in responses:
            _add_usage(usage, response.get("usage"))
        generations = [
            [_generation(choice) for choice in response.get("choices") or ()]
            for response in responses
        ]
        first = responses[0] if responses else {}
        llm_output = {
            "token_usage": usage,
            "model_name": first.get("model"),
            "system_fingerprint": first.get("system_fingerprint"),
        }
        return LLMResult(generations=generations, llm_output=llm_output)

    def _batch_api_result(self, response: JsonDict) -> LLMResult:
        return self._result([response])

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:
            return LLMResult(
                generations=[[self._streamed(p, stop, run_manager, **kwargs)] for p in prompts]
            )
        requests = [self._build_request(p, stop, stream=False, **kwargs) for p in prompts]
        on_retry = retry_callback(run_manager)
        return self._result([self._client.create(r, on_retry=on_retry) for r in requests])

    def _streamed(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> Generation:
        """One prompt through :meth:`_stream`, merged (``streaming=True``)."""
        merged: GenerationChunk | None = None
        for chunk in self._stream(prompt, stop, run_manager, **kwargs):
            merged = chunk if merged is None else merged + chunk
        return merged or Generation(text="")

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:
            streamed = [await self._astreamed(p, stop, run_manager, **kwargs) for p in prompts]
            return LLMResult(generations=[[generation] for generation in streamed])
        requests = [self._build_request(p, stop, stream=False, **kwargs) for p in prompts]
        limit = _batch_max_concurrency.get() or self.max_concurrency
        on_retry = retry_callback(run_manager)

        async def create(request: Request) -> JsonDict:
            return await self._client.acreate(request, on_retry=on_retry)

        return self._result(await bounded_gather(create, requests, limit=limit))

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """LangChain's ``abatch``; ``config={"max_concurrency": n}`` keeps its meaning.

        Without it, ``max_concurrency`` (the field) bounds the requests in flight.
        """
        configs = get_config_list(config, len(inputs)) if inputs else []
        limit = configs[0].get("max_concurrency") if configs else None
        # LangChain calls abatch again for each group, without the bound: keep the outer one.
        token = _batch_max_concurrency.set(limit) if limit else None
        try:
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        finally:
            if token is not None:
                _batch_max_concurrency.reset(token)

    async def _astreamed(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> Generation:
        """Async twin of :meth:`_streamed` (``streaming=True`` under ``ainvoke``)."""
        merged: GenerationChunk | None = None
        async for chunk in self._astream(prompt, stop, run_manager, **kwargs):
            merged = chunk if merged is None else merged + chunk
        return merged or Generation(text="")

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        request = self._build_request(prompt, stop, stream=True, **kwargs)
        for delta in self._client.stream(request, on_retry=retry_callback(run_manager)):
            if delta.choice != 0:
                continue
            chunk = _delta_chunk(delta)
            if run_manager and chunk.text:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        request = self._build_request(prompt, stop, stream=True, **kwargs)
        async for delta in self._client.astream(request, on_retry=retry_callback(run_manager)):
            if delta.choice != 0:
                continue
            chunk = _delta_chunk(delta)
            if run_manager and chunk.text:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
