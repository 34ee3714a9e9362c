"""A bound on what Hypercorn's WebSocket holds of a client's message.

Hypercorn 0.18 (`protocol/ws_stream.py`) collects each incoming message in a
`WebsocketBuffer` and checks `websocket_max_message_size` only after writing
each piece into it. Past the limit it sends close 1009 but keeps the buffer,
and the rest of the message, however long, is still written into it: one
client sending one endless fragmented message grew the web process by 200 MB
for 200 MB sent. The stream endpoints take no messages, and any client can
reach this path (a stream asked on a kept-alive connection), so the buffer
here refuses the piece that would cross the limit instead of storing it.

`install()` puts it in Hypercorn's module (pinned to 0.18 in pyproject.toml);
tests/test_ws_conformance.py checks both the 1009 and the memory.
"""

from __future__ import annotations

from hypercorn.protocol import ws_stream
from wsproto.events import Message


class BoundedWebsocketBuffer(ws_stream.WebsocketBuffer):
    def extend(self, event: Message) -> None:  # type: ignore[type-arg]
        if self.length + len(event.data) > self.max_length:
            self.length += len(event.data)  # stays over the limit: the rest is refused too
            raise ws_stream.FrameTooLargeError()
        super().extend(event)


def install() -> None:
    ws_stream.WebsocketBuffer = BoundedWebsocketBuffer  # type: ignore[misc]
