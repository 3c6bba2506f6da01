"""Websocket client layers for the generator, swappable with ``--client``.

picows is the default: a websockets-based generator saturates its own core
before the server's (see docs/notes on benchmarking), so it would measure
itself rather than the server.
"""

from __future__ import annotations

from bench.clients.base import ClientLayer, FrameSink, WireConnection
from bench.clients.picows_client import PicowsClient
from bench.clients.websockets_client import WebsocketsClient

CLIENTS: dict[str, type[PicowsClient] | type[WebsocketsClient]] = {
    "picows": PicowsClient,
    "websockets": WebsocketsClient,
}
CLIENT_NAMES = tuple(CLIENTS)


def get_client(name: str) -> ClientLayer:
    try:
        return CLIENTS[name]()
    except KeyError:
        raise ValueError(f"unknown client layer {name!r} ({', '.join(CLIENTS)})") from None


__all__ = ["CLIENT_NAMES", "ClientLayer", "FrameSink", "WireConnection", "get_client"]
