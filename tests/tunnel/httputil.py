"""HTTP/1.1 on both sides of the local HTTP proxy, for its tests: upstream servers that name themselves and
report what reached them, and a client that writes raw requests on one connection and reads the responses
back one at a time (Content-Length, chunked, until close). All on 127.0.0.1, stdlib only."""
import asyncio
import json


async def read_head(reader):
    """The status or request line and the fields of the next head, or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise
        return None
    lines = head.decode("latin-1").split("\r\n")[:-2]
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return lines[0], fields


async def read_body(reader, fields, until_close=False):
    """A message body framed by its fields: chunked (trailers read too), Content-Length, or until EOF."""
    if "chunked" in ",".join(fields.get("transfer-encoding", [])).lower():
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return body
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    if "content-length" in fields:
        return await reader.readexactly(int(fields["content-length"][0]))
    return await reader.read() if until_close else b""


class Upstream:
    """An HTTP/1.1 server with keep-alive that answers every request with JSON naming itself and what it got
    (method, target, fields, body). Special targets: /chunked (a chunked answer in three chunks),
    /until-close (no length: the body ends when the server closes), /no-content (204), /early (413 before
    reading the body, then close), /upgrade (101, then echoes bytes), /dropped-on-reuse (closed unanswered
    unless it is the connection's first request). `requests` keeps what arrived."""

    def __init__(self, name):
        self.name = name
        self.requests = []
        self.connections = 0
        self.resets = 0
        self.dropped = 0

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader, writer):
        self.connections += 1
        try:
            served = 0
            while await self._one(reader, writer, served):
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            self.resets += 1
        finally:
            writer.close()

    async def _one(self, reader, writer, served):
        head = await read_head(reader)
        if head is None:
            return False
        line, fields = head
        method, target, version = line.split(" ")
        if target == "/dropped-on-reuse" and served > 0:
            # A kept-alive connection its server closes just as the next request arrives: nothing answered.
            self.dropped += 1
            return False
        if target == "/partial":
            writer.write(b"HTTP/1.1 200 OK\r\n")  # and then nothing: the head never ends
            await writer.drain()
            return False
        if target == "/lf-reason":
            # A reason phrase hiding a bare LF and a second response behind it.
            writer.write(b"HTTP/1.1 200 X\nContent-Length: 0\n\nHTTP/1.1 200 Y\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return False
        if target == "/early":
            writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbig!")
            await writer.drain()
            # A lingering close, as a well-behaved server makes: the unread body is read away, so the close
            # is a FIN after the answer and not an RST that could destroy it.
            writer.write_eof()
            while await reader.read(65536):
                pass
            return False
        if "100-continue" in fields.get("expect", []):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        body = await read_body(reader, fields)
        self.requests.append({"method": method, "target": target, "version": version, "fields": fields,
                              "body": body.decode("latin-1")})
        answer = json.dumps({"server": self.name, "method": method, "target": target, "fields": fields,
                             "body": body.decode("latin-1")}).encode()
        if target == "/upgrade":
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
            await writer.drain()
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            return False
        if target == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (answer[:10], answer[10:20], answer[20:]):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
            writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif target == "/until-close":
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + answer)
            await writer.drain()
            return False
        elif target == "/te-and-cl":
            # Both framings: the chunked one wins, and the length must not reach the client.
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                         b"%x\r\n%s\r\n0\r\n\r\n" % (len(answer), answer))
        elif target == "/no-content":
            writer.write(b"HTTP/1.1 204 No Content\r\nX-Server: " + self.name.encode() + b"\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5\r\n"
                         b"Connection: keep-alive, X-Hop\r\nX-Hop: drop me\r\nContent-Length: %d\r\n\r\n" % len(answer))
            if method != "HEAD":
                writer.write(answer)
        await writer.drain()
        return True


class Client:
    """One connection to the proxy: raw requests out, parsed responses in, in order."""

    async def connect(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    def send(self, data):
        self.writer.write(data if isinstance(data, bytes) else data.encode())

    async def response(self, method="GET", timeout=15):
        """(status, fields, body) of the next response; interim 1xx responses are returned too."""
        async def read():
            head = await read_head(self.reader)
            assert head is not None, "the proxy closed the connection instead of answering"
            line, fields = head
            status = int(line.split(" ")[1])
            if method == "HEAD" or status < 200 or status in (204, 304):
                return status, fields, b""
            until_close = "close" in ",".join(fields.get("connection", [])).lower()
            return status, fields, await read_body(self.reader, fields, until_close)
        return await asyncio.wait_for(read(), timeout)

    async def closed(self, timeout=15):
        """True when the proxy ended the connection (EOF or reset) with nothing more to read."""
        try:
            return await asyncio.wait_for(self.reader.read(1), timeout) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.writer.close()
