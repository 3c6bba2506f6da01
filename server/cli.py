"""``grover`` command line: ``grover serve [--flag value ...]`` runs a node;
``grover admin grant|revoke USERNAME [--flag value ...]`` sets an account's
role in the store that the same flags and ``GROVER_*`` variables select
(embedded SQLite under ``--data-dir`` by default, MongoDB with
``GROVER_MONGO_URL``); ``grover db check|stats`` prints the store's query
plans, or its sizes and index use (:mod:`server.dbcheck`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

import uvloop

from actors.moderation import ADMIN, USER
from server import config, dbcheck
from server.app import Grover
from server.config import Settings
from server.observability import gcwatch, logs
from server.storage import SQLITE_FILE_NAME, make_store


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grover", description="Grover realtime backend")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a Grover node")
    config.add_arguments(serve)
    admin = commands.add_parser(
        "admin", help="grant or revoke the admin role (moderation) of an account"
    )
    admin.add_argument("action", choices=("grant", "revoke"))
    admin.add_argument("username", help="the account's username (any case)")
    config.add_arguments(admin)
    dbcheck.add_commands(commands)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        settings = config.load(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "db":
        return dbcheck.run(settings, args)
    if args.command == "admin":
        return asyncio.run(set_role(settings, args.username, grant=args.action == "grant"))
    logs.configure(settings.log_level)
    gcwatch.install()
    uvloop.run(serve_forever(settings))
    return 0


async def set_role(settings: Settings, username: str, *, grant: bool) -> int:
    """Write the role to the configured store; 0, or 1 when there is no such
    user. A running node sees it at the account's next admin request: admin
    requests read the role from the store, not from a cache."""
    store = make_store(
        data_dir=settings.data_dir, mongo_url=settings.mongo_url, mongo_db=settings.mongo_db
    )
    await store.open()
    try:
        user = await store.moderation.set_role(username.lower(), ADMIN if grant else USER)
    finally:
        await store.close()
    if user is None:
        print(f"grover: no user named {username.lower()!r}", file=sys.stderr)
        return 1
    print(f"{user.username} is {'now an admin' if grant else 'no longer an admin'}.")
    return 0


async def serve_forever(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then drain and shut down gracefully."""
    grover = Grover(settings)
    await grover.start()
    # Handlers first: whoever reads the banner below may signal at once.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = (
        f"MongoDB {settings.mongo_db}"
        if settings.mongo_url
        else str(settings.data_dir / SQLITE_FILE_NAME)
    )
    websocket = settings.public_url or f"ws://{_display_host(settings.host)}:{grover.gateway.port}"
    live = "development tokens" if grover.services.live_tokens.name != "agora" else "Agora"
    metrics = ", /metrics" if settings.metrics else ""
    payments = (
        f"PayPal ({settings.paypal_mode})"
        if grover.services.payments.configured
        else "off (set PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET, PAYPAL_WEBHOOK_ID)"
    )
    sidecar = f"http://{_display_host(settings.host)}:{grover.sidecar_port}"
    app = (
        f"{sidecar}/ (open it in a browser)"
        if settings.app_dir
        else "not served (make run builds and serves it)"
    )
    print(
        f"Grover is running (node {settings.node}).\n"
        f"  app:       {app}\n"
        f"  websocket: {websocket}\n"
        f"  sidecar:   {sidecar}"
        f" (/healthz, /readyz, /stats{metrics}, uploads at /v1/media,"
        " PayPal at /v1/webhooks/paypal)\n"
        f"  store:     {store}\n"
        f"  media:     {grover.media_storage.name}; live video: {live}\n"
        f"  payments:  {payments}\n"
        f"Press Ctrl-C to stop ({settings.drain_seconds:g} s not ready first; again to skip).",
        flush=True,
    )
    await stop.wait()
    # Not ready first, so load balancers route elsewhere; then stop. A second
    # signal cuts the drain short.
    stop.clear()
    await grover.drain(interrupt=stop)
    gcwatch.uninstall()
    await grover.stop()


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


if __name__ == "__main__":
    sys.exit(main())
