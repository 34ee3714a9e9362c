"""Failed imports kept as drafts, through the real local pipeline (direct scraper on
a generated video → media → extractor → store, real Redis): what the draft holds,
what it never holds, its expiry, and a retry that reads it without a second scrape."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import io
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import msgspec
import pytest
from av.video.frame import VideoFrame
from redis.asyncio import Redis

from resimply.drafts import (
    FRAME_EDGE,
    MAX_DRAFTS_PER_USER,
    MAX_FRAME_BYTES,
    MAX_FRAMES,
    Draft,
    DraftFrame,
    DraftStore,
    pick_frames,
    summary,
)
from resimply.errors import ExtractionFailed
from resimply.keys import Keys
from resimply.media.analyze import MediaLimits
from resimply.models import Ingredient, Recipe, ScrapeRequest, Source
from resimply.pipeline import PipelineDeps, run_task
from resimply.pipeline.drafts import _shrink
from resimply.providers.base import (
    Extraction,
    ExtractionInput,
    ProgressReporter,
    ScrapedPost,
    VideoRef,
)
from resimply.providers.direct import DirectScraper
from resimply.providers.offline import OfflineExtractor
from resimply.providers.sqlite_store import SqliteRecipeStore
from resimply.settings import Settings
from resimply.tasks import TaskStore
from tests.mediagen import make_video
from tests.screengen import Overlay, make_screen_video
from tests.test_screen_text import require_ocr

USER = "u-drafts"
OTHER = "u-other"
SECRET = "Cookie-secret-7f3a9"
NOT_A_RECIPE_CAPTION = "Sunset at the beach, what a day 🌅 #travel #summer"
TRAVEL_VTT = """WEBVTT

00:00:00.500 --> 00:00:02.500
Look at those waves, the water is so blue today.
"""
PANCAKES_VTT = """WEBVTT

00:00:00.500 --> 00:00:03.000
You need 200 g flour, 2 eggs, 300 ml milk and a pinch of salt.

00:00:03.000 --> 00:00:05.000
Mix everything, then bake for 2 minutes on each side.
"""


class CountingScraper:
    """The real direct scraper, counted; its video reference carries a header standing
    for the cookies a platform's CDN wants (which a draft must never keep)."""

    def __init__(self) -> None:
        self.inner = DirectScraper(dev=True, allow_private_urls=True)
        self.name = self.inner.name
        self.calls = 0

    def accepts(self, url: str) -> bool:
        return self.inner.accepts(url)

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        self.calls += 1
        post = await self.inner.scrape(request, progress)
        video = VideoRef(path=post.video.path, headers={"Cookie": SECRET})
        return dataclasses.replace(post, video=video)

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingExtractor:
    """The offline extractor; the first `fail_first` calls end as a model outage would."""

    name = "offline"

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0) -> None:
        self.inputs: list[ExtractionInput] = []
        self.fail_first = fail_first
        self.delay_s = delay_s

    async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
        self.inputs.append(data)
        await asyncio.sleep(self.delay_s)
        if len(self.inputs) <= self.fail_first:
            raise ExtractionFailed()
        return await OfflineExtractor().extract(data, progress)

    async def aclose(self) -> None:
        pass


@dataclasses.dataclass
class Rig:
    deps: PipelineDeps
    scraper: CountingScraper
    extractor: RecordingExtractor
    drafts: DraftStore
    videos: Path
    db: Path  # the SQLite file the recipes and drafts are in

    def row(self, draft_id: str) -> tuple[bytes, float] | None:
        """The draft's stored row, read straight from the file: (data, expires_at)."""
        with sqlite3.connect(self.db) as conn:
            found = conn.execute(
                "SELECT data, expires_at FROM drafts WHERE id = ?", (draft_id,)
            ).fetchone()
        return (bytes(found[0]), float(found[1])) if found else None

    def with_(self, **changes: object) -> Rig:
        return dataclasses.replace(self, deps=dataclasses.replace(self.deps, **changes))  # type: ignore[arg-type]


@pytest.fixture
async def rig(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Rig]:
    executor = concurrent.futures.ThreadPoolExecutor(2)
    keys = Keys(key_prefix)
    scraper = CountingScraper()
    extractor = RecordingExtractor()
    db = tmp_path / "recipes.sqlite3"
    store = SqliteRecipeStore(db)
    drafts = DraftStore(store, ttl_s=3600)
    deps = PipelineDeps(
        tasks=TaskStore(redis, keys, ttl_s=600, stream_maxlen=100, dedupe_ttl_s=600),
        scraper=scraper,
        extractor=extractor,
        store=store,
        transcriber=None,
        executor=executor,
        limits=MediaLimits.from_settings(Settings()),
        work_dir=tmp_path / "work",
        download_timeout_s=30,
        job_timeout_s=60,
        drafts=drafts,
    )
    videos = tmp_path / "videos"
    videos.mkdir()
    yield Rig(deps, scraper, extractor, drafts, videos, db)
    await deps.store.aclose()
    executor.shutdown()


def _video(rig: Rig, name: str, vtt: str, caption: str) -> Path:
    video = make_video(rig.videos / f"{name}.mp4", seconds=4.0, scenes=[(200, 40, 40)] * 1)
    video.with_suffix(".txt").write_text(caption)
    video.with_suffix(".en.vtt").write_text(vtt)
    return video


async def _submit(deps: PipelineDeps, url: str, **extra: str | None) -> str:
    submission = await deps.tasks.create(
        user_id=USER,
        url=url,
        canonical_url=f"{url}#{extra}",
        language=extra.pop("language", None),
        caption=None,
        idempotency_key=None,
        **extra,  # type: ignore[arg-type]
    )
    return submission.task_id


async def test_a_video_with_no_recipe_leaves_a_draft_of_what_was_read(rig: Rig) -> None:
    rig = rig.with_(extractor=OfflineExtractor())
    video = _video(rig, "beach", TRAVEL_VTT, NOT_A_RECIPE_CAPTION)
    task_id = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, task_id) == "FAILURE"
    record = await rig.deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert record.error.error == "not_a_recipe"
    draft_id = record.error.draft_id
    assert isinstance(draft_id, str)

    draft = await rig.drafts.get(USER, draft_id)
    assert draft is not None
    assert (draft.task_id, draft.error, draft.url) == (task_id, "not_a_recipe", str(video))
    assert draft.caption == NOT_A_RECIPE_CAPTION
    assert draft.subtitles is not None and "waves" in draft.subtitles
    assert draft.source.caption == NOT_A_RECIPE_CAPTION
    assert 1 <= len(draft.frames) <= MAX_FRAMES
    for frame in draft.frames:
        assert frame.jpeg.startswith(b"\xff\xd8") and len(frame.jpeg) <= MAX_FRAME_BYTES
    # Another user, and an unknown id, see nothing.
    assert await rig.drafts.get(OTHER, draft_id) is None
    assert await rig.drafts.list(OTHER) == []
    assert [d.draft_id for d in await rig.drafts.list(USER)] == [draft_id]


async def test_a_draft_holds_neither_a_secret_nor_the_video(rig: Rig) -> None:
    rig = rig.with_(extractor=OfflineExtractor())
    video = _video(rig, "beach", TRAVEL_VTT, NOT_A_RECIPE_CAPTION)
    task_id = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, task_id) == "FAILURE"
    row = rig.row((await rig.drafts.list(USER))[0].draft_id)
    assert row is not None
    raw = row[0]
    assert SECRET.encode() not in raw and b"Cookie" not in raw
    # No part of the video file: its container header, and no long run of its bytes.
    data = video.read_bytes()
    assert b"ftyp" not in raw and data[:4096] not in raw and data[-4096:] not in raw
    assert len(raw) < len(data) + MAX_FRAMES * MAX_FRAME_BYTES
    # And the error message's wire form carries the draft id, no secret either.
    record = await rig.deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert SECRET not in msgspec.json.encode(record.error).decode()


async def test_a_retry_reads_the_draft_in_the_new_language_without_a_second_scrape(
    rig: Rig,
) -> None:
    rig.extractor.fail_first = 1  # the model is away the first time
    video = _video(rig, "pancakes", PANCAKES_VTT, "Pancakes for Sunday")
    first = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, first) == "FAILURE"
    failed = await rig.deps.tasks.get(first)
    assert failed is not None and failed.error is not None
    assert failed.error.error == "extraction_failed"
    draft_id = failed.error.draft_id
    assert isinstance(draft_id, str) and rig.scraper.calls == 1
    # The video is gone: a retry that scraped or downloaded it again would fail.
    video.unlink()

    retry = await _submit(rig.deps, str(video), language="de", draft_id=draft_id)
    assert await run_task(rig.deps, retry) == "SUCCESS"
    assert rig.scraper.calls == 1
    assert [i.language for i in rig.extractor.inputs] == [None, "de"]
    first_input, second_input = rig.extractor.inputs
    assert second_input.subtitles == first_input.subtitles and second_input.subtitles
    assert second_input.caption == "Pancakes for Sunday"
    assert 1 <= len(second_input.frames) == min(len(first_input.frames), MAX_FRAMES)
    done = await rig.deps.tasks.get(retry)
    assert done is not None and done.result is not None
    names = [i.name for i in done.result.recipe.ingredients]
    assert names[:2] == ["flour", "eggs"]
    assert done.result.recipe.source is not None
    assert done.result.recipe.source.caption == "Pancakes for Sunday"
    # The draft became a recipe: it is gone.
    assert await rig.drafts.get(USER, draft_id) is None


async def test_a_retry_that_fails_again_updates_the_same_draft(rig: Rig) -> None:
    rig = rig.with_(extractor=OfflineExtractor())
    video = _video(rig, "beach", TRAVEL_VTT, NOT_A_RECIPE_CAPTION)
    first = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, first) == "FAILURE"
    draft_id = (await rig.drafts.list(USER))[0].draft_id
    retry = await _submit(rig.deps, str(video), language="fr", draft_id=draft_id)
    assert await run_task(rig.deps, retry) == "FAILURE"
    record = await rig.deps.tasks.get(retry)
    assert record is not None and record.error is not None
    assert (record.error.error, record.error.draft_id) == ("not_a_recipe", draft_id)
    draft = await rig.drafts.get(USER, draft_id)
    assert draft is not None and (draft.task_id, draft.language) == (retry, "fr")
    assert rig.scraper.calls == 1


async def test_a_timeout_after_the_media_step_leaves_a_draft_one_before_it_none(
    rig: Rig,
) -> None:
    video = _video(rig, "slow", PANCAKES_VTT, "Pancakes")
    slow_model = rig.with_(extractor=RecordingExtractor(delay_s=30), job_timeout_s=3)
    task_id = await _submit(slow_model.deps, str(video))
    assert await run_task(slow_model.deps, task_id) == "FAILURE"
    record = await rig.deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert record.error.error == "timeout" and isinstance(record.error.draft_id, str)

    # Stopped while scraping: nothing was read, no draft.
    class SlowScraper(CountingScraper):
        async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
            await asyncio.sleep(30)
            raise AssertionError("unreachable")

    slow_scrape = rig.with_(scraper=SlowScraper(), job_timeout_s=1)
    other = await _submit(slow_scrape.deps, str(video))
    assert await run_task(slow_scrape.deps, other) == "FAILURE"
    record = await rig.deps.tasks.get(other)
    assert record is not None and record.error is not None
    assert record.error.error == "timeout" and record.error.draft_id is msgspec.UNSET


async def test_drafts_expire_after_their_ttl_and_can_be_turned_off(rig: Rig) -> None:
    rig = rig.with_(extractor=OfflineExtractor())
    video = _video(rig, "beach", TRAVEL_VTT, NOT_A_RECIPE_CAPTION)
    task_id = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, task_id) == "FAILURE"
    (draft,) = await rig.drafts.list(USER)
    row = rig.row(draft.draft_id)
    assert row is not None and 3590 <= row[1] - time.time() <= 3601
    # A store whose TTL is one second: the draft is gone from get and list after it.
    short = DraftStore(rig.deps.store, ttl_s=1)  # type: ignore[arg-type]
    short_id, created, expires = short.stamp()
    await short.save(
        USER,
        msgspec.structs.replace(draft, draft_id=short_id, created_at=created, expires_at=expires),
    )
    assert await short.get(USER, short_id) is not None
    await asyncio.sleep(2.1)  # expiry dates are in whole seconds
    assert await short.get(USER, short_id) is None
    assert [d.draft_id for d in await short.list(USER)] == [draft.draft_id]
    # ...and its row goes when the next draft is saved.
    assert rig.row(short_id) is not None
    await short.save(USER, msgspec.structs.replace(draft, draft_id=short.stamp()[0]))
    assert rig.row(short_id) is None

    off = rig.with_(drafts=DraftStore(rig.deps.store, ttl_s=0))  # type: ignore[arg-type]
    again = await _submit(off.deps, str(video))
    assert await run_task(off.deps, again) == "FAILURE"
    record = await rig.deps.tasks.get(again)
    assert record is not None and record.error is not None
    assert record.error.error == "not_a_recipe" and record.error.draft_id is msgspec.UNSET


def test_the_draft_ttl_is_a_setting() -> None:
    assert Settings.from_env({"RESIMPLY_DRAFT_TTL_S": "3600"}).draft_ttl_s == 3600
    assert Settings.from_env({"RESIMPLY_DRAFT_TTL_S": "0"}).draft_ttl_s == 0
    assert Settings.from_env({}).draft_ttl_s == 7 * 24 * 3600


def _busy_jpeg(width: int, height: int) -> bytes:
    """A JPEG with enough detail to be large (a camera frame rather than a flat colour)."""
    rnd = random.Random(7)
    pixels = bytes(
        v
        for y in range(height)
        for x in range(width)
        for v in ((x // 3 + y) % 256, (x * 3) % 256, rnd.randrange(0, 60), 255)
    )
    picture = VideoFrame.from_bytes(pixels, width, height, format="rgba")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="image2pipe") as out:
        stream = out.add_stream("mjpeg", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        for packet in [*stream.encode(picture.reformat(format="yuvj420p")), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


async def test_a_drafts_frames_are_made_small(rig: Rig) -> None:
    big = _busy_jpeg(1280, 720)
    assert len(big) > MAX_FRAME_BYTES
    frames = [DraftFrame(timestamp=t, jpeg=big, width=1280, height=720) for t in range(9)]
    picked = pick_frames(frames)
    assert [f.timestamp for f in picked] == [0, 3, 5, 8]  # spread, first and last kept
    small = await _shrink(rig.deps, picked)
    assert len(small) == MAX_FRAMES
    for frame in small:
        assert frame.jpeg.startswith(b"\xff\xd8") and len(frame.jpeg) <= MAX_FRAME_BYTES
        assert (frame.width, frame.height) == (FRAME_EDGE, 288)
        with av.open(io.BytesIO(frame.jpeg)) as container:
            decoded = next(container.decode(video=0))
            assert (decoded.width, decoded.height) == (frame.width, frame.height)


async def test_a_user_keeps_at_most_the_newest_drafts(rig: Rig) -> None:
    store = rig.drafts
    ids = []
    for n in range(MAX_DRAFTS_PER_USER + 2):
        draft_id, created, expires = store.stamp()
        ids.append(draft_id)
        await store.save(
            USER,
            Draft(
                draft_id=draft_id,
                task_id=f"t{n}",
                url="https://example.com/v.mp4",
                error="not_a_recipe",
                message="…",
                language=None,
                created_at=created,
                expires_at=expires,
                source=Source(platform="direct", url="https://example.com/v.mp4"),
            ),
        )
        await asyncio.sleep(0.002)  # distinct expiry scores, in creation order
    listed = [d.draft_id for d in await store.list(USER)]
    assert listed == ids[::-1][:MAX_DRAFTS_PER_USER]
    assert await store.get(USER, ids[0]) is None and await store.get(USER, ids[2]) is not None
    assert rig.row(ids[1]) is None and rig.row(ids[2]) is not None


async def test_a_partial_recipe_the_extractor_had_read_is_in_the_draft(rig: Rig) -> None:
    class StopsHalfway(RecordingExtractor):
        async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
            error = ExtractionFailed()
            error.partial = Recipe(title="Pancakes", ingredients=[Ingredient(text="200 g flour")])  # type: ignore[attr-defined]
            raise error

    rig = rig.with_(extractor=StopsHalfway())
    video = _video(rig, "halfway", PANCAKES_VTT, "Pancakes")
    task_id = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, task_id) == "FAILURE"
    (draft,) = await rig.drafts.list(USER)
    assert draft.partial is not None and draft.partial.title == "Pancakes"
    assert [i.text for i in draft.partial.ingredients] == ["200 g flour"]
    assert summary(draft).title == "Pancakes"


async def test_a_retry_of_an_expired_draft_ends_without_scraping(rig: Rig) -> None:
    task_id = await _submit(rig.deps, "/nowhere/video.mp4", draft_id="no-such-draft")
    assert await run_task(rig.deps, task_id) == "FAILURE"
    record = await rig.deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert record.error.error == "extraction_failed" and not record.error.retryable
    assert "send the link again" in record.error.message
    assert rig.scraper.calls == 0 and rig.extractor.inputs == []


# --- with the text read on screen (OCR: media/ocr.py) ---------------------------------

# Short videos (OCR reads each distinct shot, ~0.3–1 s each): a title card and a
# list, each held long enough for a shot of its own.
TRAVEL_CARDS = (
    Overlay(0.0, 1.5, ("Lisbon, day 3",)),
    Overlay(1.5, 3.0, ("Best sunset view", "in town")),
)
PANCAKE_CARDS = (
    Overlay(0.0, 1.5, ("Pancakes",)),
    Overlay(1.5, 3.0, ("Ingredients", "200 g flour", "2 eggs", "300 ml milk")),
)


def _screen_video(rig: Rig, name: str, overlays: tuple[Overlay, ...]) -> Path:
    return make_screen_video(rig.videos / f"{name}.mp4", overlays, seconds=3.0, keyframe_s=1.5)


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


async def test_text_on_screen_that_is_no_recipe_is_kept_in_the_draft(rig: Rig) -> None:
    require_ocr()
    rig = rig.with_(extractor=OfflineExtractor())
    video = _screen_video(rig, "lisbon", TRAVEL_CARDS)
    video.with_suffix(".txt").write_text(NOT_A_RECIPE_CAPTION)
    task_id = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, task_id) == "FAILURE"
    record = await rig.deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert record.error.error == "not_a_recipe" and isinstance(record.error.draft_id, str)

    draft = await rig.drafts.get(USER, record.error.draft_id)
    assert draft is not None and draft.caption == NOT_A_RECIPE_CAPTION
    # What OCR read, each card's lines once, in the order shown.
    assert _lines(draft.screen_text) == [line for card in TRAVEL_CARDS for line in card.lines]


async def test_a_retry_reads_the_list_shown_on_screen_from_the_draft(rig: Rig) -> None:
    require_ocr()

    class ModelAway(RecordingExtractor):
        name = "openai"  # the server's model, down for this first reading

    away = ModelAway(fail_first=1_000)
    rig = rig.with_(extractor=away)
    video = _screen_video(rig, "pancakes-on-screen", PANCAKE_CARDS)  # no caption, no speech
    first = await _submit(rig.deps, str(video))
    assert await run_task(rig.deps, first) == "FAILURE"
    failed = await rig.deps.tasks.get(first)
    assert failed is not None and failed.error is not None
    assert failed.error.error == "extraction_failed"
    draft_id = failed.error.draft_id
    assert isinstance(draft_id, str) and rig.scraper.calls == 1
    (seen,) = away.inputs  # the model was handed the screen's text, and failed
    assert seen.screen and "200 g flour" in seen.screen
    draft = await rig.drafts.get(USER, draft_id)
    assert draft is not None and draft.screen_text == seen.screen
    assert (draft.caption, draft.subtitles, draft.transcript) == (None, None, None)
    # The video is gone: a retry that scraped or downloaded it again would fail.
    video.unlink()

    retry = await _submit(rig.deps, str(video), extractor="offline", draft_id=draft_id)
    assert await run_task(rig.deps, retry) == "SUCCESS"
    assert rig.scraper.calls == 1 and len(away.inputs) == 1  # neither scraped nor the model
    done = await rig.deps.tasks.get(retry)
    assert done is not None and done.result is not None
    recipe = done.result.recipe
    assert recipe.title == "Pancakes"
    assert [(i.quantity, i.unit, i.name) for i in recipe.ingredients] == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (300.0, "ml", "milk"),
    ]
    assert list(done.result.evidence or []) == ["screen"]
    assert await rig.drafts.get(USER, draft_id) is None
