"""Novita chat models for LangChain: :class:`ChatNovita`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput, ModelProfile
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.base import OutputParserLike
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.outputs import (
    ChatGeneration,
    ChatGenerationChunk,
    ChatResult,
    Generation,
    LLMResult,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from langchain_novita._batch import NovitaBatchAPI
from langchain_novita._common import (
    JsonDict,
    NovitaGeneration,
    retry_callback,
    split_call_kwargs,
)
from langchain_novita._messages import (
    choice_to_message,
    delta_to_chunk,
    messages_to_dicts,
)
from novita_core.catalog import (
    DEFAULT_CHAT_MODEL,
    lookup,
    require_tool_calling,
    response_cost,
    supports_structured_output,
)
from novita_core.params import (
    CHAT,
    Endpoint,
    Request,
    json_schema_format,
    validate_params,
    wire_tool_choice,
)
from novita_core.streaming import StreamAssembler, StreamDelta

ToolLike = JsonDict | type | Callable[..., Any] | BaseTool


class ChatNovita(NovitaBatchAPI, NovitaGeneration, BaseChatModel):
    """Novita AI chat models (OpenAI-compatible chat completions) for LangChain.

    Setup:
        Install the package with the LangChain extra and set your key:

        ```bash
        pip install "novita-integrations[langchain]"
        export NOVITA_API_KEY="your-api-key"
        ```

    Key init args — completion params:
        model (alias ``model_name``): Novita model id. Defaults to
            ``novita_core.catalog.DEFAULT_CHAT_MODEL`` (``deepseek/deepseek-v4-flash``:
            inexpensive, current, tool- and structured-output-capable).
        temperature, top_p, max_tokens (alias ``max_completion_tokens``), stop (alias
        ``stop_sequences``), n, seed, presence_penalty, frequency_penalty, logit_bias,
        logprobs, top_logprobs, reasoning_effort: OpenAI parameters, validated against
            Novita's ranges (and the model's reasoning levels) at construction.
        repetition_penalty, top_k, min_p, separate_reasoning, enable_thinking, thinking:
            Novita-only parameters; sent at the top level of the JSON body.
        streaming: Stream by default when invoked.
        stream_usage: Ask for token usage on streams (default True).
        model_kwargs: Other chat request parameters of Novita's table (``user`` ...).
        extra_body: Server fields this package does not know yet, sent as given.

    Key init args — client params:
        api_key (alias ``novita_api_key``): Defaults to ``$NOVITA_API_KEY``.
        base_url (alias ``novita_api_base``): Defaults to ``$NOVITA_BASE_URL``,
            ``$NOVITA_API_BASE``, then Novita's public endpoint.
        timeout (alias ``request_timeout``): Seconds per HTTP attempt, a ``(connect, read)``
            pair, or an ``httpx.Timeout``/``httpx2.Timeout`` (the installed openai's).
        max_retries: Retries on 408/409/429/5xx and connection errors.
        default_headers: Extra headers on every request.

    Unknown constructor or per-call parameters raise ``ValueError`` before any request is
    sent, as do values out of Novita's documented ranges, ``True``/``False`` for a number, a
    ``base_url`` that is not ``http(s)://host``, ``n > 1`` on a stream and a named
    ``tool_choice`` that is not a bound tool. A stream is one message: its chunks share the
    response id and the last one (``chunk_position="last"``) carries the usage.

    Instantiate:
        ```python
        from langchain_novita import ChatNovita

        llm = ChatNovita(model="deepseek/deepseek-v4-flash", temperature=0.2)
        ```

    Invoke:
        ```python
        llm.invoke([("system", "Translate to French."), ("human", "I love programming.")])
        ```

    Stream:
        ```python
        for chunk in llm.stream("Write a haiku about the sea"):
            print(chunk.text, end="")
        ```

    Async:
        ```python
        await llm.ainvoke("Hello")
        async for chunk in llm.astream("Hello"):
            ...
        ```

    Tool calling:
        ```python
        from pydantic import BaseModel, Field

        class GetWeather(BaseModel):
            '''Get the current weather in a given location.'''

            location: str = Field(..., description="City, e.g. Paris")

        llm_with_tools = llm.bind_tools([GetWeather], tool_choice="auto")
        llm_with_tools.invoke("What is the weather in Paris?").tool_calls
        ```

    Structured output:
        ```python
        class Joke(BaseModel):
            setup: str
            punchline: str

        llm.with_structured_output(Joke).invoke("Tell me a joke about cats")
        llm.with_structured_output(Joke, method="json_schema", include_raw=True)
        ```

    Reasoning models:
        ```python
        r1 = ChatNovita(model="deepseek/deepseek-r1-turbo")
        r1.invoke("Why is the sky blue?").additional_kwargs["reasoning_content"]
        # hybrid models: switch thinking off, or tune it where the model has levels
        ChatNovita(thinking={"type": "disabled"}).invoke("Hi")
        ChatNovita(reasoning_effort="low").invoke("Hi")
        ```

    Usage and cost:
        ```python
        message = llm.invoke("Hello")
        message.usage_metadata  # input/output/total tokens, cache reads
        message.response_metadata["cost_usd"]  # from Novita's prices, when known
        ```

    Batch API:
        ```python
        batch_llm = ChatNovita(model="meta-llama/llama-3.3-70b-instruct", use_batch_api=True)
        batch_llm.batch(["Hi", "Bye"])  # one Batch API job; answers in input order
        # The verbs work with or without use_batch_api: submit now, collect later.
        batch_id = llm.batch_api_submit(["Hi", "Bye"])
        llm.batch_api_retrieve(batch_id)  # list[AIMessage]
        ```

    Example:
        ```python
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        chain = ChatPromptTemplate.from_template("Say hi to {name}") | llm | StrOutputParser()
        chain.invoke({"name": "Ada"})
        ```
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "chat"
    _endpoint: ClassVar[Endpoint] = CHAT

    model: str = Field(
        default=DEFAULT_CHAT_MODEL, validation_alias=AliasChoices("model", "model_name")
    )
    """Novita model id, e.g. ``meta-llama/llama-3.3-70b-instruct``."""
    logprobs: bool | None = None
    """Return the log-probabilities of the generated tokens."""
    top_logprobs: int | None = None
    """Most likely alternatives per token (0-20; needs ``logprobs=True``)."""
    separate_reasoning: bool | None = None
    """Ask reasoning models to put their reasoning in ``reasoning_content``."""
    enable_thinking: bool | None = None
    """Switch thinking on or off on hybrid models that take ``enable_thinking``."""
    thinking: JsonDict | None = None
    """``{"type": "enabled" | "disabled"}``: the reasoning switch of newer hybrid models."""
    reasoning_effort: str | None = None
    """Reasoning depth, e.g. ``"low"`` or ``"high"``; the allowed values are the model's."""

    # -- LangChain plumbing --------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "chat-novita"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_novita", "chat_models"]``."""
        return ["langchain_novita", "chat_models"]

    def _resolve_model_profile(self) -> ModelProfile | None:
        info = lookup(self.model, self.base_url)
        if info is None or info.kind != "chat":
            return None
        profile = ModelProfile(
            max_input_tokens=info.context_window,
            text_inputs="text" in info.input_modalities,
            text_outputs="text" in info.output_modalities,
            image_inputs=info.image_inputs,
            image_url_inputs=info.image_inputs,
            audio_inputs="audio" in info.input_modalities,
            video_inputs="video" in info.input_modalities,
            tool_calling=info.tool_calling,
            tool_choice=info.tool_calling,
            tool_call_streaming=info.tool_calling,
            structured_output=info.structured_output,
            reasoning_output=info.reasoning,
        )
        if info.max_output_tokens is not None:
            profile["max_output_tokens"] = info.max_output_tokens
        if info.reasoning_efforts:
            profile["reasoning_effort_levels"] = list(info.reasoning_efforts)
        if info.name:
            profile["name"] = info.name
        if info.release_date:
            profile["release_date"] = info.release_date
        return profile

    # -- requests ------------------------------------------------------------------------------

    def bind(self, **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:  # type: ignore[override]
        """Bind per-call kwargs, validating request parameters now rather than at call time.

        Raises:
            ValueError: an unknown parameter or a value out of Novita's range.
        """
        fields, _ = split_call_kwargs(kwargs)
        checked = {k: v for k, v in fields.items() if k != "stop" or v}
        validate_params(CHAT, {"model": self.model, **checked})
        return super().bind(**kwargs)

    def _build_request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        *,
        stream: bool,
        **kwargs: Any,
    ) -> Request:
        """Fields + ``model_kwargs`` + per-call kwargs -> a validated core request."""
        return self._request(stop, stream, kwargs, messages=messages_to_dicts(messages))

    def _create_chat_result(self, response: Mapping[str, Any], model: str) -> ChatResult:
        generations = []
        cost = response_cost(model, response.get("usage"), self.base_url)
        for choice in response.get("choices") or ():
            info: JsonDict = {"finish_reason": choice.get("finish_reason")}
            if choice.get("logprobs") is not None:
                info["logprobs"] = choice["logprobs"]
            message = choice_to_message(response, choice)
            if cost is not None:
                message.response_metadata["cost_usd"] = cost
            generations.append(ChatGeneration(message=message, generation_info=info))
        llm_output = {
            "token_usage": response.get("usage"),
            "model_name": response.get("model"),
            "system_fingerprint": response.get("system_fingerprint"),
            "id": response.get("id"),
        }
        return ChatResult(generations=generations, llm_output=llm_output)

    def _batch_api_result(self, response: JsonDict) -> LLMResult:
        result = self._create_chat_result(response, str(response.get("model") or self.model))
        generations: list[Generation] = [*result.generations]
        return LLMResult(generations=[generations], llm_output=result.llm_output)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._build_request(messages, stop, stream=False, **kwargs)
        answer = self._client.create(request, on_retry=retry_callback(run_manager))
        return self._create_chat_result(answer, request.body["model"])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._build_request(messages, stop, stream=False, **kwargs)
        answer = await self._client.acreate(request, on_retry=retry_callback(run_manager))
        return self._create_chat_result(answer, request.body["model"])

    def _chunk(
        self, delta: StreamDelta, asm: StreamAssembler, model: str
    ) -> ChatGenerationChunk | None:
        """A generation chunk for choice 0 (LangChain streams one message), else None."""
        if delta.choice != 0:
            return None
        return self._choice_chunk(delta, asm, model)

    def _choice_chunk(
        self, delta: StreamDelta, asm: StreamAssembler, model: str
    ) -> ChatGenerationChunk:
        """``delta`` of choice 0 as a generation chunk (with its cost when it has the usage)."""
        finished = asm.choices[0] if delta.finish_reason else None
        message = delta_to_chunk(
            delta,
            response_id=asm.id,
            model_name=asm.model,
            system_fingerprint=asm.system_fingerprint,
            reasoning_details=finished.reasoning_detail_list() if finished else None,
            tool_index_offset=self._tool_index_offset(asm) if delta.tool_calls else 0,
        )
        if delta.usage:
            cost = response_cost(model, delta.usage, self.base_url)
            if cost is not None:
                message.response_metadata["cost_usd"] = cost
        info = {"finish_reason": delta.finish_reason} if delta.finish_reason else None
        return ChatGenerationChunk(message=message, generation_info=info)

    def _last_chunk(self, asm: StreamAssembler, model: str) -> ChatGenerationChunk:
        """The chunk that closes a stream: the usage, ``chunk_position="last"``, the same id.

        LangChain appends a closing chunk of its own (with its run id, so a second message for
        LangGraph) to a stream that has none; the usage waits for this one so that
        ``chunks[-1].usage_metadata`` holds it.
        """
        chunk = self._choice_chunk(StreamDelta(usage=asm.usage), asm, model)
        chunk.message.chunk_position = "last"  # type: ignore[attr-defined]
        return chunk

    def _tool_index_offset(self, asm: StreamAssembler) -> int:
        """Where tool-call chunks start among a v1 stream's content blocks.

        With ``output_version="v1"`` LangChain merges a stream's content blocks by ``index`` and
        numbers the blocks that have none (reasoning, text) by runs of one type, from 0. Tool-call
        chunks carry the wire's index, also from 0, so after reasoning or text they would merge
        into those blocks; they are moved past them instead.
        """
        if self.output_version != "v1":
            return 0
        state = asm.choices[0]
        return int(bool(state.reasoning)) + int(bool(state.content))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._build_request(messages, stop, stream=True, **kwargs)
        asm = StreamAssembler()
        model = request.body["model"]
        for delta in self._client.stream(request, asm, retry_callback(run_manager)):
            chunk = None if delta.usage else self._chunk(delta, asm, model)
            if chunk is None:
                continue
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        last = self._last_chunk(asm, model)
        if run_manager:
            run_manager.on_llm_new_token("", chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._build_request(messages, stop, stream=True, **kwargs)
        asm = StreamAssembler()
        model = request.body["model"]
        async for delta in self._client.astream(request, asm, retry_callback(run_manager)):
            chunk = None if delta.usage else self._chunk(delta, asm, model)
            if chunk is None:
                continue
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
        last = self._last_chunk(asm, model)
        if run_manager:
            await run_manager.on_llm_new_token("", chunk=last)
        yield last

    # -- tools and structured output -----------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: str | bool | JsonDict | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (pydantic models, functions, ``BaseTool`` s or OpenAI tool dicts).

        Args:
            tools: The tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"``/``"any"``/``True``, a tool
                name, or an OpenAI ``{"type": "function", ...}`` dict.
            strict: Ask the server to follow each tool's schema exactly.
            parallel_tool_calls: Allow (or forbid) several calls in one answer.
            **kwargs: Other per-call parameters to bind.

        Returns:
            A runnable that sends the tools with every call.

        Example:
            ```python
            llm.bind_tools([GetWeather], tool_choice="GetWeather").invoke("Paris?")
            ```

        Raises:
            ValueError: the model is known not to call tools (before any request).
        """
        require_tool_calling(self.model, self.base_url)
        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        if tool_choice is not None:  # bind() checks it against the tools, as for every request
            kwargs["tool_choice"] = wire_tool_choice(tool_choice)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: JsonDict | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, JsonDict | BaseModel]:
        """A runnable whose output follows ``schema``.

        Args:
            schema: A pydantic class, TypedDict, JSON schema or OpenAI tool dict. Optional only
                for ``json_mode``.
            method: ``"json_schema"`` (``response_format`` json_schema), ``"function_calling"``
                (a forced tool call) or ``"json_mode"`` (``response_format`` json_object;
                describe the format in the prompt). The default is ``"json_schema"`` for models
                the catalog lists with structured outputs, ``"function_calling"`` otherwise.
            include_raw: Return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``
                instead of raising on a parsing error.
            strict: Ask the server to follow the schema exactly.
            **kwargs: Not supported; present for interface compatibility.

        Returns:
            A runnable producing a pydantic object (for a pydantic schema) or a dict.

        Raises:
            ValueError: an unknown method, a missing schema, or unexpected kwargs.

        Example:
            ```python
            llm.with_structured_output(Joke, method="json_schema").invoke("A cat joke")
            ```
        """
        if kwargs:
            raise ValueError(f"Unexpected with_structured_output arguments: {sorted(kwargs)}")
        if method is None:
            method = (
                "json_schema"
                if supports_structured_output(self.model, self.base_url)
                else "function_calling"
            )
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        llm: Runnable[LanguageModelInput, Any]
        parser: OutputParserLike[Any]
        if method == "function_calling":
            if schema is None:
                raise ValueError("schema is required for method='function_calling'")
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice=tool_name,
                strict=strict,
                ls_structured_output_format=ls_format,
            )
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=tool_name, first_tool_only=True)
            )
        elif method in ("json_mode", "json_schema"):
            if method == "json_mode":
                response_format: JsonDict = {"type": "json_object"}
                ls_format = {"kwargs": {"method": method}, "schema": schema}
            else:
                if schema is None:
                    raise ValueError("schema is required for method='json_schema'")
                response_format = _json_schema_format(schema, strict)
            bind_kwargs: JsonDict = {"response_format": response_format}
            if schema is not None:
                bind_kwargs["ls_structured_output_format"] = ls_format
            llm = self.bind(**bind_kwargs)
            parser = (
                PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
                if is_pydantic
                else JsonOutputParser()
            )
        else:
            raise ValueError(
                f"Unknown method {method!r}: use 'function_calling', 'json_mode' or 'json_schema'"
            )
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )


def _json_schema_format(schema: JsonDict | type, strict: bool | None) -> JsonDict:
    """``response_format`` for ``method="json_schema"``."""
    return json_schema_format(convert_to_json_schema(schema), strict=strict)
