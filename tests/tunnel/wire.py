"""A minimal client of the tunnel protocol (protocol/TUNNEL.md, version 2) for tests that need to speak to
the agent directly: the handshake with its HMAC proofs, and raw frames. Stdlib only."""
import hashlib
import hmac
import os
import socket
import struct

VERSION = 2
HELLO, WELCOME, DNS_QUERY, DNS_REPLY, GOAWAY, AUTH, PING, PONG = 0x01, 0x02, 0x0B, 0x0C, 0x10, 0x11, 0x09, 0x0A


def str16(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def proof(label: bytes, token: bytes, client_nonce: bytes, agent_nonce: bytes, identity: bytes) -> bytes:
    message = str16(label) + str16(client_nonce) + str16(agent_nonce) + str16(identity)
    return hmac.new(token, message, hashlib.sha256).digest()


class Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        part = self.data[self.at:self.at + n]
        assert len(part) == n, "payload too short"
        self.at += n
        return part

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def str16(self) -> bytes:
        return self.take(self.u16())


class Tunnel:
    """One connection to an agent at 127.0.0.1:port, after the handshake."""

    def __init__(self, port: int, token: str, identity: str | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buffer = b""
        nonce = os.urandom(32)
        self.send(HELLO, 0, b"TTHR" + struct.pack(">H", VERSION) + str16(nonce) +
                  struct.pack(">II", 262144, 262144) + str16(b"wire.py"))
        kind, _, payload = self.read()
        assert kind == WELCOME, f"expected WELCOME, got frame type {kind}: {payload!r}"
        r = Reader(payload)
        assert r.take(4) == b"TTHR" and r.u16() == VERSION
        r.u32(), r.u32(), r.str16()
        agent_nonce, agent_identity, agent_proof = r.str16(), r.str16(), r.str16()
        self.identity = agent_identity.decode()
        expected = proof(b"tether tunnel v2 agent", token.encode(), nonce, agent_nonce, agent_identity)
        assert hmac.compare_digest(agent_proof, expected), "the agent's proof does not match the token"
        if identity is not None:
            assert self.identity == identity, (self.identity, identity)
        self.send(AUTH, 0, str16(proof(b"tether tunnel v2 client", token.encode(), nonce, agent_nonce, agent_identity)))

    def send(self, kind: int, ident: int, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">BBII", kind, 0, ident, len(payload)) + payload)

    def read(self):
        """(type, id, payload) of the next frame."""
        while len(self.buffer) < 10 or len(self.buffer) < 10 + struct.unpack(">I", self.buffer[6:10])[0]:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "the agent closed the tunnel"
            self.buffer += chunk
        kind, _, ident, length = struct.unpack(">BBII", self.buffer[:10])
        payload, self.buffer = self.buffer[10:10 + length], self.buffer[10 + length:]
        return kind, ident, payload

    def close(self):
        self.sock.close()
