"""The interface every client layer offers the generator: callbacks in,
non-blocking sends out, so the hot path needs no task per message."""

from __future__ import annotations

from typing import Protocol


class FrameSink(Protocol):
    """Receives what arrives on one connection."""

    def on_frame(self, data: bytes, is_text: bool) -> None: ...

    def on_close(self) -> None: ...


class WireConnection(Protocol):
    """One open websocket. Sends never block: they queue in the transport."""

    def send_binary(self, data: bytes) -> None: ...

    def send_text(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    @property
    def is_closed(self) -> bool: ...


class ClientLayer(Protocol):
    name: str

    async def connect(self, url: str, sink: FrameSink, timeout: float) -> WireConnection: ...
