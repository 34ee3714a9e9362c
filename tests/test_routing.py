"""Routing links to scrapers (providers/routing.py, providers/registry.py, RESIMPLY_SCRAPERS):
which scraper takes which link, the yt-dlp fallback after a retryable Apify failure
(through the real apify-client against the fake Apify API), what the server says it
accepts, and the settings that configure it.

yt-dlp's scraper is another module (providers/ytdlp.py); here a stand-in with its
interface plays that role, both handed to the router and loaded by the registry.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from resimply import errors
from resimply.models import ScrapeRequest
from resimply.providers.apify import ApifyScraper
from resimply.providers.apify_instagram import ApifyInstagramScraper
from resimply.providers.base import ProgressReporter, ScrapedPost, VideoRef
from resimply.providers.direct import DirectScraper
from resimply.providers.registry import build_scraper
from resimply.providers.routing import RoutingScraper, capabilities_of, refusal
from resimply.settings import Settings, SettingsError
from tests.fakes.apify import TOKEN, ApifyFakeState, Failure, FakePost, make_apify_app, make_item
from tests.fakes.server import start_fake
from tests.test_apify_instagram import BROKEN, PRIVATE, REEL, instagram_fake_state

USER = "00000000-0000-4000-8000-000000000001"
TIKTOK = "https://www.tiktok.com/@chefanna/video/7524354452762037512"
REEL_URL = f"https://www.instagram.com/reel/{REEL}/"
SHORT = "https://youtube.com/shorts/dQw4w9WgXcQ?si=abc"
MEDIA = "https://cdn.example.com/clip.mp4"


class Progress:
    def __init__(self) -> None:
        self.details: list[str] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.details.append(details)


class StandInYtDlp:
    """The yt-dlp scraper's interface (providers/ytdlp.py): records what it was asked."""

    name = "ytdlp"
    platforms = frozenset({"tiktok", "instagram", "youtube"})

    def __init__(self, settings: Settings | None = None, *, fail: errors.TaskError | None = None):
        self.settings = settings
        self.fail = fail
        self.scraped: list[str] = []
        self.closed = False

    def accepts(self, url: str) -> bool:
        from resimply.links import platform_of

        return platform_of(url) in self.platforms

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        self.scraped.append(request.url)
        if self.fail is not None:
            raise self.fail
        from resimply.links import post_id

        found = post_id(request.url)
        return ScrapedPost(
            platform=found[0] if found else "direct",
            url=request.url,
            video=VideoRef(url="https://cdn.example.com/ytdlp.mp4"),
            video_id=found[1] if found else None,
        )

    async def aclose(self) -> None:
        self.closed = True


class StandIn(StandInYtDlp):
    """Any other scraper (the router must not care which)."""

    def __init__(self, name: str, *, fail: errors.TaskError | None = None) -> None:
        super().__init__(fail=fail)
        self.name = name

    def accepts(self, url: str) -> bool:
        return True


def request(url: str) -> ScrapeRequest:
    return ScrapeRequest(url=url, user_id=USER)


# --- dispatch ------------------------------------------------------------------------


async def test_each_link_goes_to_its_platforms_scraper_and_others_to_direct() -> None:
    tiktok, instagram, youtube, direct = (StandIn(n) for n in ("a", "b", "c", "d"))
    router = RoutingScraper(
        {"tiktok": tiktok, "instagram": instagram, "youtube": youtube}, direct=direct
    )
    for url in (TIKTOK, REEL_URL, SHORT, MEDIA, "https://blog.example.com/pasta"):
        assert router.accepts(url)
        await router.scrape(request(url), Progress())
    assert tiktok.scraped == [TIKTOK] and instagram.scraped == [REEL_URL]
    assert youtube.scraped == [SHORT]
    assert direct.scraped == [MEDIA, "https://blog.example.com/pasta"]
    assert router.name == "a+b+c+d"
    await router.aclose()
    assert all(s.closed for s in (tiktok, instagram, youtube, direct))


async def test_a_platform_without_a_scraper_is_refused_not_sent_to_direct() -> None:
    direct = DirectScraper(dev=False, allow_private_urls=False)
    router = RoutingScraper({}, direct=direct, why_off={"youtube": "yt-dlp is not available"})
    assert router.name == "direct"  # as the progress line said before routing
    assert not router.accepts(SHORT)
    with pytest.raises(errors.UnsupportedUrl) as refused:
        await router.scrape(request(SHORT), Progress())
    assert refused.value.message.startswith(
        "YouTube links are not accepted here: yt-dlp is not available."
    )
    assert "direct links to video files" in refused.value.message


# --- fallback ------------------------------------------------------------------------


@dataclasses.dataclass
class Fake:
    state: ApifyFakeState
    base: str

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "apify_api_token": TOKEN,
            "apify_api_url": self.base,
            "scraper": "apify",
            "upstream_deadline_s": 2.0,
            "http_timeout_s": 5.0,
            **overrides,
        }
        return Settings(**values)


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    state = instagram_fake_state()
    state.add_post(FakePost(item=make_item("7524354452762037512"), video=b"video"))
    runner, base = await start_fake(make_apify_app(state))
    yield Fake(state, base)
    await runner.cleanup()


def apify_router(fake: Fake, ytdlp: StandInYtDlp, **settings: Any) -> RoutingScraper:
    s = fake.settings(**settings)
    return RoutingScraper(
        {"tiktok": ApifyScraper(s), "instagram": ApifyInstagramScraper(s), "youtube": ytdlp},
        direct=DirectScraper(dev=False, allow_private_urls=False),
        fallback=ytdlp,
    )


async def test_a_failed_apify_run_falls_back_to_ytdlp_once(
    fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    ytdlp = StandInYtDlp()
    router = apify_router(fake, ytdlp)
    url = f"https://www.instagram.com/p/{BROKEN}/"
    progress = Progress()
    post = await router.scrape(request(url), progress)
    await router.aclose()
    assert [r.final_status for r in fake.state.runs] == ["FAILED"]  # one Apify run
    assert ytdlp.scraped == [url]  # then yt-dlp, once
    assert post.platform == "instagram" and post.video_id == BROKEN
    assert "The apify scraper failed; trying ytdlp" in progress.details


async def test_apify_unavailable_after_retries_falls_back(fake: Fake) -> None:
    fake.state.failures.append(Failure("start", 503, times=1000))
    ytdlp = StandInYtDlp()
    router = apify_router(fake, ytdlp, upstream_deadline_s=1.0)
    post = await router.scrape(request(TIKTOK), Progress())
    await router.aclose()
    assert ytdlp.scraped == [TIKTOK] and post.video_id == "7524354452762037512"


@pytest.mark.parametrize(
    ("setup", "url", "error"),
    [
        ("private", f"https://www.instagram.com/p/{PRIVATE}/", errors.VideoNotFound),
        ("deleted", "https://www.tiktok.com/@a/video/1111111111111111111", errors.VideoNotFound),
        ("photo", "https://www.instagram.com/p/Cphoto12345/", errors.InvalidMedia),
        ("bad token", REEL_URL, errors.ScrapeFailed),
    ],
)
async def test_no_fallback_when_ytdlp_would_meet_the_same_answer(
    fake: Fake, setup: str, url: str, error: type[errors.TaskError]
) -> None:
    ytdlp = StandInYtDlp()
    overrides = {"apify_api_token": "wrong"} if setup == "bad token" else {}
    router = apify_router(fake, ytdlp, **overrides)
    with pytest.raises(error) as raised:
        await router.scrape(request(url), Progress())
    await router.aclose()
    assert ytdlp.scraped == []
    if setup == "bad token":
        assert not raised.value.retryable  # an operator's problem: retrying cannot help


async def test_when_the_fallback_fails_too_the_apify_error_stands(fake: Fake) -> None:
    ytdlp = StandInYtDlp(fail=errors.VideoNotFound("login required"))
    router = apify_router(fake, ytdlp)
    with pytest.raises(errors.ScrapeFailed) as raised:
        await router.scrape(request(f"https://www.instagram.com/p/{BROKEN}/"), Progress())
    await router.aclose()
    assert raised.value.retryable and "Instagram scraper run failed" in raised.value.message
    assert len(ytdlp.scraped) == 1


async def test_a_ytdlp_failure_is_not_retried_with_itself() -> None:
    ytdlp = StandInYtDlp(fail=errors.ScrapeFailed("extractor broke", retryable=True))
    router = RoutingScraper({"youtube": ytdlp}, direct=None, fallback=ytdlp)
    with pytest.raises(errors.ScrapeFailed):
        await router.scrape(request(SHORT), Progress())
    assert ytdlp.scraped == [SHORT]


# --- the registry and the settings -------------------------------------------------


@pytest.fixture
def ytdlp_module() -> Iterator[None]:
    """Make `resimply.providers.ytdlp` importable as the stand-in (the real one is
    another helper's module; the registry imports it lazily)."""
    module = types.ModuleType("resimply.providers.ytdlp")
    module.YtDlpScraper = StandInYtDlp  # type: ignore[attr-defined]
    saved = sys.modules.get("resimply.providers.ytdlp")
    sys.modules["resimply.providers.ytdlp"] = module
    yield
    if saved is None:
        del sys.modules["resimply.providers.ytdlp"]
    else:
        sys.modules["resimply.providers.ytdlp"] = saved


def routes(router: RoutingScraper) -> dict[str, str]:
    return {p["platform"]: p["scraper"] for p in router.capabilities.to_dict()["platforms"]}


async def test_defaults_with_a_token_use_apify_for_tiktok_and_instagram(
    ytdlp_module: None,
) -> None:
    router = build_scraper(Settings.from_env({"APIFY_API_TOKEN": TOKEN}))
    assert routes(router) == {"tiktok": "apify", "instagram": "apify", "youtube": "ytdlp"}
    caps = router.capabilities.to_dict()
    assert [p["fallback"] for p in caps["platforms"]] == ["ytdlp", "ytdlp", None]
    assert caps["media_links"] and not caps["local_files"]
    await router.aclose()


async def test_defaults_without_a_token_use_ytdlp_everywhere(ytdlp_module: None) -> None:
    router = build_scraper(Settings.from_env({}))
    assert routes(router) == {"tiktok": "ytdlp", "instagram": "ytdlp", "youtube": "ytdlp"}
    assert router.capabilities.fallback is None
    await router.aclose()


async def test_explicit_routes_and_off(ytdlp_module: None) -> None:
    settings = Settings.from_env(
        {"APIFY_API_TOKEN": TOKEN, "RESIMPLY_SCRAPERS": "tiktok:ytdlp, instagram:apify"}
    )
    router = build_scraper(settings)
    assert routes(router) == {"tiktok": "ytdlp", "instagram": "apify"}
    assert not router.accepts(SHORT)
    assert "RESIMPLY_SCRAPERS turns youtube off" in router.refusal(SHORT)
    await router.aclose()


@pytest.fixture
def no_ytdlp(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import resimply.providers.ytdlp` fails, as where yt-dlp is not installed."""
    monkeypatch.setitem(sys.modules, "resimply.providers.ytdlp", None)


async def test_without_ytdlp_installed_its_platforms_are_refused_with_the_reason(
    no_ytdlp: None,
) -> None:
    router = build_scraper(Settings.from_env({"RESIMPLY_DEV": "1"}))
    assert routes(router) == {}
    assert router.accepts(MEDIA) and not router.accepts(TIKTOK)
    assert router.refusal(TIKTOK).startswith(
        "TikTok links are not accepted here: yt-dlp is not available on this server."
    )
    await router.aclose()


def test_resimply_scraper_keeps_its_meaning() -> None:
    apify = Settings.from_env({"APIFY_API_TOKEN": TOKEN, "RESIMPLY_SCRAPER": "apify"})
    assert apify.platform_scrapers() == {
        "tiktok": "apify",
        "instagram": "apify",
        "youtube": "ytdlp",
    }
    direct = Settings.from_env({"APIFY_API_TOKEN": TOKEN, "RESIMPLY_SCRAPER": "direct"})
    assert set(direct.platform_scrapers().values()) == {"ytdlp"}  # no Apify account used
    with pytest.raises(SettingsError, match="needs APIFY_API_TOKEN"):
        Settings.from_env({"RESIMPLY_SCRAPER": "apify"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tiktok=apify", "platform:scraper pairs"),
        ("vimeo:ytdlp", "platform:scraper pairs"),
        ("youtube:apify", "youtube can use ytdlp, off"),
        ("instagram:direct", "instagram can use apify, ytdlp, off"),
        ("tiktok:apify", "routes tiktok to apify, which needs APIFY_API_TOKEN"),
    ],
)
def test_bad_routes_are_refused_at_start(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"RESIMPLY_SCRAPERS": value})


def test_the_fallback_can_be_turned_off() -> None:
    assert Settings.from_env({}).scraper_fallback
    assert not Settings.from_env({"RESIMPLY_SCRAPER_FALLBACK": "0"}).scraper_fallback
    settings = Settings.from_env({"APIFY_API_TOKEN": TOKEN, "RESIMPLY_SCRAPER_FALLBACK": "0"})
    router = build_scraper(settings)
    assert router.capabilities.fallback is None


# --- what the server says it takes -------------------------------------------------


def test_capabilities_and_hint_name_what_is_routed() -> None:
    router = RoutingScraper(
        {"tiktok": StandIn("apify"), "youtube": StandIn("ytdlp")},
        direct=DirectScraper(dev=True, allow_private_urls=False),
        fallback=StandIn("ytdlp"),
        dev=True,
    )
    caps = router.capabilities.to_dict()
    assert caps["platforms"][0]["platform"] == "tiktok"
    assert caps["platforms"][0]["fallback"] == "ytdlp"
    assert caps["platforms"][1] | {"links": ""} == {
        "platform": "youtube",
        "name": "YouTube",
        "scraper": "ytdlp",
        "fallback": None,
        "links": "",
    }
    assert (caps["media_links"], caps["web_pages"], caps["local_files"]) == (True, True, True)
    hint = caps["hint"]
    assert "TikTok videos" in hint and "YouTube Shorts" in hint and "Instagram" not in hint
    assert "direct links to video files" in hint and "local file paths" in hint
    assert "recipe web pages" in hint
    assert "Instagram links are not accepted here" in router.refusal(REEL_URL)
    assert refusal(router, REEL_URL) == router.refusal(REEL_URL)


def test_a_direct_scraper_that_reads_pages_is_announced() -> None:
    class Pages(DirectScraper):
        web_pages = True

    caps = capabilities_of(RoutingScraper({}, direct=Pages(dev=False, allow_private_urls=False)))
    assert caps.web_pages and "recipe web pages" in caps.hint()


def test_local_paths_outside_dev_mode_say_so() -> None:
    router = RoutingScraper({}, direct=DirectScraper(dev=False, allow_private_urls=False))
    assert router.refusal("/tmp/v.mp4").startswith(
        "Local files are accepted only in development mode"
    )
