"""Speech to text with OpenAI's transcription endpoint (EXTERNALS.md §2,
"Transcription"): `POST /audio/transcriptions` with `response_format=json`, the
only format every transcription model supports.

Retries and error mapping are the extractor's (`openai_extractor.call_openai`):
429 / 5xx / timeouts are retried within `settings.upstream_deadline_s`, then
`ExtractionFailed(retryable=True)`; other HTTP errors are
`ExtractionFailed(retryable=False)` with a message for the operator.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from openai import AsyncOpenAI, Omit, omit
from openai.types.audio import Transcription

from ..errors import ExtractionFailed
from ..media.audio import MAX_UPLOAD_BYTES, audio_duration
from ..settings import Settings
from .base import ProgressReporter, Transcript
from .openai_extractor import call_openai, make_client

log = structlog.get_logger(__name__)

CONTENT_TYPES = {
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".webm": "audio/webm",
}


def _read_audio(audio: Path) -> tuple[bytes, float | None]:
    """The file's bytes and its duration (blocking: run off the event loop)."""
    size = audio.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise ExtractionFailed(
            f"The audio track is too large to transcribe ({size // (1024 * 1024)} MB).",
            retryable=False,
        )
    return audio.read_bytes(), audio_duration(audio)


def _language_code(language: str | None) -> str | Omit:
    """ISO 639-1 for the endpoint ('pt-BR' → 'pt'); omitted unless it looks like one."""
    if not language:
        return omit
    primary = language.strip().replace("_", "-").split("-")[0].lower()
    return primary if len(primary) == 2 and primary.isascii() and primary.isalpha() else omit


class OpenAITranscriber:
    """`Transcriber` backed by `settings.openai_transcription_model`."""

    name = "openai"

    def __init__(self, settings: Settings, *, client: AsyncOpenAI | None = None) -> None:
        self._settings = settings
        self._model = settings.openai_transcription_model
        self._owns_client = client is None
        self._client = client if client is not None else make_client(settings)

    async def transcribe(
        self, audio: Path, *, language: str | None, progress: ProgressReporter
    ) -> Transcript:
        try:
            content, duration = await asyncio.to_thread(_read_audio, audio)
        except OSError as exc:
            raise ExtractionFailed(
                "Transcribing the audio failed: the audio file could not be read."
            ) from exc
        code = _language_code(language)
        content_type = CONTENT_TYPES.get(audio.suffix.lower(), "application/octet-stream")
        await progress.update(f"Transcribing the audio with {self._model}", 0.1)

        async def on_retry(attempt: int) -> None:
            await progress.update(f"Transcribing the audio (attempt {attempt})")

        async def call() -> Transcription:
            return await self._client.audio.transcriptions.create(
                model=self._model,
                file=(audio.name, content, content_type),
                response_format="json",
                language=code,
            )

        result = await call_openai(
            call,
            what="openai transcription",
            doing="Transcribing the audio",
            model_setting="OPENAI_TRANSCRIPTION_MODEL",
            deadline_s=self._settings.upstream_deadline_s,
            on_retry=on_retry,
        )
        seconds = duration or 0.0
        if result.usage is not None and result.usage.type == "duration":
            seconds = result.usage.seconds
        detected = result.languages[0].code if result.languages else None
        text = result.text.strip()
        log.info(
            "openai_transcription",
            model=self._model,
            seconds=round(seconds, 3),
            chars=len(text),
        )
        await progress.update("Audio transcribed", 1.0)
        return Transcript(
            text=text,
            language=code if isinstance(code, str) else detected,
            seconds=seconds,
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this transcriber created it."""
        if self._owns_client:
            await self._client.close()
