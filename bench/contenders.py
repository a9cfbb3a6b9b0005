"""The contenders: one small adapter class per client library, all with the same surface.

Each class is imported and built only inside its own worker process (see ``bench/worker.py``),
so a contender never pays for another's imports, heap or garbage collector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODEL = "meta-llama/llama-3.1-8b-instruct"
RERANK_MODEL = "baai/bge-reranker-v2-m3"
RERANK_TOP_N = 10


class Contender:
    """Common surface; subclasses implement what their library offers."""

    name = "base"
    supports_batch = True

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key

    # --- sync -----------------------------------------------------------------------------
    def invoke(self, prompt: str) -> str:
        raise NotImplementedError

    def stream(self, prompt: str) -> int:
        """Consume one streamed reply; return the number of items yielded."""
        raise NotImplementedError

    def batch(self, prompts: list[str], max_concurrency: int) -> int:
        raise NotImplementedError

    # --- async ----------------------------------------------------------------------------
    async def ainvoke(self, prompt: str) -> str:
        raise NotImplementedError

    async def astream(self, prompt: str) -> int:
        """Consume one streamed reply asynchronously; return the number of items yielded."""
        raise NotImplementedError

    def astream_iter(self, prompt: str) -> AsyncIterator[Any]:
        """An async iterator over the chunks (used by the RSS probe, not by timed metrics)."""
        raise NotImplementedError

    def rerank(self, query: str, documents: list[str]) -> int:
        """Rerank ``documents`` (keeping ``RERANK_TOP_N``); return the number of results."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release async resources on the current loop (best effort)."""


# ---------------------------------------------------------------------------------------------
# Raw openai SDK


class RawOpenAI(Contender):
    """``client.chat.completions.create`` with the SDK's default transport, no retries."""

    name = "openai"

    def __init__(self, base_url: str, api_key: str, *, aiohttp: bool = False) -> None:
        super().__init__(base_url, api_key)
        import openai

        self._sync = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        http_client: Any = None
        if aiohttp:
            http_client = openai.DefaultAioHttpClient()
        self._async = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=0, http_client=http_client
        )

    @staticmethod
    def _messages(prompt: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": prompt}]

    def invoke(self, prompt: str) -> str:
        resp = self._sync.chat.completions.create(model=MODEL, messages=self._messages(prompt))
        return resp.choices[0].message.content or ""

    def stream(self, prompt: str) -> int:
        n = 0
        for _ in self._sync.chat.completions.create(
            model=MODEL, messages=self._messages(prompt), stream=True
        ):
            n += 1
        return n

    def batch(self, prompts: list[str], max_concurrency: int) -> int:
        # What a user writes without a framework (and what LangChain's batch does underneath).
        with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
            return len(list(pool.map(self.invoke, prompts)))

    async def ainvoke(self, prompt: str) -> str:
        resp = await self._async.chat.completions.create(
            model=MODEL, messages=self._messages(prompt)
        )
        return resp.choices[0].message.content or ""

    async def astream(self, prompt: str) -> int:
        n = 0
        stream = await self._async.chat.completions.create(
            model=MODEL, messages=self._messages(prompt), stream=True
        )
        async for _ in stream:
            n += 1
        return n

    async def astream_iter(self, prompt: str) -> AsyncIterator[Any]:  # type: ignore[override]
        stream = await self._async.chat.completions.create(
            model=MODEL, messages=self._messages(prompt), stream=True
        )
        async for chunk in stream:
            yield chunk

    def rerank(self, query: str, documents: list[str]) -> int:
        # The SDK has no rerank resource: its documented low-level post, JSON parsed to a dict.
        body = {"model": RERANK_MODEL, "query": query, "documents": documents}
        answer = self._sync.post(
            "/rerank", cast_to=dict[str, Any], body={**body, "top_n": RERANK_TOP_N}
        )
        return len(answer["results"])

    async def aclose(self) -> None:
        await self._async.close()


class RawOpenAIAiohttp(RawOpenAI):
    """The raw SDK with its optional aiohttp transport (informational, async metrics only)."""

    name = "openai+aiohttp"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key, aiohttp=True)


class RerankNodes:
    """The rerank documents as LlamaIndex nodes, built once per document list (outside timing)."""

    _nodes: tuple[list[str], list[Any]] | None = None

    def nodes_of(self, documents: list[str]) -> list[Any]:
        if self._nodes is None or self._nodes[0] is not documents:
            from llama_index.core.schema import NodeWithScore, TextNode

            self._nodes = (documents, [NodeWithScore(node=TextNode(text=d)) for d in documents])
        return self._nodes[1]


class RawOpenAINodeTexts(RerankNodes, RawOpenAI):
    """The raw SDK's rerank post, given the texts a LlamaIndex postprocessor must read.

    Informational, beside the ``NovitaAI`` rerank row: a node postprocessor reads each node's
    ``get_content(MetadataMode.EMBED)`` on every call, which a bare ``client.post`` of ready
    strings does not; this row pays that too, and nothing else.
    """

    name = "openai+nodes"

    def rerank(self, query: str, documents: list[str]) -> int:
        from llama_index.core.schema import MetadataMode

        nodes = self.nodes_of(documents)
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        return super().rerank(query, texts)


# ---------------------------------------------------------------------------------------------
# LangChain


class _LangChain(Contender):
    """Shared code for LangChain ``BaseChatModel`` contenders."""

    llm: Any

    def invoke(self, prompt: str) -> str:
        return str(self.llm.invoke(prompt).content)

    def stream(self, prompt: str) -> int:
        n = 0
        for _ in self.llm.stream(prompt):
            n += 1
        return n

    def batch(self, prompts: list[str], max_concurrency: int) -> int:
        return len(self.llm.batch(prompts, config={"max_concurrency": max_concurrency}))

    async def ainvoke(self, prompt: str) -> str:
        return str((await self.llm.ainvoke(prompt)).content)

    async def astream(self, prompt: str) -> int:
        n = 0
        async for _ in self.llm.astream(prompt):
            n += 1
        return n

    def astream_iter(self, prompt: str) -> AsyncIterator[Any]:
        return self.llm.astream(prompt)  # type: ignore[no-any-return]


class LangChainOpenAI(_LangChain):
    """``langchain_openai.ChatOpenAI(base_url=...)`` (the LangChain anchor)."""

    name = "ChatOpenAI"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        from langchain_openai import ChatOpenAI

        self.llm = ChatOpenAI(base_url=base_url, api_key=api_key, model=MODEL)  # type: ignore[arg-type]


class LangChainNovita(_LangChain):
    """Our ``langchain_novita.ChatNovita``."""

    name = "ChatNovita"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        from langchain_novita import ChatNovita

        self.llm = ChatNovita(base_url=base_url, api_key=api_key, model=MODEL)  # type: ignore[arg-type]
        self._reranker: Any = None

    def rerank(self, query: str, documents: list[str]) -> int:
        """``langchain_novita.NovitaRerank.rerank`` (reported on the ChatNovita row)."""
        if self._reranker is None:
            from langchain_novita import NovitaRerank

            self._reranker = NovitaRerank(
                base_url=self.base_url, api_key=self.api_key, top_n=RERANK_TOP_N
            )
        return len(self._reranker.rerank(documents, query))


# ---------------------------------------------------------------------------------------------
# LlamaIndex


class _LlamaIndex(Contender):
    """Shared code for LlamaIndex LLM contenders (chat endpoints)."""

    llm: Any
    supports_batch = False
    _message: Callable[..., Any]

    def _setup_messages(self) -> None:
        from llama_index.core.llms import ChatMessage

        self._message = ChatMessage

    def _messages(self, prompt: str) -> list[Any]:
        return [self._message(role="user", content=prompt)]

    def invoke(self, prompt: str) -> str:
        return str(self.llm.chat(self._messages(prompt)).message.content)

    def stream(self, prompt: str) -> int:
        n = 0
        for _ in self.llm.stream_chat(self._messages(prompt)):
            n += 1
        return n

    async def ainvoke(self, prompt: str) -> str:
        return str((await self.llm.achat(self._messages(prompt))).message.content)

    async def astream(self, prompt: str) -> int:
        n = 0
        async for _ in await self.llm.astream_chat(self._messages(prompt)):
            n += 1
        return n

    async def astream_iter(self, prompt: str) -> AsyncIterator[Any]:  # type: ignore[override]
        async for chunk in await self.llm.astream_chat(self._messages(prompt)):
            yield chunk


class LlamaIndexOpenAILike(_LlamaIndex):
    """``llama_index.llms.openai_like.OpenAILike(api_base=...)`` (the LlamaIndex anchor)."""

    name = "OpenAILike"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        from llama_index.llms.openai_like import OpenAILike

        self._setup_messages()
        self.llm = OpenAILike(api_base=base_url, api_key=api_key, model=MODEL, is_chat_model=True)


class LlamaIndexNovita(RerankNodes, _LlamaIndex):
    """Our ``llama_index_novita.NovitaAI``."""

    name = "NovitaAI"

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url, api_key)
        from llama_index_novita import NovitaAI

        self._setup_messages()
        self.llm = NovitaAI(api_base=base_url, api_key=api_key, model=MODEL)
        self._reranker: Any = None

    def rerank(self, query: str, documents: list[str]) -> int:
        """``llama_index_novita.NovitaRerank.postprocess_nodes`` (on the NovitaAI row)."""
        if self._reranker is None:
            from llama_index_novita import NovitaRerank

            self._reranker = NovitaRerank(
                api_base=self.base_url, api_key=self.api_key, top_n=RERANK_TOP_N
            )
        nodes = self.nodes_of(documents)
        return len(self._reranker.postprocess_nodes(nodes, query_str=query))


CONTENDERS: dict[str, type[Contender]] = {
    c.name: c
    for c in (
        RawOpenAI,
        RawOpenAIAiohttp,
        RawOpenAINodeTexts,
        LangChainOpenAI,
        LangChainNovita,
        LlamaIndexOpenAILike,
        LlamaIndexNovita,
    )
}
