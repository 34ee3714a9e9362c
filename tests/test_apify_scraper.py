"""The Apify TikTok scraper against a fake Apify API on real loopback HTTP,
driven by the real apify-client."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from resimply import errors
from resimply.media.download import download
from resimply.models import ScrapeRequest
from resimply.providers import apify as apify_module
from resimply.providers.apify import ApifyScraper, choose_subtitle, language_code
from resimply.providers.base import SubtitleTrack, VideoRef
from resimply.settings import Settings
from tests.fakes.apify import (
    ACTOR_ID,
    TOKEN,
    ApifyFakeState,
    Failure,
    FakePost,
    FakeSubtitle,
    make_apify_app,
    make_item,
)
from tests.fakes.server import start_fake

USER = "00000000-0000-4000-8000-000000000001"
VID = "7524354452762037512"
URL = f"https://www.tiktok.com/@chefanna/video/{VID}?lang=en"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64
VTT_EN = "WEBVTT\n\n00:00.000 --> 00:02.000\nAdd 200 g flour\n"
VTT_FR = "WEBVTT\n\n00:00.000 --> 00:02.000\nAjoutez 200 g de farine\n"
VTT_UR = "WEBVTT\n\n00:00.000 --> 00:02.000\n200 گرام آٹا\n"
VTT_ES = "WEBVTT\n\n00:00.000 --> 00:02.000\nAñade 200 g de harina\n"


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[str, float | None]] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append((details, fraction))

    @property
    def details(self) -> list[str]:
        return [d for d, _ in self.updates]


@dataclasses.dataclass
class Fake:
    state: ApifyFakeState
    base: str

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "apify_api_token": TOKEN,
            "apify_api_url": self.base,
            "scraper": "apify",
            "upstream_deadline_s": 10.0,
            "http_timeout_s": 5.0,
            **overrides,
        }
        return Settings(**values)


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = ApifyFakeState()
    state.add_post(
        FakePost(
            item=make_item(VID),
            video=VIDEO,
            subtitles=[
                FakeSubtitle("fra-FR", VTT_FR, "MT"),
                FakeSubtitle("eng-US", VTT_EN, "ASR"),
            ],
        )
    )
    runner, base = await start_fake(make_apify_app(state))
    yield Fake(state, base)
    await runner.cleanup()


async def scrape(
    fake: Fake, url: str = URL, *, language: str | None = None, **settings: Any
) -> tuple[Any, Progress]:
    """Scrape once with a fresh scraper; return (post or raised TaskError, progress)."""
    scraper = ApifyScraper(fake.settings(**settings))
    progress = Progress()
    try:
        result: Any = await scraper.scrape(
            ScrapeRequest(url=url, user_id=USER, language=language), progress
        )
    except errors.TaskError as exc:
        result = exc
    finally:
        await scraper.aclose()
    return result, progress


EXPECTED_INPUT = {
    "postURLs": [URL],
    "scrapeRelatedVideos": False,
    "resultsPerPage": 1,
    "shouldDownloadVideos": True,
    "shouldDownloadCovers": False,
    "shouldDownloadSlideshowImages": False,
    "downloadSubtitlesOptions": "DOWNLOAD_SUBTITLES",
    "proxyConfiguration": {"useApifyProxy": True, "apifyProxyGroups": ["RESIDENTIAL"]},
}


# --- accepts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        (URL, True),
        (f"https://m.tiktok.com/v/{VID}.html", True),
        ("https://vm.tiktok.com/ZMabc1234/", True),
        ("https://vt.tiktok.com/ZSxyz987", True),
        ("https://www.tiktok.com/@chefanna", False),
        ("https://www.instagram.com/reel/abc/", False),
        ("https://cdn.example.com/clip.mp4", False),
        ("", False),
    ],
)
def test_accepts_tiktok_video_and_short_links(url: str, accepted: bool) -> None:
    scraper = ApifyScraper(Settings(apify_api_token=TOKEN))
    assert scraper.accepts(url) is accepted


def test_needs_a_token() -> None:
    with pytest.raises(ValueError, match="APIFY_API_TOKEN"):
        ApifyScraper(Settings())


# --- success -------------------------------------------------------------------


async def test_scrape_returns_the_post_and_sends_the_documented_input(fake: Fake) -> None:
    post, progress = await scrape(fake)

    key = f"video-chefanna-20250707145813-{VID}"
    record = f"{fake.base}/v2/key-value-stores/kvs0001/records/{key}"
    assert post.platform == "tiktok"
    assert post.url == f"https://www.tiktok.com/@chefanna/video/{VID}"
    assert post.video_id == VID
    assert post.author == "chefanna"
    assert post.caption == "Creamy garlic pasta in 15 minutes #pasta #recipe"
    assert post.language == "en"
    assert post.thumbnail_url == f"https://p16-sign-sg.tiktokcdn.com/cover/{VID}.jpeg"
    assert post.video == VideoRef(
        url=record, headers={"Authorization": f"Bearer {TOKEN}"}, allow_private=True
    )
    # The original language's speech-recognition track, not the French translation.
    assert post.subtitles == (SubtitleTrack(language="en", text=VTT_EN, origin="platform"),)

    (run,) = fake.state.runs
    assert run.input == EXPECTED_INPUT
    assert run.query == {"timeout": "180"}
    assert run.actor_id == ACTOR_ID
    (start,) = fake.state.hits("start")
    assert start.path == f"/v2/actors/{ACTOR_ID}/runs"
    (items,) = fake.state.hits("items")
    assert items.path == "/v2/datasets/ds0001/items"
    assert items.query == {"limit": "10"}
    api_hits = [r for r in fake.state.requests if r.route != "cdn"]
    assert {r.authorization for r in api_hits} == {f"Bearer {TOKEN}"}
    assert not any(r.token_param for r in fake.state.requests)
    # The subtitle link is on another origin (TikTok's CDN): no token goes there.
    (cdn,) = fake.state.hits("cdn")
    assert cdn.path == f"/cdn/subtitles/{VID}/eng-US.vtt"
    assert cdn.authorization is None
    assert progress.details[0] == "Starting the TikTok scraper"
    assert "Waiting for the scraper" in progress.details
    assert progress.updates[-1] == ("Scraped the post", 1.0)


async def test_proxy_country_is_sent_when_configured(fake: Fake) -> None:
    post, _ = await scrape(fake, apify_proxy_country="US", apify_run_timeout_s=90)
    assert post.video_id == VID
    (run,) = fake.state.runs
    assert run.input["proxyConfiguration"] == {
        "useApifyProxy": True,
        "apifyProxyGroups": ["RESIDENTIAL"],
        "apifyProxyCountry": "US",
    }
    assert run.query == {"timeout": "90"}


async def test_the_item_of_the_requested_video_is_picked_from_several(fake: Fake) -> None:
    other = make_item("7000000000000000001", author="someoneelse")
    fake.state.dataset_prefix = [other, {"error": "Post not found or private."}]
    post, _ = await scrape(fake)
    assert post.video_id == VID
    assert post.author == "chefanna"
    (items,) = fake.state.hits("items")
    assert items.query == {"limit": "10"}


async def test_short_link_is_passed_to_the_actor_as_is(fake: Fake) -> None:
    short = "https://vm.tiktok.com/ZMabc1234/"
    fake.state.short_links[short] = VID
    post, _ = await scrape(fake, short)
    assert fake.state.runs[0].input["postURLs"] == [short]
    assert post.video_id == VID
    assert post.url == f"https://www.tiktok.com/@chefanna/video/{VID}"


async def test_waits_for_a_slow_run_with_progress(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apify_module, "WAIT_SLICE_S", 1.0)
    fake.state.run_duration_s = 2.5
    post, progress = await scrape(fake)
    assert post.video_id == VID
    waits = [d for d in progress.details if d.startswith("Waiting for the scraper (")]
    assert len(waits) >= 2
    polls = fake.state.hits("run")
    assert len(polls) >= 3
    assert {p.query["waitForFinish"] for p in polls} <= {"0", "1"}


async def test_a_run_that_outlives_its_budget_is_aborted(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apify_module, "WAIT_SLICE_S", 0.5)
    monkeypatch.setattr(apify_module, "RUN_GRACE_S", 0.0)
    fake.state.run_duration_s = 60
    started = time.monotonic()
    error, _ = await scrape(fake, apify_run_timeout_s=1)
    assert time.monotonic() - started < 5
    assert isinstance(error, errors.ScrapeFailed)
    assert error.retryable is True
    assert error.message == (
        "The TikTok scraper did not finish within 1 seconds; please try again later."
    )
    assert len(fake.state.hits("abort")) == 1  # aclose waited for the abort
    assert fake.state.runs[0].status == "ABORTED"


# --- subtitles -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "text_language", "expected"),
    [
        ("fr", "en", ("fr", VTT_FR)),  # requested language, even machine-translated
        ("de", "en", ("en", VTT_EN)),  # no German: the video's own language
        (None, "ur", ("ur", VTT_UR)),  # the original, named "urd-PK"
        (None, "ja", ("ur", VTT_UR)),  # neither: any, speech recognition before MT
        ("es", "en", ("es", VTT_ES)),  # "spa-ES" is Spanish, not "sp"
    ],
)
async def test_subtitle_language_choice(
    fake: Fake, requested: str | None, text_language: str, expected: tuple[str, str]
) -> None:
    fake.state.add_post(
        FakePost(
            item=make_item(VID, language=text_language),
            video=VIDEO,
            subtitles=[
                FakeSubtitle("eng-US", VTT_EN, "MT"),
                FakeSubtitle("fra-FR", VTT_FR, "MT"),
                FakeSubtitle("urd-PK", VTT_UR, "ASR"),
                FakeSubtitle("spa-ES", VTT_ES, "MT"),
            ],
        )
    )
    post, _ = await scrape(fake, language=requested)
    assert [(t.language, t.text, t.origin) for t in post.subtitles] == [(*expected, "platform")]
    assert len(fake.state.hits("cdn")) == 1  # only the chosen track is fetched


async def test_subtitles_hosted_in_the_key_value_store_get_the_token(fake: Fake) -> None:
    fake.state.subtitle_host = "api"
    post, _ = await scrape(fake)
    assert post.subtitles == (SubtitleTrack(language="en", text=VTT_EN, origin="platform"),)
    records = fake.state.hits("record")
    assert [r.path for r in records] == [
        f"/v2/key-value-stores/kvs0001/records/subtitles-{VID}-eng-US"
    ]
    assert records[0].authorization == f"Bearer {TOKEN}"


async def test_failing_subtitles_are_not_fatal(fake: Fake) -> None:
    fake.state.failures.append(Failure(route="cdn", status=410, times=5))
    post, _ = await scrape(fake)
    assert post.video_id == VID
    assert post.subtitles == ()
    assert len(fake.state.hits("cdn")) == 1  # a 410 is not retried


async def test_subtitle_fetch_retries_a_503(fake: Fake) -> None:
    fake.state.failures.append(Failure(route="cdn", status=503, retry_after="0"))
    post, _ = await scrape(fake)
    assert post.subtitles == (SubtitleTrack(language="en", text=VTT_EN, origin="platform"),)
    assert len(fake.state.hits("cdn")) == 2


def test_choose_subtitle_ignores_tracks_without_a_usable_link() -> None:
    links: list[Any] = [
        {"language": "eng-US", "downloadLink": "", "source": "ASR"},
        {"language": "eng-US", "downloadLink": "ftp://x/y.vtt", "source": "ASR"},
        "junk",
        {"language": "deu-DE", "downloadLink": "https://cdn.example/de.vtt", "source": "MT"},
    ]
    assert choose_subtitle(links, "en", "en") == links[3]
    assert choose_subtitle(links[:3], "en", "en") is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("eng-US", "en"),
        ("cmn-Hans-CN", "zh"),
        ("pt-BR", "pt"),
        ("EN", "en"),
        ("un", None),
        ("xyz", None),
        (None, None),
    ],
)
def test_language_code(value: str | None, code: str | None) -> None:
    assert language_code(value) == code


# --- the post is not usable ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("FAILED", "The TikTok scraper run failed; please try again later."),
        ("TIMED-OUT", "The TikTok scraper run timed out; please try again later."),
        ("ABORTED", "The TikTok scraper run was aborted; please try again later."),
    ],
)
async def test_unsuccessful_run_is_a_retryable_scrape_failure(
    fake: Fake, status: str, message: str
) -> None:
    fake.state.run_status = status
    error, _ = await scrape(fake)
    assert isinstance(error, errors.ScrapeFailed)
    assert (error.code, error.retryable, error.message) == ("scrape_failed", True, message)
    assert fake.state.hits("items") == []


async def test_deleted_post_is_video_not_found(fake: Fake) -> None:
    error, _ = await scrape(fake, "https://www.tiktok.com/@chefanna/video/7000000000000000999")
    assert isinstance(error, errors.VideoNotFound)
    assert error.code == "video_not_found"
    assert error.retryable is False
    assert error.message == "TikTok reports that this post does not exist or is private."


async def test_empty_dataset_is_video_not_found(fake: Fake) -> None:
    fake.state.missing_post_item = None
    error, _ = await scrape(fake, "https://www.tiktok.com/@chefanna/video/7000000000000000999")
    assert isinstance(error, errors.VideoNotFound)
    assert error.message == (
        "The scraper found no post at this link; it may be private or deleted."
    )
    assert fake.state.runs[0].items == []


async def test_slideshow_is_refused_as_invalid_media(fake: Fake) -> None:
    fake.state.add_post(FakePost(item=make_item(VID, slideshow=True)))
    error, _ = await scrape(fake)
    assert isinstance(error, errors.InvalidMedia)
    assert (error.code, error.retryable) == ("invalid_media", False)
    assert error.message == (
        "This post is a photo slideshow, not a video; send a link to a TikTok video."
    )


async def test_post_without_downloaded_video_is_scrape_failed(fake: Fake) -> None:
    fake.state.add_post(FakePost(item=make_item(VID), video=VIDEO, downloadable=False))
    error, _ = await scrape(fake)
    assert isinstance(error, errors.ScrapeFailed)
    assert error.code == "scrape_failed"
    assert "video download is unavailable" in error.message


# --- retries and permanent failures ---------------------------------------------


async def test_429_with_retry_after_is_waited_out(fake: Fake) -> None:
    fake.state.failures.append(Failure(route="start", status=429, times=2, retry_after="1"))
    post, _ = await scrape(fake)
    assert post.video_id == VID
    starts = fake.state.hits("start")
    assert len(starts) == 3  # two refusals, then the run
    gaps = [b.at - a.at for a, b in itertools.pairwise(starts)]
    assert all(0.95 <= gap < 2.0 for gap in gaps), gaps
    assert len(fake.state.runs) == 1


async def test_500s_until_the_deadline_give_up_in_time(fake: Fake) -> None:
    fake.state.failures.append(Failure(route="start", status=500, times=10**6))
    started = time.monotonic()
    error, _ = await scrape(fake, upstream_deadline_s=2.0)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0, elapsed
    assert isinstance(error, errors.ScrapeFailed)
    assert error.retryable is True
    assert error.message == (
        "The TikTok scraper service is unavailable (starting the scraper: HTTP 500); "
        "please try again later."
    )
    assert len(fake.state.hits("start")) >= 2
    assert fake.state.runs == []


async def test_a_503_while_reading_results_is_retried(fake: Fake) -> None:
    fake.state.failures.append(Failure(route="items", status=503, times=1))
    post, _ = await scrape(fake)
    assert post.video_id == VID
    assert len(fake.state.hits("items")) == 2
    assert len(fake.state.runs) == 1


async def test_invalid_token_is_permanent_and_not_quoted(fake: Fake) -> None:
    bad = "apify_api_WRONGtoken987654321"
    error, _ = await scrape(fake, apify_api_token=bad)
    assert isinstance(error, errors.ScrapeFailed)
    assert error.retryable is False
    assert error.message == "The Apify API refused the token (HTTP 401); check APIFY_API_TOKEN."
    assert bad not in str(error.to_dict())
    assert TOKEN not in str(error.to_dict())
    assert len(fake.state.hits("start")) == 1  # not retried


async def test_unknown_actor_is_permanent(fake: Fake) -> None:
    error, _ = await scrape(fake, apify_actor_id="nobody/no-such-actor")
    assert isinstance(error, errors.ScrapeFailed)
    assert error.retryable is False
    assert error.message == (
        "The Apify actor 'nobody/no-such-actor' was not found (HTTP 404); check APIFY_ACTOR_ID."
    )
    (start,) = fake.state.hits("start")
    assert start.path == "/v2/actors/nobody~no-such-actor/runs"


# --- the video -----------------------------------------------------------------


async def test_video_downloads_from_the_key_value_store_with_the_token(
    fake: Fake, tmp_path: Path
) -> None:
    post, _ = await scrape(fake)
    path = await download(
        post.video, tmp_path / "v.mp4", max_bytes=10**6, timeout_s=10, progress=Progress()
    )
    assert path.read_bytes() == VIDEO
    (record,) = fake.state.hits("record")
    assert record.authorization == f"Bearer {TOKEN}"

    anonymous = dataclasses.replace(post.video, headers={})
    with pytest.raises(errors.VideoNotFound, match="HTTP 403"):
        await download(
            anonymous, tmp_path / "x.mp4", max_bytes=10**6, timeout_s=10, progress=Progress()
        )
    assert not (tmp_path / "x.mp4").exists()


async def test_video_on_another_host_gets_no_token(fake: Fake, tmp_path: Path) -> None:
    fake.state.video_host = "cdn"
    post, _ = await scrape(fake)
    port = fake.base.rsplit(":", 1)[1]
    assert post.video == VideoRef(
        url=f"http://localhost:{port}/cdn/video/{VID}.mp4", headers={}, allow_private=True
    )
    path = await download(
        post.video, tmp_path / "v.mp4", max_bytes=10**6, timeout_s=10, progress=Progress()
    )
    assert path.read_bytes() == VIDEO


@pytest.mark.parametrize("stream", ["endless", "oversized"])
async def test_oversized_video_stream_is_cut_at_the_cap(
    fake: Fake, tmp_path: Path, stream: str
) -> None:
    fake.state.video_stream = stream  # type: ignore[assignment]
    post, _ = await scrape(fake)
    with pytest.raises(errors.VideoTooLarge):
        await download(
            post.video, tmp_path / "v.mp4", max_bytes=512 * 1024, timeout_s=10, progress=Progress()
        )
    assert not (tmp_path / "v.mp4").exists()


async def test_public_api_url_keeps_private_downloads_refused() -> None:
    scraper = ApifyScraper(Settings(apify_api_token=TOKEN))
    post = scraper.post_from_item(
        {
            **make_item(VID),
            "mediaUrls": ["https://api.apify.com/v2/key-value-stores/s/records/k"],
        },
        URL,
    )
    assert post.video == VideoRef(
        url="https://api.apify.com/v2/key-value-stores/s/records/k",
        headers={"Authorization": f"Bearer {TOKEN}"},
        allow_private=False,
    )
    other = scraper.post_from_item(
        {**make_item(VID), "mediaUrls": ["https://v16.tiktokcdn.com/video.mp4"]}, URL
    )
    assert other.video.headers == {}
    await scraper.aclose()


async def test_a_cancelled_scrape_aborts_its_run(fake: Fake) -> None:
    fake.state.run_duration_s = 60
    scraper = ApifyScraper(fake.settings())
    task = asyncio.create_task(scraper.scrape(ScrapeRequest(url=URL, user_id=USER), Progress()))
    while not fake.state.hits("run"):
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await scraper.aclose()
    assert len(fake.state.hits("abort")) == 1
    assert fake.state.runs[0].status == "ABORTED"


# --- the fake itself -------------------------------------------------------------


async def test_fake_accepts_gzip_bodies_and_query_tokens(fake: Fake) -> None:
    body = gzip.compress(json.dumps({**EXPECTED_INPUT, "pad": "x" * 2000}).encode())
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{fake.base}/v2/acts/{ACTOR_ID}/runs?timeout=60",
            data=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "error": {
                    "type": "token-not-provided",
                    "message": "Authentication token was not provided",
                }
            }
        async with session.post(
            f"{fake.base}/v2/acts/{ACTOR_ID}/runs?timeout=60&token={TOKEN}",
            data=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 201
            run = (await resp.json())["data"]
        assert run["status"] == "RUNNING"
        assert run["defaultDatasetId"] == "ds0001"
        async with session.get(
            f"{fake.base}/v2/datasets/ds0001/items?offset=0&limit=5&token={TOKEN}"
        ) as resp:
            assert await resp.json() == []  # the run has not finished yet
            assert {k: v for k, v in resp.headers.items() if k.startswith("X-Apify")} == {
                "X-Apify-Pagination-Total": "0",
                "X-Apify-Pagination-Offset": "0",
                "X-Apify-Pagination-Limit": "5",
                "X-Apify-Pagination-Count": "0",
                "X-Apify-Pagination-Desc": "false",
            }
        key = f"video-chefanna-20250707145813-{VID}"
        record = f"{fake.base}/v2/key-value-stores/kvs0001/records/{key}"
        async with session.get(record) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["type"] == "insufficient-permissions"
        async with session.get(f"{record}?token={TOKEN}") as resp:
            assert resp.status == 200
            assert resp.content_type == "video/mp4"
            assert await resp.read() == VIDEO
    (recorded,) = fake.state.runs
    assert recorded.content_encoding == "gzip"
    assert recorded.input["postURLs"] == [URL]
    assert recorded.query == {"timeout": "60", "token": TOKEN}
