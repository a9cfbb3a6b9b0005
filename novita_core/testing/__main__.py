"""Run the offline Novita server from the command line.

Example:
    ``python -m novita_core.testing --port 8765 --api-key test-key``
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from novita_core.testing.server import DEFAULT_API_KEY, OfflineNovitaServer


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when None).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(
        prog="python -m novita_core.testing",
        description="Offline Novita-compatible HTTP server (127.0.0.1 only).",
    )
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="bearer key to accept")
    parser.add_argument(
        "--extra-model", action="append", default=[], help="accept another chat model id"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between streamed chunks"
    )
    args = parser.parse_args(argv)
    server = OfflineNovitaServer(
        api_key=args.api_key,
        port=args.port,
        host=args.host,
        extra_models=args.extra_model,
        latency=args.latency,
        chunk_delay=args.chunk_delay,
    )
    try:
        server.start()
    except (OSError, ValueError) as exc:
        print(f"cannot start server: {exc}", file=sys.stderr)
        return 1
    print(server.base_url, flush=True)
    print(f"api key: {server.api_key}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    stopped = threading.Event()
    # SIGTERM (docker stop, process managers) should shut down as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
