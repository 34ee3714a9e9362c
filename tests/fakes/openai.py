"""A fake of the OpenAI API (EXTERNALS.md §2) for the real SDK to talk to.

Tests configure an `OpenAIFakeState` and serve `make_openai_app(state)` with
`tests.fakes.server.start_fake`; point `AsyncOpenAI(base_url=f"{url}/v1")` (or
`OPENAI_BASE_URL`) at it.

Routes (`Authorization: Bearer <state.api_key>` required, else 401 like OpenAI):

* `POST /v1/chat/completions` — JSON body; answers a `chat.completion` with `usage`,
  or with `"stream": true` the same answer as OpenAI streams it: Server-Sent
  Events, one `chat.completion.chunk` per token (about 4 characters) with the
  text in `choices[0].delta`, the `finish_reason` in a last chunk with an empty
  delta, then — when `stream_options.include_usage` — a chunk with no choices and
  the `usage` (every chunk before it has `"usage": null`), then `data: [DONE]`.
  The pace is `state.stream_first_token_s` then `state.stream_tokens_per_s`;
  `ChatAnswer.break_after` cuts the stream after that many characters.
* `POST /v1/audio/transcriptions` — multipart; answers `{"text", "usage"}` (json).

Each route takes its answers from a script (`state.chat_script`,
`state.transcription_script`), first entry first; an entry with `times=None`
answers forever. With nothing scripted the chat route derives a plausible recipe
from the text parts it received (title from the caption's first line,
ingredient lines with amounts, numbered steps, hashtags as tags) and shapes it
after the request's own JSON schema, so the service can run end to end.

Errors use OpenAI's body `{"error": {"message", "type", "param", "code"}}`; a
scripted 429 carries `retry-after-ms` (10 ms unless told otherwise).
Every request is recorded (`state.chat_requests`, `state.transcription_requests`),
refused ones included.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import math
import re
import time
import uuid
from collections import deque
from typing import Any

from aiohttp import web

API_KEY = "sk-test-FAKEopenai0123456789abcdef"


# --- script ------------------------------------------------------------------


@dataclasses.dataclass
class ChatAnswer:
    """A 200 answer. `content` None with `refusal` set is a refusal."""

    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    # Usage; None → estimated from the request (4 characters a token, images by
    # OpenAI's rules for the request's model, see `billed_image_tokens`).
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    # Streamed answers only: stop after this many characters of content, by
    # "abort" (the connection drops mid-body), "end" (the body ends cleanly, with
    # no finish_reason and no [DONE]) or "error" (an `error` event, as OpenAI
    # sends when it fails mid-answer).
    break_after: int | None = None
    break_how: str = "abort"


@dataclasses.dataclass
class TranscriptionAnswer:
    text: str
    usage: dict[str, Any] | None = None  # None → derived from the model, as OpenAI does
    languages: list[str] | None = None


@dataclasses.dataclass
class ErrorAnswer:
    status: int
    message: str = "The server had an error while processing your request. Sorry about that!"
    type: str = "server_error"
    code: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


Answer = ChatAnswer | TranscriptionAnswer | ErrorAnswer | None  # None → the default answer


@dataclasses.dataclass
class Scripted:
    answer: Answer
    times: int | None = 1  # None: forever


def rate_limited(*, retry_after_ms: int | None = 10, retry_after: str | None = None) -> ErrorAnswer:
    headers: dict[str, str] = {}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return ErrorAnswer(
        429,
        "Rate limit reached for gpt-4o-mini in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s.",
        type="requests",
        code="rate_limit_exceeded",
        headers=headers,
    )


def server_error(status: int = 500) -> ErrorAnswer:
    return ErrorAnswer(status)


def bad_request(message: str, *, code: str | None = None) -> ErrorAnswer:
    return ErrorAnswer(400, message, type="invalid_request_error", code=code)


def full_recipe(**fields: Any) -> dict[str, Any]:
    """A complete model answer for the recipe schema: `fields` over empty defaults."""
    answer: dict[str, Any] = {
        "is_recipe": True,
        "not_a_recipe_reason": None,
        "title": "",
        "description": None,
        "language": None,
        "servings": None,
        "prep_minutes": None,
        "cook_minutes": None,
        "total_minutes": None,
        "ingredients": [],
        "steps": [],
        "tags": [],
        "more_recipes": [],
    }
    answer.update(fields)
    answer["ingredients"] = [ingredient(**item) for item in answer["ingredients"]]
    answer["steps"] = [{"text": "", "minutes": None, **item} for item in answer["steps"]]
    answer["more_recipes"] = [more_recipe(**item) for item in answer["more_recipes"]]
    return answer


def more_recipe(**fields: Any) -> dict[str, Any]:
    """One entry of `more_recipes` (another dish of the video): `fields` over empty defaults."""
    answer: dict[str, Any] = {
        "title": "",
        "description": None,
        "servings": None,
        "prep_minutes": None,
        "cook_minutes": None,
        "total_minutes": None,
        "ingredients": [],
        "steps": [],
    }
    answer.update(fields)
    answer["ingredients"] = [ingredient(**item) for item in answer["ingredients"]]
    answer["steps"] = [{"text": "", "minutes": None, **item} for item in answer["steps"]]
    return answer


def ingredient(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = dict.fromkeys(
        ("name", "quantity", "quantity_max", "unit", "note", "group")
    )
    item["text"] = ""
    item.update(fields)
    return item


# --- recorded requests ---------------------------------------------------------


@dataclasses.dataclass
class ChatRequest:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def system_prompt(self) -> str:
        return "\n".join(
            m["content"]
            for m in self.messages
            if m.get("role") in ("system", "developer") and isinstance(m.get("content"), str)
        )

    def parts(self, kind: str) -> list[dict[str, Any]]:
        """The content parts of type `kind` of the user messages, in order."""
        found: list[dict[str, Any]] = []
        for message in self.messages:
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            found.extend(p for p in content or [] if isinstance(p, dict) and p.get("type") == kind)
        return found

    @property
    def text_parts(self) -> list[str]:
        return [str(p.get("text", "")) for p in self.parts("text")]

    @property
    def image_parts(self) -> list[dict[str, Any]]:
        """The `image_url` objects: `{"url": "data:…", "detail": "low"}`."""
        return [p.get("image_url", {}) for p in self.parts("image_url")]

    @property
    def response_format(self) -> dict[str, Any] | None:
        value = self.body.get("response_format")
        return value if isinstance(value, dict) else None

    @property
    def schema(self) -> dict[str, Any] | None:
        fmt = self.response_format or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else None


@dataclasses.dataclass
class TranscriptionRequest:
    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    data: bytes
    headers: dict[str, str]


@dataclasses.dataclass
class OpenAIFakeState:
    api_key: str = API_KEY
    response_model: str | None = None  # None → the request's model
    chat_script: deque[Scripted] = dataclasses.field(default_factory=deque)
    transcription_script: deque[Scripted] = dataclasses.field(default_factory=deque)
    transcript_text: str = "Boil 200 grams of spaghetti for nine minutes."
    transcript_seconds: float = 3.0
    latency_s: float = 0.0
    # Streamed answers: the wait before the first token, then the pace
    # (None: as fast as it goes). gpt-4o-mini: ~0.5–1 s, then ~50–100 tokens/s.
    stream_first_token_s: float = 0.0
    stream_tokens_per_s: float | None = None
    chat_requests: list[ChatRequest] = dataclasses.field(default_factory=list)
    transcription_requests: list[TranscriptionRequest] = dataclasses.field(default_factory=list)

    # Scripting helpers: each adds one entry to the chat script.
    def script(self, answer: Answer, *, times: int | None = 1) -> None:
        self.chat_script.append(Scripted(answer, times))

    def answer_recipe(
        self,
        answer: dict[str, Any],
        *,
        times: int | None = 1,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_tokens: int = 0,
    ) -> None:
        answer_ = ChatAnswer(
            content=json.dumps(answer, ensure_ascii=False),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
        )
        self.script(answer_, times=times)

    def answer_refusal(self, text: str = "I'm sorry, I can't help with that.") -> None:
        self.script(ChatAnswer(content=None, refusal=text))

    def answer_not_a_recipe(self, reason: str = "The video reviews a restaurant.") -> None:
        self.answer_recipe(full_recipe(is_recipe=False, not_a_recipe_reason=reason))

    def answer_invalid_json(self, *, times: int | None = 1) -> None:
        self.script(ChatAnswer(content='{"is_recipe": true, "title": "Carbo'), times=times)

    def answer_length(self) -> None:
        self.script(
            ChatAnswer(content='{"is_recipe": true, "title": "Carbo', finish_reason="length")
        )

    def fail(self, error: ErrorAnswer, *, times: int | None = 1) -> None:
        self.script(error, times=times)

    def fail_transcription(self, error: ErrorAnswer, *, times: int | None = 1) -> None:
        self.transcription_script.append(Scripted(error, times))

    def answer_transcription(self, answer: TranscriptionAnswer, *, times: int | None = 1) -> None:
        self.transcription_script.append(Scripted(answer, times))


def _next(script: deque[Scripted]) -> Answer:
    if not script:
        return None
    entry = script[0]
    if entry.times is not None:
        entry.times -= 1
        if entry.times <= 0:
            script.popleft()
    return entry.answer


# --- the app -------------------------------------------------------------------


def make_openai_app(state: OpenAIFakeState) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def chat(request: web.Request) -> web.Response:
        return await _chat(state, request)

    async def transcription(request: web.Request) -> web.Response:
        return await _transcription(state, request)

    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/audio/transcriptions", transcription)
    return app


def _error(error: ErrorAnswer) -> web.Response:
    body = {
        "error": {"message": error.message, "type": error.type, "param": None, "code": error.code}
    }
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}", **error.headers}
    return web.json_response(body, status=error.status, headers=headers)


def _unauthorized(request: web.Request, state: OpenAIFakeState) -> web.Response | None:
    header = request.headers.get("Authorization", "")
    if header == f"Bearer {state.api_key}":
        return None
    given = header.removeprefix("Bearer ").strip()
    shown = f"{given[:3]}***{given[-4:]}" if len(given) > 8 else "***"
    return _error(
        ErrorAnswer(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            type="invalid_request_error",
            code="invalid_api_key",
        )
    )


async def _chat(state: OpenAIFakeState, request: web.Request) -> web.StreamResponse:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    record = ChatRequest(body if isinstance(body, dict) else {}, dict(request.headers))
    state.chat_requests.append(record)
    if (refused := _unauthorized(request, state)) is not None:
        return refused
    if not isinstance(body, dict):
        return _error(bad_request("We could not parse the JSON body of your request."))
    if not record.model:
        return _error(bad_request("you must provide a model parameter"))
    if not record.messages:
        return _error(bad_request("[] is too short - 'messages'", code="empty_array"))
    if state.latency_s:
        await asyncio.sleep(state.latency_s)

    answer = _next(state.chat_script)
    if isinstance(answer, ErrorAnswer):
        return _error(answer)
    if not isinstance(answer, ChatAnswer):
        answer = ChatAnswer(content=json.dumps(default_answer(record), ensure_ascii=False))
    if body.get("stream") is True:
        return await _stream(state, record, answer, request)
    return web.json_response(_completion(state, record, answer))


TOKEN_CHARS = 4  # one chunk per token, a token ~ 4 characters


async def _stream(
    state: OpenAIFakeState, record: ChatRequest, answer: ChatAnswer, request: web.Request
) -> web.StreamResponse:
    whole = _completion(state, record, answer)
    options = record.body.get("stream_options")
    with_usage = isinstance(options, dict) and options.get("include_usage") is True
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "x-request-id": f"req_{uuid.uuid4().hex}",
        }
    )
    await response.prepare(request)

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        data: dict[str, Any] = {
            "id": whole["id"],
            "object": "chat.completion.chunk",
            "created": whole["created"],
            "model": whole["model"],
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": choices,
        }
        if with_usage:
            data["usage"] = usage
        return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"

    def delta(**fields: Any) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": fields, "logprobs": None, "finish_reason": None}]

    if state.stream_first_token_s:
        await asyncio.sleep(state.stream_first_token_s)
    await response.write(chunk(delta(role="assistant", content="", refusal=None)))
    field = "content" if answer.content is not None else "refusal"
    text = answer.content if answer.content is not None else answer.refusal or ""
    pause = 1 / state.stream_tokens_per_s if state.stream_tokens_per_s else 0.0
    for start in range(0, len(text), TOKEN_CHARS):
        if answer.break_after is not None and start >= answer.break_after:
            return await _break(response, request, answer.break_how)
        if pause:
            await asyncio.sleep(pause)
        await response.write(chunk(delta(**{field: text[start : start + TOKEN_CHARS]})))
    if answer.break_after is not None:
        return await _break(response, request, answer.break_how)
    finish = [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": answer.finish_reason}]
    await response.write(chunk(finish))
    if with_usage:
        await response.write(chunk([], whole["usage"]))
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _break(
    response: web.StreamResponse, request: web.Request, how: str
) -> web.StreamResponse:
    if how == "error":
        error = {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        await response.write(
            b"event: error\ndata: " + json.dumps({"error": error}).encode() + b"\n\n"
        )
        await response.write_eof()
    elif how == "end":
        await response.write_eof()
    else:
        assert request.transport is not None
        request.transport.abort()  # mid-body: the client sees an incomplete chunked read
    return response


def _completion(state: OpenAIFakeState, record: ChatRequest, answer: ChatAnswer) -> dict[str, Any]:
    prompt_tokens = answer.prompt_tokens
    if prompt_tokens is None:
        text = len(record.system_prompt) + sum(len(t) for t in record.text_parts)
        images = sum(billed_image_tokens(record.model, part) for part in record.image_parts)
        prompt_tokens = text // 4 + images
    completion_tokens = answer.completion_tokens
    if completion_tokens is None:
        completion_tokens = len(answer.content or answer.refusal or "") // 4 + 1
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": state.response_model or record.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer.content,
                    "refusal": answer.refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


async def _transcription(state: OpenAIFakeState, request: web.Request) -> web.Response:
    fields: dict[str, str] = {}
    filename: str | None = None
    content_type: str | None = None
    data = b""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                if key == "file":
                    filename, content_type = value.filename, value.content_type
                    data = value.file.read()
            else:
                fields[key] = str(value)
    record = TranscriptionRequest(fields, filename, content_type, data, dict(request.headers))
    state.transcription_requests.append(record)
    if (refused := _unauthorized(request, state)) is not None:
        return refused
    if not data:
        return _error(bad_request("1 validation error: file is required", code="invalid_value"))
    model = fields.get("model")
    if not model:
        return _error(bad_request("you must provide a model parameter"))
    response_format = fields.get("response_format", "json")
    if response_format != "json" and model != "whisper-1":
        return _error(
            bad_request(
                f"response_format '{response_format}' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead.",
                code="unsupported_value",
            )
        )
    if state.latency_s:
        await asyncio.sleep(state.latency_s)

    answer = _next(state.transcription_script)
    if isinstance(answer, ErrorAnswer):
        return _error(answer)
    if not isinstance(answer, TranscriptionAnswer):
        answer = TranscriptionAnswer(text=state.transcript_text)
    usage = answer.usage
    if usage is None:
        if model == "whisper-1":
            usage = {"type": "duration", "seconds": state.transcript_seconds}
        else:
            audio_tokens = int(state.transcript_seconds * 10)
            output_tokens = len(answer.text) // 4 + 1
            usage = {
                "type": "tokens",
                "input_tokens": audio_tokens,
                "output_tokens": output_tokens,
                "total_tokens": audio_tokens + output_tokens,
                "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0},
            }
    body: dict[str, Any] = {"text": answer.text, "usage": usage}
    if answer.languages is not None:
        body["languages"] = [{"code": code} for code in answer.languages]
    return web.json_response(body)


# --- image tokens (EXTERNALS.md §2), written apart from resimply.costs -------------------

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment; None if there is none."""
    i = 2
    while i + 9 < len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in _SOF:
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                data[i + 5 : i + 7], "big"
            )
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def billed_image_tokens(model: str | None, image_url: dict[str, Any]) -> int:
    """What OpenAI bills for one image: gpt-4o tiles 85 + 170/tile, gpt-4o-mini
    2833 + 5667/tile, gpt-4.1-mini 32-px patches (≤ 1536) × 1.62; other models
    as gpt-4o. An image whose size cannot be read counts as low detail."""
    name = (model or "").lower()
    url = str(image_url.get("url", ""))
    size = None
    if url.startswith("data:") and "," in url:
        try:
            size = jpeg_size(base64.b64decode(url.split(",", 1)[1]))
        except ValueError:
            size = None
    if name.startswith("gpt-4.1-mini"):
        if size is None:
            return 0
        w, h = size
        if math.ceil(w / 32) * math.ceil(h / 32) > 1536:
            shrink = math.sqrt(32 * 32 * 1536 / (w * h))
            fw, fh = w * shrink, h * shrink
            shrink *= min(math.floor(fw / 32) / (fw / 32), math.floor(fh / 32) / (fh / 32))
            w, h = int(w * shrink), int(h * shrink)
        return math.ceil(min(1536, math.ceil(w / 32) * math.ceil(h / 32)) * 1.62)
    base, tile = (2833, 5667) if name.startswith("gpt-4o-mini") else (85, 170)
    if image_url.get("detail") == "low" or size is None:
        return base
    fit = min(1.0, 2048 / max(size))
    fw, fh = size[0] * fit, size[1] * fit
    short = min(1.0, 768 / min(fw, fh))
    return base + tile * math.ceil(fw * short / 512) * math.ceil(fh * short / 512)


# --- the default answer -------------------------------------------------------------

_AMOUNT = re.compile(
    r"^(?P<qty>\d+(?:[.,]\d+)?(?:/\d+)?)(?:\s*-\s*(?P<max>\d+(?:[.,]\d+)?))?\s*"
    r"(?P<unit>kg|g|ml|cl|dl|l|tbsp|tsp|cups?|oz|lbs?|el|tl|pinch)?\b\s*(?P<name>.+)$",
    re.IGNORECASE,
)
_STEP = re.compile(r"^(?:step\s*)?\d+[.):]\s+(?P<text>.+)$", re.IGNORECASE)
_BULLET = re.compile(r"^[-•*–]\s*")
_HASHTAG = re.compile(r"#(\w+)")
_SERVINGS = re.compile(r"(?:for|serves)\s+(\d+)", re.IGNORECASE)
_LANGUAGE = re.compile(r'set language to "([a-z]{2,3})"')


def _number(text: str) -> float:
    text = text.replace(",", ".")
    if "/" in text:
        top, bottom = text.split("/", 1)
        return float(top) / float(bottom)
    return float(text)


def _sections(record: ChatRequest) -> list[list[str]]:
    """The lines of each text part, the label line ("Caption …:") dropped."""
    sections = []
    for text in record.text_parts:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines and lines[0].endswith(":"):
            if lines[0].startswith("Frames"):
                continue
            lines = lines[1:]
        if lines:
            sections.append(lines)
    return sections


def derive_recipe(record: ChatRequest) -> dict[str, Any]:
    """A plausible answer from the text the request carried."""
    sections = _sections(record)
    lines = [line for section in sections for line in section]
    title = _HASHTAG.sub("", sections[0][0]).strip() if sections else ""
    ingredients: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for line in lines[1:]:
        if step := _STEP.match(line):
            steps.append({"text": step["text"], "minutes": None})
            continue
        bare = _BULLET.sub("", line)
        if amount := _AMOUNT.match(bare):
            ingredients.append(
                ingredient(
                    text=bare,
                    name=amount["name"].split(",")[0].strip(),
                    quantity=_number(amount["qty"]),
                    quantity_max=_number(amount["max"]) if amount["max"] else None,
                    unit=amount["unit"],
                )
            )
    tags = sorted({tag.lower() for line in lines for tag in _HASHTAG.findall(line)})
    servings = next((int(m[1]) for line in lines if (m := _SERVINGS.search(line))), None)
    language = _LANGUAGE.search(record.system_prompt)
    is_recipe = bool(ingredients or steps)
    return full_recipe(
        is_recipe=is_recipe,
        not_a_recipe_reason=None if is_recipe else "The text mentions no ingredients or steps.",
        title=title if is_recipe else "",
        language=language[1] if language else "en",
        servings=servings,
        ingredients=ingredients,
        steps=steps,
        tags=tags,
    )


def default_answer(record: ChatRequest) -> Any:
    """`derive_recipe`, shaped after the request's schema when it sent one."""
    derived = derive_recipe(record)
    schema = record.schema
    return conform(schema, derived) if schema is not None else derived


def conform(schema: dict[str, Any], value: Any) -> Any:
    """`value` reshaped to `schema`: missing properties become null (when allowed) or
    an empty value of their type; unknown ones are dropped."""
    if "anyOf" in schema:
        options = schema["anyOf"]
        if value is None and any(o.get("type") == "null" for o in options):
            return None
        non_null = [o for o in options if o.get("type") != "null"]
        return conform(non_null[0], value) if non_null else None
    kind = schema.get("type")
    if isinstance(kind, list):
        if value is None and "null" in kind:
            return None
        kind = next(k for k in kind if k != "null")
    if kind == "object" or "properties" in schema:
        source = value if isinstance(value, dict) else {}
        return {name: conform(sub, source.get(name)) for name, sub in schema["properties"].items()}
    if kind == "array":
        items = value if isinstance(value, list) else []
        return [conform(schema.get("items", {}), item) for item in items]
    if kind == "string":
        return "" if value is None else str(value)
    if kind == "integer":
        return int(value) if isinstance(value, int | float) else 0
    if kind == "number":
        return float(value) if isinstance(value, int | float) else 0.0
    if kind == "boolean":
        return bool(value)
    return value
