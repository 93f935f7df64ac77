"""The Kubernetes "channel" WebSocket framing shared by exec and port-forward.

Every message starts with a channel number: one byte in the binary protocols
(`v4.channel.k8s.io`, `v5.channel.k8s.io`, ...), an ASCII digit followed by base64 text in the
`*.base64.channel.k8s.io` ones.
"""

import base64

from aiohttp import WSMsgType, web


class ChannelSocket:
    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.base64 = "base64" in (ws.ws_protocol or "")

    async def send(self, channel: int, data: bytes) -> None:
        if self.base64:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes([channel]) + data)

    async def messages(self):
        """Yields (channel, payload) for each data message until the socket closes."""
        async for msg in self.ws:
            if msg.type == WSMsgType.BINARY:
                if msg.data:
                    yield msg.data[0], msg.data[1:]
            elif msg.type == WSMsgType.TEXT:
                if msg.data:
                    if self.base64:
                        yield ord(msg.data[0]) - ord("0"), base64.b64decode(msg.data[1:])
                    else:
                        yield ord(msg.data[0]), msg.data[1:].encode()
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break


def offered_protocols(request: web.Request) -> list[str]:
    raw = request.headers.getall("Sec-WebSocket-Protocol", [])
    return [p.strip() for value in raw for p in value.split(",") if p.strip()]


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"
