"""One chat completion, streamed: the answer as it is written, then as a whole.

`stream: true` makes OpenAI send the answer as Server-Sent Events, one
`chat.completion.chunk` per few tokens (`choices[0].delta.content`), the
`finish_reason` in the last chunk with a choice and, with
`stream_options.include_usage`, one more chunk with no choices and the `usage`
(billing is the same as without streaming), then `data: [DONE]`.

`stream_completion` calls `on_text` after every chunk that adds text, with a
function returning the text so far (joined only when asked: most calls only
check the time), and returns the same `ChatCompletion` the unstreamed call would have, so
everything after it (validation, refusals, usage) stays as it was. A stream
that does not finish — the connection breaks, an `error` event arrives
mid-way, or the body ends before a `finish_reason` — raises `Transient`: the
whole answer is asked for again (`call_openai`'s retries), and nothing of the
broken one is kept. Its tokens are not in `Usage` (OpenAI sends no usage for
it); the log line says how far it got.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

from ..retry import Transient

log = structlog.get_logger(__name__)


async def stream_completion(
    client: AsyncOpenAI,
    *,
    on_text: Callable[[Callable[[], str]], Awaitable[None]],
    **params: Any,
) -> ChatCompletion:
    """`client.chat.completions.create(**params)`, streamed (see the module docstring)."""
    stream = await client.chat.completions.create(
        **params, stream=True, stream_options={"include_usage": True}
    )
    answer = _Answer()
    try:
        async with stream:
            async for chunk in stream:
                if answer.add(chunk):
                    await on_text(answer.joined)
    except (openai.APITimeoutError, openai.APIConnectionError, openai.APIStatusError):
        _log_broken(answer, "connection")
        raise  # `call_openai` retries these like any other attempt
    except openai.APIError as exc:  # an `error` event in the stream
        _log_broken(answer, "error_event")
        raise Transient("openai chat completion: the answer stream reported an error") from exc
    if answer.finish_reason is None:
        _log_broken(answer, "ended_early")
        raise Transient("openai chat completion: the answer stream ended before the answer")
    return answer.completion()


def _log_broken(answer: _Answer, how: str) -> None:
    log.warning("openai_stream_broken", how=how, chunks=answer.chunks, chars=len(answer.joined()))


class _Answer:
    """The chunks of one streamed answer, put back together."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.refusal: list[str] = []
        self.finish_reason: str | None = None
        self.usage: CompletionUsage | None = None
        self.chunks = 0
        self.first: ChatCompletionChunk | None = None

    def add(self, chunk: ChatCompletionChunk) -> bool:
        """Take one chunk; True when the answer's text grew."""
        self.chunks += 1
        self.first = self.first or chunk
        if chunk.usage is not None:
            self.usage = chunk.usage
        grew = False
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # we ask for one answer (n=1)
            delta = choice.delta
            if delta.content:
                self.parts.append(delta.content)
                grew = True
            if delta.refusal:
                self.refusal.append(delta.refusal)
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
        return grew

    def joined(self) -> str:
        """The text so far (the parts are joined once, then kept joined)."""
        if len(self.parts) != 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0]

    def completion(self) -> ChatCompletion:
        first = self.first
        assert first is not None and self.finish_reason is not None
        return ChatCompletion.model_validate(
            {
                "id": first.id,
                "object": "chat.completion",
                "created": first.created,
                "model": first.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": self.joined() or None,
                            "refusal": "".join(self.refusal) or None,
                        },
                        "finish_reason": self.finish_reason,
                    }
                ],
                "usage": self.usage.model_dump() if self.usage is not None else None,
                "system_fingerprint": first.system_fingerprint,
            }
        )
