"""The few parts of WebSocket (RFC 6455) a stream server needs: the handshake's
accept key, unmasked server frames, and a parser for the client's masked frames.

Our clients have nothing to say on a stream: what they send is parsed only to
answer pings, notice pongs and take part in the closing handshake. Payloads are
bounded (`MAX_CLIENT_PAYLOAD`) and fragmented messages are skipped, not joined.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import struct

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_CONTROL = 0x8  # opcodes from here on are control frames
_KNOWN = frozenset({OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG})

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009
MAX_CLIENT_PAYLOAD = 64 * 1024


class ProtocolError(Exception):
    """The client broke the framing rules; close with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(client_key: bytes) -> bytes:
    """`Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(client_key.strip() + _GUID).digest())


def valid_client_key(client_key: bytes) -> bool:
    """A base64 encoding of 16 bytes, as §4.1 requires."""
    try:
        return len(base64.b64decode(client_key.strip(), validate=True)) == 16
    except ValueError:
        return False


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked server frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def close_frame(code: int, reason: str = "") -> bytes:
    # Control frame payloads are at most 125 bytes: 2 for the code, 123 of reason.
    return frame(OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123])


@dataclasses.dataclass(frozen=True, slots=True)
class ClientFrame:
    opcode: int
    payload: bytes  # unmasked; empty for data frames (skipped, see the module doc)


def parse_close(payload: bytes) -> int | None:
    """The code of a close frame's payload (None: the client sent none)."""
    if len(payload) < 2:
        return None
    code: int = struct.unpack("!H", payload[:2])[0]
    return code


def read_frames(buffer: bytearray) -> list[ClientFrame]:
    """Take every complete frame off the front of `buffer`; raises `ProtocolError`.

    Only control frames keep their payload; a partial frame stays in `buffer`
    for the next call."""
    frames: list[ClientFrame] = []
    while len(buffer) >= 2:
        first, second = buffer[0], buffer[1]
        opcode, masked, size = first & 0x0F, second & 0x80, second & 0x7F
        if first & 0x70:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "No extension was negotiated.")
        if opcode not in _KNOWN:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "Unknown opcode.")
        if not masked:
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "Client frames must be masked.")
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, offset = struct.unpack_from("!H", buffer, 2)[0], 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
        if opcode >= _CONTROL and (size > 125 or not first & 0x80):
            raise ProtocolError(CLOSE_PROTOCOL_ERROR, "Control frames are short and final.")
        if size > MAX_CLIENT_PAYLOAD:
            raise ProtocolError(CLOSE_TOO_BIG, "This stream takes no messages from clients.")
        end = offset + 4 + size
        if len(buffer) < end:
            break
        payload = b""
        if opcode >= _CONTROL:
            mask = bytes(buffer[offset : offset + 4])
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buffer[offset + 4 : end]))
        frames.append(ClientFrame(opcode, payload))
        del buffer[:end]
    return frames
