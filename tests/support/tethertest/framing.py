"""LSP framing (`Content-Length: N\\r\\n\\r\\n` + a JSON body), the one implementation the tests use."""
import json


def frame(message) -> bytes:
    """A message (a dict, or a body already in bytes) as one frame."""
    body = message if isinstance(message, (bytes, bytearray)) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + bytes(body)


def read_frame(stream):
    """The next message from a binary stream, or None at its end (also in the middle of a frame)."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("a frame without Content-Length")
    body = stream.read(length)
    if len(body) < length:
        return None
    return json.loads(body)


def decode_frames(data: bytes) -> list:
    """Every message in `data`, which must hold whole frames and nothing else."""
    messages = []
    while data:
        header_end = data.find(b"\r\n\r\n")
        if header_end < 0:
            raise ValueError(f"trailing bytes that are not a frame: {data[:200]!r}")
        length = None
        for line in data[:header_end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise ValueError(f"a frame without Content-Length: {data[:200]!r}")
        body = data[header_end + 4: header_end + 4 + length]
        messages.append(json.loads(body))
        data = data[header_end + 4 + length:]
    return messages
