"""WebSocket framing of the lean stream server (RFC 6455), byte for byte."""

from __future__ import annotations

import os
import struct

import pytest

from resimply.web import wsframes
from resimply.web.wsframes import ProtocolError, read_frames


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A frame as a browser sends it: masked with a random key."""
    mask = os.urandom(4)
    first = (0x80 if fin else 0) | rsv | opcode
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_accept_key_is_the_rfc_example() -> None:
    # RFC 6455 §1.3
    assert wsframes.accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert wsframes.valid_client_key(b"dGhlIHNhbXBsZSBub25jZQ==")
    assert not wsframes.valid_client_key(b"c2hvcnQ=")  # 5 bytes, not 16
    assert not wsframes.valid_client_key(b"not base64!")


@pytest.mark.parametrize(("size", "header"), [(125, 2), (126, 4), (65_535, 4), (65_536, 10)])
def test_server_frames_use_the_shortest_length_encoding(size: int, header: int) -> None:
    data = wsframes.frame(wsframes.OP_TEXT, b"x" * size)
    assert data[0] == 0x81  # final text frame
    assert not data[1] & 0x80  # servers never mask
    assert len(data) == header + size


def test_a_close_frame_carries_its_code_and_a_short_reason() -> None:
    data = wsframes.close_frame(4001, "é" * 200)
    assert data[0] == 0x88
    assert data[1] <= 125
    assert struct.unpack("!H", data[2:4])[0] == 4001


def test_client_frames_are_read_whole_and_control_payloads_unmasked() -> None:
    buffer = bytearray(
        client_frame(wsframes.OP_PING, b"hello")
        + client_frame(wsframes.OP_TEXT, b"ignored" * 100)
        + client_frame(wsframes.OP_CLOSE, struct.pack("!H", 1000) + b"bye")
    )
    frames = read_frames(buffer)
    assert [f.opcode for f in frames] == [wsframes.OP_PING, wsframes.OP_TEXT, wsframes.OP_CLOSE]
    assert frames[0].payload == b"hello"
    assert frames[1].payload == b""  # data from clients is skipped
    assert wsframes.parse_close(frames[2].payload) == 1000
    assert buffer == bytearray()


def test_a_partial_frame_waits_for_the_rest() -> None:
    whole = client_frame(wsframes.OP_PING, b"abc") + client_frame(wsframes.OP_BINARY, b"y" * 300)
    buffer = bytearray()
    seen = []
    for byte in whole:  # one byte at a time, as a slow network may deliver it
        buffer.append(byte)
        seen += read_frames(buffer)
    assert [f.opcode for f in seen] == [wsframes.OP_PING, wsframes.OP_BINARY]
    assert buffer == bytearray()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (wsframes.frame(wsframes.OP_TEXT, b"unmasked"), wsframes.CLOSE_PROTOCOL_ERROR),
        (client_frame(wsframes.OP_TEXT, b"x", rsv=0x40), wsframes.CLOSE_PROTOCOL_ERROR),
        (client_frame(0x3, b"x"), wsframes.CLOSE_PROTOCOL_ERROR),  # reserved opcode
        (client_frame(wsframes.OP_PING, b"x" * 126), wsframes.CLOSE_PROTOCOL_ERROR),
        (client_frame(wsframes.OP_PING, b"x", fin=False), wsframes.CLOSE_PROTOCOL_ERROR),
        (client_frame(wsframes.OP_TEXT, b"x" * 70_000), wsframes.CLOSE_TOO_BIG),
    ],
    ids=["unmasked", "extension-bit", "reserved-opcode", "long-ping", "fragmented-ping", "big"],
)
def test_broken_client_frames_are_refused_with_the_right_close_code(data: bytes, code: int) -> None:
    with pytest.raises(ProtocolError) as caught:
        read_frames(bytearray(data))
    assert caught.value.code == code


def test_a_close_without_a_code_has_none() -> None:
    assert wsframes.parse_close(b"") is None
