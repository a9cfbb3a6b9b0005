"""``NovitaAI``: a LlamaIndex ``FunctionCallingLLM`` over Novita's OpenAI-compatible API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.generic_utils import (
    messages_to_prompt as generic_messages_to_prompt,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import BaseModel, ConfigDict, Field
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS, DEFAULT_TEMPERATURE
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import Model, PydanticProgramMode
from pydantic import AliasChoices

from llama_index_novita._batch import NovitaBatchAPI
from llama_index_novita._connection import NovitaLlamaConnection
from llama_index_novita.events import dispatch_retry
from llama_index_novita.utils import (
    chat_message_from_openai,
    logprobs_from_openai,
    to_openai_messages,
    tool_calls_from_message,
    usage_kwargs,
)
from novita_core import (
    CHAT,
    COMPLETIONS,
    DEFAULT_CHAT_MODEL,
    Request,
    StreamAssembler,
    StreamDelta,
    build_request,
    validate_params,
)
from novita_core.catalog import (
    DEFAULT_CONTEXT_WINDOW,
    lookup,
    require_tool_calling,
    response_cost,
    supports_structured_output,
)
from novita_core.params import (
    Endpoint,
    InvalidParameterError,
    bound_fields,
    canonical,
    check_one_choice_stream,
    check_raw_values,
    json_schema_format,
    wire_tool_choice,
)

if TYPE_CHECKING:
    from llama_index.core.chat_engine.types import AgentChatResponse
    from llama_index.core.tools.types import BaseTool


_STREAM_ONLY = frozenset({"stream_options"})
"""``additional_kwargs`` that apply to streams only (``OpenAILike`` users set them once)."""

dispatcher = get_dispatcher(__name__)


class NovitaAI(NovitaBatchAPI, NovitaLlamaConnection, FunctionCallingLLM):
    """Novita AI chat and completion models for LlamaIndex, with tool calling.

    A drop-in replacement for ``llama_index.llms.novita.NovitaAI`` (same class name and
    constructor arguments) built on the shared ``novita_core``: every Novita parameter is a
    typed, validated field; unknown arguments are rejected; there is one retry layer; streams
    report token usage; the API key never appears in ``repr``, ``to_json``/``to_dict`` or errors.

    Args:
        model: Novita model id. Defaults to an inexpensive tool-capable model.
        api_key: Novita API key; defaults to ``$NOVITA_API_KEY``.
        api_base: Base URL; defaults to ``$NOVITA_BASE_URL``, then ``$NOVITA_API_BASE``, then
            Novita's OpenAI-compatible endpoint.
        temperature: Sampling temperature (0-2).
        max_tokens: Most tokens to generate.
        additional_kwargs: More request parameters, checked against the core's table (Novita
            extras such as ``top_k`` travel in ``extra_body``); unknown names are an error.
            ``stream_options`` here applies to streams only; ``extra_body`` here is merged into
            the ``extra_body`` field.
        extra_body: Fields sent as given in the JSON body of every request (server fields the
            table does not know); a per-call ``extra_body=`` is merged over it.
        context_window: Override the model's context window (else from Novita's model list).
        is_chat_model: Use the chat endpoint (True) or the completions endpoint (False).
        is_function_calling_model: Override whether agents may use tools with this model
            (default: from the model catalog; True for models it does not know).
        max_retries: Retries after the first attempt (``2`` means at most 3 requests).
        timeout: Seconds per HTTP attempt, a ``(connect, read)`` pair, or an
            ``httpx.Timeout``/``httpx2.Timeout`` (the installed openai's). Connection fields
            (``api_base``, ``api_key``, ``timeout``, ``max_retries`` ...) assigned after
            construction are used by the next request.
        default_headers: Extra headers for every request.
        http_client: An HTTP client the installed ``openai`` accepts for sync calls.
        async_http_client: An HTTP client the installed ``openai`` accepts for async calls.
        reuse_client: Accepted for compatibility; clients are always shared per connection.
        top_p: Nucleus sampling (0 < top_p <= 1).
        stop: Up to 4 stop sequences.
        presence_penalty: -2 to 2.
        frequency_penalty: -2 to 2.
        repetition_penalty: Novita's repetition penalty, 0 < x < 2 (1.0 = none).
        top_k: Sample from the k most likely tokens.
        min_p: Minimum probability relative to the top token.
        logit_bias: Token id -> bias (-100 to 100).
        seed: Best-effort determinism.
        logprobs: Return token log-probabilities.
        top_logprobs: Alternatives per token (needs ``logprobs=True``).
        separate_reasoning: Ask reasoning models for ``reasoning_content``.
        enable_thinking: Turn thinking on or off on hybrid models that take it.
        thinking: ``{"type": "enabled" | "disabled"}``, the switch of newer hybrid models.
        reasoning_effort: Reasoning depth (the model's levels, e.g. ``"low"``, ``"high"``).

    Example:
        ```python
        from llama_index.core.llms import ChatMessage
        from llama_index_novita import NovitaAI

        llm = NovitaAI(model="meta-llama/llama-3.3-70b-instruct", top_k=40)
        print(llm.complete("Say hi").text)
        for chunk in llm.stream_chat([ChatMessage(role="user", content="Hi")]):
            print(chunk.delta, end="")

        # Novita's Batch API: one job, answers in input order when it is done
        llm.batch_api_complete(["Say hi", "Say bye"])
        batch_id = llm.batch_api_submit([[ChatMessage(role="user", content="Hi")]])
        llm.batch_api_retrieve(batch_id)  # later: [ChatResponse]
        ```
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: str = Field(default=DEFAULT_CHAT_MODEL, description="The Novita model id.")
    temperature: float = Field(default=DEFAULT_TEMPERATURE, description="Sampling temperature.")
    max_tokens: int | None = Field(
        default=None,
        description="Most tokens to generate (max_completion_tokens is accepted too).",
        validation_alias=AliasChoices("max_tokens", "max_completion_tokens"),
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="More request parameters (validated by the core)."
    )
    extra_body: dict[str, Any] | None = Field(
        default=None, description="Fields sent as given in every request's JSON body."
    )
    context_window: int | None = Field(
        default=None, description="Context window override (else from the model catalog).", gt=0
    )
    is_chat_model: bool = Field(
        default=True, description="Use the chat endpoint (else the completions endpoint)."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Tool calling override (else from the model catalog)."
    )
    reuse_client: bool = Field(
        default=True, description="Compatibility only: clients are always shared."
    )

    top_p: float | None = Field(default=None, description="Nucleus sampling.")
    stop: str | list[str] | None = Field(default=None, description="Up to 4 stop sequences.")
    presence_penalty: float | None = Field(default=None, description="Presence penalty.")
    frequency_penalty: float | None = Field(default=None, description="Frequency penalty.")
    repetition_penalty: float | None = Field(default=None, description="Repetition penalty.")
    top_k: int | None = Field(default=None, description="Top-k sampling.")
    min_p: float | None = Field(default=None, description="Min-p sampling.")
    logit_bias: dict[str | int, int | float] | None = Field(
        default=None, description="Token id -> bias."
    )
    seed: int | None = Field(default=None, description="Sampling seed.")
    logprobs: bool | None = Field(default=None, description="Return log-probabilities.")
    top_logprobs: int | None = Field(default=None, description="Alternatives per token.")
    separate_reasoning: bool | None = Field(default=None, description="Separate reasoning.")
    enable_thinking: bool | None = Field(default=None, description="Hybrid thinking switch.")
    thinking: dict[str, Any] | None = Field(
        default=None, description="{'type': 'enabled' | 'disabled'} on newer hybrid models."
    )
    reasoning_effort: str | None = Field(
        default=None, description="Reasoning depth, from the model's levels."
    )
    echo: bool | None = Field(
        default=None, description="Completions: return the prompt before the completion."
    )
    best_of: int | None = Field(
        default=None, description="Completions: generate this many, return the best."
    )
    suffix: str | None = Field(
        default=None, description="Completions: text that comes after the completion."
    )

    def __init__(self, model: str = DEFAULT_CHAT_MODEL, **kwargs: Any) -> None:
        # Before pydantic turns temperature=True into 1.0; fields are named as on the chat table.
        check_raw_values(CHAT, kwargs)
        super().__init__(model=model, **kwargs)
        # Fail at construction, before any request: bad params, no key.
        endpoint = CHAT if self.is_chat_model else COMPLETIONS
        streamed_only = bool(_STREAM_ONLY.intersection(self.additional_kwargs))
        validate_params(endpoint, _for_endpoint(endpoint, self._model_params(streamed_only)))
        self._extra_body(None)
        self._resolved_settings()

    @classmethod
    def class_name(cls) -> str:
        """Stable name used in serialized configs."""
        return "NovitaAI"

    # -- clients and metadata ------------------------------------------------------------------

    @property
    def metadata(self) -> LLMMetadata:
        """Model limits and capabilities: explicit values first, then the catalog.

        Never does I/O: the catalog answers from the bundled data, or from Novita's model list
        once a request to this base URL has read it.
        """
        info = lookup(self.model, self.base_url)
        context_window = self.context_window or (
            info.context_window if info else DEFAULT_CONTEXT_WINDOW
        )
        if self.max_tokens is not None:
            num_output = self.max_tokens
        else:
            # A reserve for the answer, not the model's maximum: reserving the full output limit
            # would leave PromptHelper no room for context on models whose limit equals it.
            ceiling = info.max_output_tokens if info and info.max_output_tokens else None
            num_output = min(DEFAULT_NUM_OUTPUTS, ceiling) if ceiling else DEFAULT_NUM_OUTPUTS
        if self.is_function_calling_model is not None:
            function_calling = self.is_function_calling_model
        else:
            function_calling = info.tool_calling if info else True
        return LLMMetadata(
            context_window=context_window,
            num_output=num_output,
            is_chat_model=self.is_chat_model,
            is_function_calling_model=function_calling and self.is_chat_model,
            model_name=self.model,
        )

    def to_payload(self) -> dict[str, Any]:
        """Non-sensitive description for instrumentation events."""
        return {"class_name": self.class_name(), **self.metadata.model_dump()}

    # -- request building ----------------------------------------------------------------------

    def _model_params(self, stream: bool) -> dict[str, Any]:
        """Fields and ``additional_kwargs`` as request parameters (with ``stream`` if set)."""
        params: dict[str, Any] = {
            name: getattr(self, name) for name in bound_fields(type(self), CHAT, COMPLETIONS)
        }
        additional = {
            name: value
            for name, value in self.additional_kwargs.items()
            if name != "extra_body" and (stream or name not in _STREAM_ONLY)
        }
        params.update(canonical(CHAT, additional))
        if stream:
            params["stream"] = True
        return params

    def _extra_body(self, per_call: Any) -> dict[str, Any] | None:
        """The ``extra_body`` field, then ``additional_kwargs["extra_body"]``, then the call's."""
        merged: dict[str, Any] = {}
        sources = (
            ("extra_body", self.extra_body),
            ('additional_kwargs["extra_body"]', self.additional_kwargs.get("extra_body")),
            ("the extra_body argument", per_call),
        )
        for source, body in sources:
            if body is not None and not isinstance(body, dict):
                raise InvalidParameterError(f"{source} must be a dict, got {body!r}")
            merged.update(body or {})
        return merged or None

    def _request(
        self, endpoint: Endpoint, payload: dict[str, Any], kwargs: dict[str, Any], stream: bool
    ) -> Request:
        call = dict(kwargs)
        extra_body = self._extra_body(call.pop("extra_body", None))
        params = {
            **self._model_params(stream),
            **canonical(endpoint, call),
            **payload,
            "model": self.model,
        }
        check_one_choice_stream(params)
        return build_request(endpoint, _for_endpoint(endpoint, params), extra_body=extra_body)

    def _chat_request(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], stream: bool
    ) -> Request:
        return self._request(CHAT, {"messages": to_openai_messages(messages)}, kwargs, stream)

    def _completion_request(self, prompt: str, kwargs: dict[str, Any], stream: bool) -> Request:
        return self._request(COMPLETIONS, {"prompt": prompt}, kwargs, stream)

    # -- answers -> LlamaIndex -----------------------------------------------------------------

    def _usage(self, usage: dict[str, Any] | None) -> dict[str, Any]:
        """Token counts (under TokenCountingHandler's keys) and, when prices are known, cost."""
        extra = usage_kwargs(usage)
        if not usage:  # every stream chunk but the last: skip resolving the connection
            return extra
        cost = response_cost(self.model, usage, self.base_url)
        if cost is not None:
            extra["cost_usd"] = cost
        return extra

    def _chat_response(self, data: dict[str, Any]) -> ChatResponse:
        choices = data.get("choices") or [{}]
        choice = choices[0]
        message = chat_message_from_openai(choice.get("message") or {})
        return ChatResponse(
            message=message,
            raw=data,
            logprobs=logprobs_from_openai(choice.get("logprobs")),
            additional_kwargs=self._usage(data.get("usage")),
        )

    def _completion_response(self, data: dict[str, Any]) -> CompletionResponse:
        choices = data.get("choices") or [{}]
        return CompletionResponse(
            text=choices[0].get("text") or "",
            raw=data,
            additional_kwargs=self._usage(data.get("usage")),
        )

    @staticmethod
    def _stream_raw(asm: StreamAssembler, delta: StreamDelta) -> dict[str, Any]:
        return {
            "id": asm.id,
            "model": asm.model,
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "content": delta.content or None,
                        "reasoning_content": delta.reasoning or None,
                        "tool_calls": delta.tool_calls,
                    },
                    "finish_reason": delta.finish_reason,
                }
            ],
            "usage": asm.usage,
        }

    def _stream_chat_response(self, asm: StreamAssembler, delta: StreamDelta) -> ChatResponse:
        extra: dict[str, Any] = self._usage(asm.usage)
        if delta.reasoning:
            extra["thinking_delta"] = delta.reasoning
        if delta.finish_reason:
            extra["finish_reason"] = delta.finish_reason
        return ChatResponse(
            message=chat_message_from_openai(asm.message(0), partial=delta.finish_reason is None),
            delta=delta.content,
            raw=self._stream_raw(asm, delta),
            logprobs=logprobs_from_openai(delta.logprobs),
            additional_kwargs=extra,
        )

    def _stream_completion_response(
        self, asm: StreamAssembler, delta: StreamDelta
    ) -> CompletionResponse:
        state = asm.choices.get(0)
        return CompletionResponse(
            text=state.text if state else "",
            delta=delta.content,
            raw=self._stream_raw(asm, delta),
            additional_kwargs=self._usage(asm.usage),
        )

    # -- undecorated implementations (the completion wrappers build on these) -----------------

    def _to_prompt(self, messages: Sequence[ChatMessage]) -> str:
        formatter = self.messages_to_prompt or generic_messages_to_prompt
        return formatter(messages)

    def _completion_prompt(self, prompt: str, formatted: bool) -> str:
        """``completion_to_prompt`` applied, unless the caller already formatted ``prompt``."""
        if formatted or self.completion_to_prompt is None:
            return prompt
        return self.completion_to_prompt(prompt)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        if not self.is_chat_model:
            prompt = self._to_prompt(messages)
            return _completion_to_chat(self._complete(prompt, **kwargs))
        request = self._chat_request(messages, kwargs, stream=False)
        return self._chat_response(self._novita.create(request, on_retry=dispatch_retry))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        if not self.is_chat_model:
            prompt = self._to_prompt(messages)
            return _completion_to_chat(await self._acomplete(prompt, **kwargs))
        request = self._chat_request(messages, kwargs, stream=False)
        return self._chat_response(await self._novita.acreate(request, on_retry=dispatch_retry))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        if not self.is_chat_model:
            prompt = self._to_prompt(messages)
            return _stream_completion_to_chat(self._stream_complete(prompt, **kwargs))
        request = self._chat_request(messages, kwargs, stream=True)
        client = self._novita

        def gen() -> ChatResponseGen:
            asm = StreamAssembler()
            for delta in client.stream(request, asm, dispatch_retry):
                if delta.choice == 0:
                    yield self._stream_chat_response(asm, delta)

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        if not self.is_chat_model:
            prompt = self._to_prompt(messages)
            return _astream_completion_to_chat(await self._astream_complete(prompt, **kwargs))
        request = self._chat_request(messages, kwargs, stream=True)
        client = self._novita

        async def gen() -> ChatResponseAsyncGen:
            asm = StreamAssembler()
            async for delta in client.astream(request, asm, dispatch_retry):
                if delta.choice == 0:
                    yield self._stream_chat_response(asm, delta)

        return gen()

    def _complete(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        request = self._completion_request(prompt, kwargs, stream=False)
        return self._completion_response(self._novita.create(request, on_retry=dispatch_retry))

    async def _acomplete(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        request = self._completion_request(prompt, kwargs, stream=False)
        return self._completion_response(
            await self._novita.acreate(request, on_retry=dispatch_retry)
        )

    def _stream_complete(self, prompt: str, **kwargs: Any) -> CompletionResponseGen:
        request = self._completion_request(prompt, kwargs, stream=True)
        client = self._novita

        def gen() -> CompletionResponseGen:
            asm = StreamAssembler()
            for delta in client.stream(request, asm, dispatch_retry):
                if delta.choice == 0:
                    yield self._stream_completion_response(asm, delta)

        return gen()

    async def _astream_complete(self, prompt: str, **kwargs: Any) -> CompletionResponseAsyncGen:
        request = self._completion_request(prompt, kwargs, stream=True)
        client = self._novita

        async def gen() -> CompletionResponseAsyncGen:
            asm = StreamAssembler()
            async for delta in client.astream(request, asm, dispatch_retry):
                if delta.choice == 0:
                    yield self._stream_completion_response(asm, delta)

        return gen()

    # -- public, instrumented API --------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send a chat and return the answer (usage in ``raw`` and ``additional_kwargs``)."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream a chat; each response holds the full message so far and the new ``delta``."""
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        return await self._astream_chat(messages, **kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete a prompt (chat endpoint for chat models, completions endpoint otherwise)."""
        if self.is_chat_model:
            return chat_to_completion_decorator(self._chat)(prompt, **kwargs)
        prompt = self._completion_prompt(prompt, formatted)
        return self._complete(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream a completion of ``prompt``."""
        if self.is_chat_model:
            return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)
        prompt = self._completion_prompt(prompt, formatted)
        return self._stream_complete(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete`."""
        if self.is_chat_model:
            return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)
        prompt = self._completion_prompt(prompt, formatted)
        return await self._acomplete(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        if self.is_chat_model:
            return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)
        prompt = self._completion_prompt(prompt, formatted)
        return await self._astream_complete(prompt, **kwargs)

    # -- structured output ---------------------------------------------------------------------

    def _uses_json_schema(self) -> bool:
        """Structured output through ``response_format`` json_schema, where the model has it."""
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self.is_chat_model
            and supports_structured_output(self.model, self.base_url)
        )

    def _schema_request(
        self,
        output_cls: type[BaseModel],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        """The chat of a json_schema prediction, once its start event is dispatched."""
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k != "tool_choice"}
        kwargs["response_format"] = json_schema_format(
            output_cls.model_json_schema(), name=output_cls.__name__
        )
        return self._extend_messages(prompt.format_messages(**prompt_args)), kwargs

    @staticmethod
    def _schema_result(output_cls: type[Model], response: ChatResponse) -> Model:
        """The answer of a json_schema prediction, validated, with its end event dispatched."""
        result = output_cls.model_validate_json(response.message.content or "")
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Predict an ``output_cls`` instance.

        Models the catalog lists with structured outputs get ``response_format`` json_schema
        (as ``OpenAILike(should_use_structured_outputs=True)`` does); others go through
        LlamaIndex's function-calling program.

        Args:
            output_cls: The pydantic class to fill.
            prompt: The prompt template.
            llm_kwargs: Request parameters for the call.
            **prompt_args: Values for the template.

        Returns:
            The validated ``output_cls`` instance.
        """
        if not self._uses_json_schema():
            return cast(
                "Model", super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
            )
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        return self._schema_result(output_cls, self.chat(messages, **kwargs))

    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async :meth:`structured_predict`."""
        if not self._uses_json_schema():
            return cast(
                "Model",
                await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args),
            )
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        return self._schema_result(output_cls, await self.achat(messages, **kwargs))

    # -- tool calling --------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Build the ``chat()`` kwargs for a tool-calling turn.

        Args:
            tools: Tools the model may call.
            user_msg: A new user message appended to the history.
            chat_history: Earlier messages (not modified).
            verbose: Unused; accepted for the interface.
            allow_parallel_tool_calls: Let the model call several tools at once.
            tool_required: Force a tool call (``tool_choice="required"``).
            tool_choice: ``"auto"``, ``"none"``, ``"required"``, a tool name, or an OpenAI
                ``tool_choice`` dict; None means ``"required"`` if ``tool_required`` else
                ``"auto"``.
            **kwargs: More request parameters for this call.

        Returns:
            ``messages`` plus request parameters.

        Raises:
            ValueError: the model is known not to call tools (before any request).
        """
        if tools:
            require_tool_calling(self.model, self.base_url)
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = _resolve_tool_choice(tool_choice, tool_required)
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def predict_and_call(
        self, tools: Sequence[BaseTool], *args: Any, **kwargs: Any
    ) -> AgentChatResponse:
        """Call the model with ``tools`` and run the tool it picks.

        The other arguments are ``FunctionCallingLLM.predict_and_call``'s (``user_msg``,
        ``chat_history``, ``verbose``, ``allow_parallel_tool_calls`` ...), passed on as given.

        Raises:
            ValueError: the model is known not to call tools (before any request), rather than
                LlamaIndex's fallback to a ReAct agent.
        """
        require_tool_calling(self.model, self.base_url)
        return super().predict_and_call(tools, *args, **kwargs)

    async def apredict_and_call(
        self, tools: Sequence[BaseTool], *args: Any, **kwargs: Any
    ) -> AgentChatResponse:
        """Async :meth:`predict_and_call`."""
        require_tool_calling(self.model, self.base_url)
        return await super().apredict_and_call(tools, *args, **kwargs)

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed."""
        if not allow_parallel_tool_calls:
            _keep_first_tool_call(response.message)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The tool calls of a response (complete, or a streamed chunk's message so far).

        Args:
            response: A ``ChatResponse`` from chat or a streamed chunk.
            error_on_no_tool_call: Raise when the response has no tool call.
            **kwargs: Unused.

        Returns:
            The calls as ``ToolSelection`` s with arguments parsed to dicts.

        Raises:
            ValueError: no tool call and ``error_on_no_tool_call`` is True.
        """
        selections = tool_calls_from_message(response.message)
        if not selections and error_on_no_tool_call:
            raise ValueError(
                f"Expected at least one tool call, but got 0 tool calls. "
                f"Model answer: {response.message.content!r}"
            )
        return selections


def _for_endpoint(endpoint: Endpoint, params: dict[str, Any]) -> dict[str, Any]:
    """Adapt chat-style params to the completions endpoint (``logprobs`` is a count there)."""
    if endpoint != COMPLETIONS:
        return params
    params = dict(params)
    wants = params.pop("logprobs", None)
    count = params.pop("top_logprobs", None)
    if wants is True:
        params["logprobs"] = count or 1
    elif isinstance(wants, int) and not isinstance(wants, bool):
        params["logprobs"] = wants
    return params


def _resolve_tool_choice(
    tool_choice: str | dict[str, Any] | None, tool_required: bool
) -> str | dict[str, Any]:
    if tool_choice is None:
        return "required" if tool_required else "auto"
    resolved: str | dict[str, Any] = wire_tool_choice(tool_choice)
    return resolved


def _keep_first_tool_call(message: ChatMessage) -> None:
    seen = False
    blocks = []
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            if seen:
                continue
            seen = True
        blocks.append(block)
    message.blocks = blocks
    calls = message.additional_kwargs.get("tool_calls")
    if calls and len(calls) > 1:
        message.additional_kwargs["tool_calls"] = calls[:1]


def _completion_to_chat(response: CompletionResponse) -> ChatResponse:
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, content=response.text),
        raw=response.raw,
        delta=response.delta,
        additional_kwargs=response.additional_kwargs,
    )


def _stream_completion_to_chat(gen: Iterator[CompletionResponse]) -> ChatResponseGen:
    for response in gen:
        yield _completion_to_chat(response)


async def _astream_completion_to_chat(
    gen: AsyncIterator[CompletionResponse],
) -> ChatResponseAsyncGen:
    async for response in gen:
        yield _completion_to_chat(response)
