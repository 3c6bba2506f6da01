"""Command line shared by the baseline servers."""

from __future__ import annotations

import argparse
import asyncio
import signal


def parse_args(
    description: str, extra: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    parser = extra or argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    return parser.parse_args()


def stop_on_signals() -> asyncio.Future[None]:
    """A future that completes on SIGTERM or SIGINT, so the runner can stop the
    server by pid and it still closes its listening socket cleanly."""
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    return stopped
