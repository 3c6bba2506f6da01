"""Client layer on picows: frames arrive in a callback straight from the
protocol, which is what lets one generator core outrun a Python server."""

from __future__ import annotations

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.clients.base import FrameSink, WireConnection


class _Listener(WSListener):
    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self._sink = sink

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.BINARY or kind is WSMsgType.TEXT:
            if not frame.fin:
                # None of the targets fragments small frames; treat it as a fault.
                transport.send_close(WSCloseCode.UNSUPPORTED_DATA)
                transport.disconnect()
                return
            self._sink.on_frame(frame.get_payload_as_bytes(), kind is WSMsgType.TEXT)
        elif kind is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._sink.on_close()


class _Connection:
    __slots__ = ("_transport",)

    def __init__(self, transport: WSTransport) -> None:
        self._transport = transport

    def send_binary(self, data: bytes) -> None:
        self._transport.send(WSMsgType.BINARY, data)

    def send_text(self, data: bytes) -> None:
        self._transport.send(WSMsgType.TEXT, data)

    def close(self) -> None:
        if not self._transport.is_disconnected:
            self._transport.send_close(WSCloseCode.OK)
            self._transport.disconnect()

    @property
    def is_closed(self) -> bool:
        return self._transport.is_disconnected


class PicowsClient:
    name = "picows"

    async def connect(self, url: str, sink: FrameSink, timeout: float) -> WireConnection:
        transport, _listener = await ws_connect(
            lambda: _Listener(sink),
            url,
            websocket_handshake_timeout=timeout,
            max_frame_size=1 << 20,
            # The default 16 KiB per connection adds up at 10k connections.
            read_buffer_init_size=2048,
        )
        return _Connection(transport)
