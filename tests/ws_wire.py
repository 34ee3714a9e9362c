"""WebSocket frames byte by byte, for tests that speak RFC 6455 over raw sockets.

Written from the RFC, not from the server's library, so a test can send what no
client library would (unmasked frames, reserved bits, broken lengths) and read
exactly what the server wrote."""

from __future__ import annotations

import os
import struct

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


def client_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    mask: bytes | None = None,
) -> bytes:
    """A frame as a browser sends it: masked with a random key (or `mask`;
    a zero key leaves the payload as it is, for big frames)."""
    first = (0x80 if fin else 0) | rsv | opcode
    bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, bit | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, bit | 126, size)
    else:
        header = struct.pack("!BBQ", first, bit | 127, size)
    if not masked:
        return header + payload
    key = os.urandom(4) if mask is None else mask
    if key == bytes(4):
        return header + key + payload
    repeated = (key * (size // 4 + 1))[:size]
    masked_payload = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        size, "big"
    )
    return header + key + masked_payload


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def close_code(payload: bytes) -> int | None:
    """The code of a close frame's payload (None: it carries none)."""
    if len(payload) < 2:
        return None
    code: int = struct.unpack("!H", payload[:2])[0]
    return code


def server_frames(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(opcode, payload) of the whole unmasked frames a server sent, and what is left."""
    frames = []
    while len(data) >= 2:
        opcode, size, offset = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            if len(data) < 4:
                break
            size, offset = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            if len(data) < 10:
                break
            size, offset = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < offset + size:
            break
        frames.append((opcode, data[offset : offset + size]))
        data = data[offset + size :]
    return frames, data
