"""The Apify Instagram scraper (`apify/instagram-scraper`) against the fake Apify API on
real loopback HTTP, driven by the real apify-client: the documented input, the
mapping of a Reel, and every failure the actor has (private post, photo post,
empty dataset, failed run, unknown actor)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from resimply import errors
from resimply.media.download import download
from resimply.models import ScrapeRequest
from resimply.providers.apify_instagram import ApifyInstagramScraper
from resimply.settings import Settings
from tests.fakes.apify import (
    INSTAGRAM_ACTOR_NAME,
    TOKEN,
    ApifyFakeState,
    Failure,
    FakeInstagramPost,
    make_apify_app,
    make_instagram_item,
)
from tests.fakes.server import start_fake

USER = "00000000-0000-4000-8000-000000000001"
REEL = "C9xYz_AbC12"
URL = f"https://www.instagram.com/reel/{REEL}/?igsh=MWZ0dGRhb2x1"
PRIVATE = "Cprivate123"
PHOTO = "Cphoto12345"
CAROUSEL = "Ccarousel12"
MIXED = "Cmixed12345"
BROKEN = "Cbroken1234"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


class Progress:
    def __init__(self) -> None:
        self.details: list[str] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.details.append(details)


@dataclasses.dataclass
class Fake:
    state: ApifyFakeState
    base: str

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "apify_api_token": TOKEN,
            "apify_api_url": self.base,
            "scraper": "apify",
            "upstream_deadline_s": 5.0,
            "http_timeout_s": 5.0,
            **overrides,
        }
        return Settings(**values)


def instagram_fake_state() -> ApifyFakeState:
    """The canned Instagram posts: a Reel, a private post, a photo, carousels, a failing run."""
    state = ApifyFakeState()
    state.add_instagram_post(REEL, FakeInstagramPost(item=make_instagram_item(REEL), video=VIDEO))
    state.add_instagram_post(
        PRIVATE,
        FakeInstagramPost(
            item={
                "url": f"https://www.instagram.com/p/{PRIVATE}/",
                "error": "restricted_page",
                "errorDescription": "This content is private or restricted.",
            }
        ),
    )
    state.add_instagram_post(
        PHOTO, FakeInstagramPost(item=make_instagram_item(PHOTO, kind="Image"))
    )
    photo_child = {"type": "Image", "displayUrl": "https://scontent.cdninstagram.com/1.jpg"}
    state.add_instagram_post(
        CAROUSEL,
        FakeInstagramPost(
            item=make_instagram_item(CAROUSEL, kind="Sidecar", children=[photo_child])
        ),
    )
    video_child = {"type": "Video", "videoUrl": "fake:cdn", "displayUrl": "https://x/2.jpg"}
    state.add_instagram_post(
        MIXED,
        FakeInstagramPost(
            item=make_instagram_item(MIXED, kind="Sidecar", children=[photo_child, video_child]),
            video=VIDEO,
        ),
    )
    state.add_instagram_post(
        BROKEN,
        FakeInstagramPost(item=make_instagram_item(BROKEN), video=VIDEO, run_status="FAILED"),
    )
    return state


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = instagram_fake_state()
    runner, base = await start_fake(make_apify_app(state))
    yield Fake(state, base)
    await runner.cleanup()


async def scrape(fake: Fake, url: str = URL, **settings: Any) -> tuple[Any, Progress]:
    scraper = ApifyInstagramScraper(fake.settings(**settings))
    progress = Progress()
    try:
        result: Any = await scraper.scrape(ScrapeRequest(url=url, user_id=USER), progress)
    except errors.TaskError as exc:
        result = exc
    finally:
        await scraper.aclose()
    return result, progress


def link(code: str) -> str:
    return f"https://www.instagram.com/p/{code}/"


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        (URL, True),
        (f"https://instagram.com/reels/{REEL}", True),
        (f"https://www.instagram.com/tv/{REEL}/", True),
        (f"https://www.instagram.com/chefanna/reel/{REEL}/", True),
        ("https://www.instagram.com/chefanna/", False),
        ("https://www.tiktok.com/@a/video/7524354452762037512", False),
        ("https://cdn.example.com/clip.mp4", False),
    ],
)
def test_accepts_reels_and_posts(url: str, accepted: bool) -> None:
    assert ApifyInstagramScraper(Settings(apify_api_token=TOKEN)).accepts(url) is accepted


async def test_a_reel_is_scraped_with_the_documented_input(fake: Fake) -> None:
    post, progress = await scrape(fake)
    assert not isinstance(post, Exception), post
    (run,) = fake.state.runs
    assert run.actor_id == INSTAGRAM_ACTOR_NAME
    assert run.input == {
        "directUrls": [URL],
        "resultsType": "posts",
        "resultsLimit": 1,
        "addParentData": False,
        "proxyConfiguration": {"useApifyProxy": True, "apifyProxyGroups": ["RESIDENTIAL"]},
    }
    assert post.platform == "instagram" and post.video_id == REEL
    assert post.url == f"https://www.instagram.com/reel/{REEL}/"
    assert post.caption == "Crispy smashed potatoes 🥔 #recipe"
    assert post.author == "chefanna"
    assert post.thumbnail_url == f"https://scontent.cdninstagram.com/v/{REEL}.jpg"
    assert post.video.url is not None and post.video.url.endswith(f"/cdn/ig/{REEL}.mp4")
    assert post.video.headers == {}  # Instagram's CDN never gets the Apify token
    assert post.subtitles == () and post.cost_usd == 0.01
    assert "Starting the Instagram scraper" in progress.details


async def test_the_reel_video_downloads_from_the_cdn_without_the_token(
    fake: Fake, tmp_path: Path
) -> None:
    post, _ = await scrape(fake)
    assert post.video.url.startswith("http://localhost:")  # another origin than the API
    dest = tmp_path / "reel.mp4"
    await download(post.video, dest, max_bytes=10**6, timeout_s=10, progress=Progress())
    assert dest.read_bytes() == VIDEO
    (hit,) = fake.state.hits("cdn")
    assert hit.authorization is None and not hit.token_param


async def test_a_carousel_with_a_video_gives_that_video(fake: Fake) -> None:
    post, _ = await scrape(fake, link(MIXED))
    assert not isinstance(post, Exception), post
    assert post.video.url is not None and post.video.url.endswith(f"/cdn/ig/{MIXED}.mp4")


@pytest.mark.parametrize(
    ("code", "error", "retryable", "says"),
    [
        (PRIVATE, errors.VideoNotFound, False, "private"),
        ("Cunknown123", errors.VideoNotFound, False, "does not exist"),
        (PHOTO, errors.InvalidMedia, False, "a photo, not a video"),
        (CAROUSEL, errors.InvalidMedia, False, "a photo carousel"),
        (BROKEN, errors.ScrapeFailed, True, "Instagram scraper run failed"),
    ],
)
async def test_failures_map_to_task_errors(
    fake: Fake, code: str, error: type[errors.TaskError], retryable: bool, says: str
) -> None:
    result, _ = await scrape(fake, link(code))
    assert type(result) is error, result
    assert result.retryable is retryable
    assert says in result.message


async def test_an_empty_dataset_is_video_not_found(fake: Fake) -> None:
    fake.state.instagram_missing_item = None
    result, _ = await scrape(fake, link("Cgone123456"))
    assert isinstance(result, errors.VideoNotFound)


async def test_upstream_500s_until_the_deadline_are_retryable(fake: Fake) -> None:
    fake.state.failures.append(Failure("start", 500, times=1000))
    result, _ = await scrape(fake, upstream_deadline_s=1.0)
    assert isinstance(result, errors.ScrapeFailed) and result.retryable
    assert "Instagram scraper service is unavailable" in result.message


async def test_an_unknown_actor_is_permanent_and_names_the_setting(fake: Fake) -> None:
    result, _ = await scrape(fake, apify_instagram_actor_id="someone~nothing")
    assert isinstance(result, errors.ScrapeFailed) and not result.retryable
    assert "APIFY_INSTAGRAM_ACTOR_ID" in result.message
