"""The OpenAI transcriber with the real SDK against the fake API on loopback
(resimply.providers.openai_transcriber)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from resimply.errors import ExtractionFailed
from resimply.media.audio import audio_duration
from resimply.providers import openai_transcriber
from resimply.providers.base import Transcriber
from resimply.providers.openai_transcriber import OpenAITranscriber
from resimply.settings import Settings
from tests.fakes.openai import (
    API_KEY,
    ErrorAnswer,
    OpenAIFakeState,
    TranscriptionAnswer,
    make_openai_app,
    rate_limited,
    server_error,
)
from tests.fakes.server import start_fake
from tests.mediagen import make_audio_only


class RecordingProgress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))


@pytest.fixture
async def fake() -> AsyncIterator[tuple[OpenAIFakeState, str]]:
    state = OpenAIFakeState()
    runner, url = await start_fake(make_openai_app(state))
    yield state, url
    await runner.cleanup()


def settings(url: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "openai_api_key": API_KEY,
        "openai_base_url": f"{url}/v1",
        "upstream_deadline_s": 10.0,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_audio_only(tmp_path_factory.mktemp("audio") / "audio.m4a", seconds=1.5)


async def test_transcribe_uploads_the_file_and_returns_the_text(
    fake: tuple[OpenAIFakeState, str], audio: Path
) -> None:
    state, url = fake
    state.transcript_text = "  Boil 200 grams of spaghetti.  "
    transcriber = OpenAITranscriber(settings(url))
    check: Transcriber = transcriber
    assert check.name == "openai"
    progress = RecordingProgress()
    try:
        transcript = await transcriber.transcribe(audio, language="en-US", progress=progress)
    finally:
        await transcriber.aclose()

    duration = audio_duration(audio)
    assert duration is not None and 1.4 < duration < 1.7
    # gpt-4o-mini-transcribe bills tokens, so the seconds are the file's duration.
    assert transcript.text == "Boil 200 grams of spaghetti."
    assert transcript.language == "en"
    assert transcript.seconds == duration
    [request] = state.transcription_requests
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.fields == {
        "model": "gpt-4o-mini-transcribe",
        "response_format": "json",
        "language": "en",
    }
    assert request.filename == "audio.m4a"
    assert request.content_type == "audio/mp4"
    assert request.data == audio.read_bytes()
    assert progress.updates == [
        ("Transcribing the audio with gpt-4o-mini-transcribe", 0.1),
        ("Audio transcribed", 1.0),
    ]


async def test_whisper_duration_usage_gives_the_seconds(
    fake: tuple[OpenAIFakeState, str], audio: Path
) -> None:
    state, url = fake
    state.transcript_seconds = 7.25
    transcriber = OpenAITranscriber(settings(url, openai_transcription_model="whisper-1"))
    try:
        transcript = await transcriber.transcribe(
            audio, language=None, progress=RecordingProgress()
        )
    finally:
        await transcriber.aclose()
    assert transcript.seconds == 7.25
    assert transcript.language is None
    [request] = state.transcription_requests
    assert request.fields == {"model": "whisper-1", "response_format": "json"}


async def test_a_detected_language_is_reported(
    fake: tuple[OpenAIFakeState, str], audio: Path
) -> None:
    state, url = fake
    state.answer_transcription(
        TranscriptionAnswer(
            text="Ciao a tutti", usage={"type": "duration", "seconds": 2.0}, languages=["it"]
        )
    )
    transcriber = OpenAITranscriber(settings(url))
    try:
        transcript = await transcriber.transcribe(
            audio, language="not a code", progress=RecordingProgress()
        )
    finally:
        await transcriber.aclose()
    assert (transcript.text, transcript.language, transcript.seconds) == ("Ciao a tutti", "it", 2.0)
    assert "language" not in state.transcription_requests[0].fields


async def test_429_is_retried(fake: tuple[OpenAIFakeState, str], audio: Path) -> None:
    state, url = fake
    state.fail_transcription(rate_limited(retry_after_ms=300))
    progress = RecordingProgress()
    transcriber = OpenAITranscriber(settings(url))
    started = time.monotonic()
    try:
        transcript = await transcriber.transcribe(audio, language="en", progress=progress)
    finally:
        await transcriber.aclose()
    assert time.monotonic() - started >= 0.3
    assert transcript.text == state.transcript_text
    assert len(state.transcription_requests) == 2
    assert ("Transcribing the audio (attempt 2)", None) in progress.updates


async def test_5xx_until_the_deadline_fails_retryably(
    fake: tuple[OpenAIFakeState, str], audio: Path
) -> None:
    state, url = fake
    state.fail_transcription(server_error(503), times=None)
    transcriber = OpenAITranscriber(settings(url, upstream_deadline_s=1.5))
    try:
        with pytest.raises(ExtractionFailed) as caught:
            await transcriber.transcribe(audio, language="en", progress=RecordingProgress())
    finally:
        await transcriber.aclose()
    assert caught.value.retryable is True
    assert caught.value.message.startswith("Transcribing the audio failed: OpenAI is busy")
    assert "HTTP 503" in caught.value.message
    assert len(state.transcription_requests) >= 2


async def test_a_rejected_key_is_not_retryable(
    fake: tuple[OpenAIFakeState, str], audio: Path
) -> None:
    state, url = fake
    transcriber = OpenAITranscriber(settings(url, openai_api_key="sk-WRONG-secret-0000"))
    try:
        with pytest.raises(ExtractionFailed) as caught:
            await transcriber.transcribe(audio, language="en", progress=RecordingProgress())
    finally:
        await transcriber.aclose()
    assert caught.value.retryable is False
    assert caught.value.message == (
        "Transcribing the audio failed: OpenAI rejected the API key; the operator must check "
        "OPENAI_API_KEY (HTTP 401 invalid_api_key)."
    )
    assert len(state.transcription_requests) == 1


async def test_an_unknown_model_names_its_setting(
    fake: tuple[OpenAIFakeState, str], audio: Path
) -> None:
    state, url = fake
    state.fail_transcription(
        ErrorAnswer(404, "no such model", "invalid_request_error", "model_not_found")
    )
    transcriber = OpenAITranscriber(settings(url))
    try:
        with pytest.raises(ExtractionFailed) as caught:
            await transcriber.transcribe(audio, language=None, progress=RecordingProgress())
    finally:
        await transcriber.aclose()
    assert caught.value.retryable is False
    assert "check OPENAI_TRANSCRIPTION_MODEL" in caught.value.message


async def test_too_large_audio_is_refused_before_upload(
    fake: tuple[OpenAIFakeState, str], audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = fake
    monkeypatch.setattr(openai_transcriber, "MAX_UPLOAD_BYTES", 100)
    transcriber = OpenAITranscriber(settings(url))
    try:
        with pytest.raises(ExtractionFailed, match="too large") as caught:
            await transcriber.transcribe(audio, language=None, progress=RecordingProgress())
    finally:
        await transcriber.aclose()
    assert caught.value.retryable is False
    assert state.transcription_requests == []


async def test_a_missing_file_fails(fake: tuple[OpenAIFakeState, str], tmp_path: Path) -> None:
    state, url = fake
    transcriber = OpenAITranscriber(settings(url))
    try:
        with pytest.raises(ExtractionFailed, match="could not be read"):
            await transcriber.transcribe(
                tmp_path / "gone.m4a", language=None, progress=RecordingProgress()
            )
    finally:
        await transcriber.aclose()
    assert state.transcription_requests == []
