"""The fake PayPal as a process of its own, for the app's browser tests
(``frontend/e2e``): ``python -m tests.fake_paypal_server --ca-file F``.

It writes PayPal's root certificate to F (for ``GROVER_PAYPAL_CA_FILE``),
prints one JSON line with its port and credentials, and serves until
SIGTERM. Approval links lead to its own page (``/checkoutnow``), which a
browser can approve on; ``GET /_fake/violations`` lists every protocol
fault the client made (the tests assert it is empty).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import orjson
from aiohttp import web

from tests.fake_paypal import FakePayPal


async def serve(paypal: FakePayPal) -> None:
    async def violations(_: web.Request) -> web.Response:
        return web.json_response(paypal.violations)

    await paypal.start(extra_routes=[web.get("/_fake/violations", violations)])
    line = {
        "port": paypal.port,
        "client_id": paypal.client_id,
        "client_secret": paypal.client_secret,
        "webhook_id": paypal.webhook_id,
    }
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await paypal.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca-file", type=Path, required=True)
    paypal = FakePayPal(approval_pages=True)
    parser.parse_args().ca_file.write_bytes(paypal.root_pem)
    asyncio.run(serve(paypal))


if __name__ == "__main__":
    main()
