"""A loopback HTTP/1.1 server run by an asyncio loop in a daemon thread: start, stop, connections.

:class:`LoopbackServer` knows nothing of what it serves; a subclass answers each request in
:meth:`LoopbackServer._handle`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import TypeVar

from novita_core.testing._http import MAX_HEADER_BYTES, HttpRequest, read_request

__all__ = ["LoopbackServer"]

_Server = TypeVar("_Server", bound="LoopbackServer")


class LoopbackServer:
    """Serves HTTP/1.1 on a loopback address from its own thread.

    Args:
        host: Bind address; only loopback addresses are allowed.
        port: TCP port; 0 picks a free one.
    """

    def __init__(self, host: str, port: int) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the offline server only binds to loopback addresses")
        self.host = "127.0.0.1" if host == "localhost" else host
        """The bound address."""
        self._requested_port = port
        self._port: int | None = None
        self._in_flight = 0
        self._max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _handle(self, request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer ``request``; return whether the connection may serve another one."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self: _Server) -> _Server:
        """Bind the socket and start serving; returns once requests can be accepted.

        Raises:
            RuntimeError: If the server is already running.
            OSError: If the port cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("server already started")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=loop.run_forever, name="offline-novita-server", daemon=True
        )
        thread.start()
        listening = asyncio.start_server(
            self._serve_connection, self.host, self._requested_port, backlog=4096,
            limit=MAX_HEADER_BYTES,
        )  # fmt: skip
        try:
            self._server = asyncio.run_coroutine_threadsafe(listening, loop).result()
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        self._port = self._server.sockets[0].getsockname()[1]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving, abort open connections and join the server thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError, TimeoutError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        self._loop = None
        self._thread = None
        self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` with no path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def max_in_flight(self) -> int:
        """Highest number of requests handled at once since the last reset."""
        return self._max_in_flight

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        return self._in_flight

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await read_request(reader, writer)
                if request is None:
                    return
                self._in_flight += 1
                self._max_in_flight = max(self._max_in_flight, self._in_flight)
                try:
                    keep_alive = await self._handle(request, writer)
                finally:
                    self._in_flight -= 1
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Shutdown cancels idle keep-alive connections; finishing normally keeps asyncio's
            # stream callback from logging the cancellation as an error.
            return
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.close()
