"""The shared framing reads what it writes, and refuses what is not a frame."""
import io

import pytest

from tethertest.framing import decode_frames, frame, read_frame
from tethertest.ports import free_port


def test_a_frame_round_trips_through_a_stream_and_a_buffer():
    data = frame({"jsonrpc": "2.0", "id": 1, "method": "x"}) + frame(b'{"jsonrpc":"2.0","method":"y"}')
    stream = io.BytesIO(data)
    assert read_frame(stream) == {"jsonrpc": "2.0", "id": 1, "method": "x"}
    assert read_frame(stream) == {"jsonrpc": "2.0", "method": "y"}
    assert read_frame(stream) is None
    assert [m.get("method") for m in decode_frames(data)] == ["x", "y"]


def test_what_is_not_a_frame_is_refused():
    with pytest.raises(ValueError):
        decode_frames(b"Content-Length: 2\r\n\r\n{}garbage")
    with pytest.raises(ValueError):
        read_frame(io.BytesIO(b"X-Other: 1\r\n\r\n{}"))
    assert read_frame(io.BytesIO(b"Content-Length: 10\r\n\r\n{}")) is None  # cut short


def test_a_free_port_can_be_bound():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
