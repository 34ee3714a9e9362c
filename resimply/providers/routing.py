"""One Scraper that sends each link to the scraper configured for its platform.

`links.platform_of` names the platform (TikTok, Instagram, YouTube); the
routes come from `RESIMPLY_SCRAPERS` (`Settings.platform_scrapers`), and a link
of no platform goes to the direct scraper (media files; web pages once it reads
them). The same object answers "what does this server take?" for the 422
messages, the landing page's hint and `GET /capabilities`, so what is routed and
what is announced cannot drift apart.

Fallback: an Apify run that fails for a reason another scraper could get past
(the run FAILED / TIMED-OUT / ABORTED, the API unavailable after its retries: a
*retryable* `scrape_failed`) is tried once with yt-dlp. A post that is private
or deleted (`video_not_found`), a photo post (`invalid_media`) or an operator
error (bad token, unknown actor: a non-retryable `scrape_failed`) is not: yt-dlp
would meet the same post, or the operator must act. When the fallback fails
too, the task ends with the first scraper's error (it says "try again later",
which stays true) and both are logged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import structlog

from .. import errors
from ..links import PLATFORM_FORMS, PLATFORM_NAMES, PLATFORMS, is_local_path, platform_of
from ..models import ScrapeRequest
from .base import ProgressReporter, ScrapedPost, Scraper

log = structlog.get_logger(__name__)

# Only a failure of these scrapers is tried again with the fallback.
FALLBACK_FROM = frozenset({"apify"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What this configuration accepts (`GET /capabilities`, the page's hint, 422s)."""

    platforms: dict[str, str]  # platform → scraper name, only the accepted ones
    fallback: str | None
    media_links: bool
    web_pages: bool
    local_files: bool

    def kinds(self) -> list[str]:
        """The kinds of link accepted, as phrases for people."""
        kinds = [PLATFORM_FORMS[p] for p in PLATFORMS if p in self.platforms]
        if self.web_pages:
            kinds.append("recipe web pages")
        if self.media_links:
            kinds.append("direct links to video files")
        if self.local_files:
            kinds.append("local file paths (development mode)")
        return kinds

    def example(self) -> str:
        """A link this configuration takes, for the page's input placeholder."""
        examples = {
            "tiktok": "https://www.tiktok.com/@chef/video/7234567890123456789",
            "instagram": "https://www.instagram.com/reel/C9xYz_AbC12/",
            "youtube": "https://www.youtube.com/shorts/dQw4w9WgXcQ",
        }
        platform = next((p for p in PLATFORMS if p in self.platforms), None)
        if platform is not None:
            return examples[platform]
        return "https://videos.example.com/carbonara.mp4"

    def hint(self) -> str:
        kinds = self.kinds()
        if not kinds:
            return "This server accepts no links in its current configuration."
        if len(kinds) == 1:
            return f"This server takes {kinds[0]}."
        return f"This server takes {', '.join(kinds[:-1])} and {kinds[-1]}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "platforms": [
                {
                    "platform": p,
                    "name": PLATFORM_NAMES[p],
                    "scraper": self.platforms[p],
                    "fallback": self.fallback if self.platforms[p] in FALLBACK_FROM else None,
                    "links": PLATFORM_FORMS[p],
                }
                for p in PLATFORMS
                if p in self.platforms
            ],
            "web_pages": self.web_pages,
            "media_links": self.media_links,
            "local_files": self.local_files,
            "hint": self.hint(),
        }


class RoutingScraper:
    """Implements `Scraper` by dispatching on `links.platform_of(url)`."""

    def __init__(
        self,
        routes: Mapping[str, Scraper],
        *,
        direct: Scraper | None,
        fallback: Scraper | None = None,
        dev: bool = False,
        why_off: Mapping[str, str] | None = None,
    ) -> None:
        self._routes = dict(routes)
        self._direct = direct
        self._fallback = fallback
        self._dev = dev
        # platform → why its links are refused (for the 422), when it is off.
        self._why_off = dict(why_off or {})
        names = {s.name for s in self._scrapers()}
        # One scraper: its own name (the progress line says "Using the direct
        # scraper" as before); several: all of them.
        self.name = "+".join(sorted(names)) or "none"

    def _scrapers(self) -> list[Scraper]:
        """Every distinct scraper, each once."""
        seen: dict[int, Scraper] = {}
        for scraper in (*self._routes.values(), self._direct, self._fallback):
            if scraper is not None:
                seen.setdefault(id(scraper), scraper)
        return list(seen.values())

    def scraper_for(self, url: str) -> Scraper | None:
        platform = platform_of(url)
        if platform is not None:
            return self._routes.get(platform)
        return self._direct

    def accepts(self, url: str) -> bool:
        scraper = self.scraper_for(url.strip())
        return scraper is not None and scraper.accepts(url)

    @property
    def capabilities(self) -> Capabilities:
        direct = self._direct
        return Capabilities(
            platforms={p: s.name for p, s in self._routes.items()},
            fallback=self._fallback.name if self._fallback is not None else None,
            media_links=direct is not None,
            # Set by a direct scraper that reads recipe pages (`web_pages = True`).
            web_pages=bool(getattr(direct, "web_pages", False)),
            local_files=direct is not None and self._dev,
        )

    def refusal(self, url: str) -> str:
        """Why `url` is refused, naming what this server takes instead (the 422)."""
        url = url.strip()
        hint = self.capabilities.hint()
        platform = platform_of(url)
        if platform is not None:
            name = PLATFORM_NAMES[platform]
            why = self._why_off.get(platform, "this server is not configured for them")
            return f"{name} links are not accepted here: {why}. {hint}"
        if is_local_path(url):
            if self._direct is not None and not self._dev:
                return f"Local files are accepted only in development mode (RESIMPLY_DEV=1). {hint}"
            return f"This is not a link this server can read. {hint}"
        return f"This link is not one this server can read. {hint}"

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        url = request.url.strip()
        scraper = self.scraper_for(url)
        if scraper is None or not scraper.accepts(url):
            raise errors.UnsupportedUrl(self.refusal(url))
        platform = platform_of(url)
        if platform is not None:
            await progress.update(
                f"Using the {scraper.name} scraper for this {PLATFORM_NAMES[platform]} link"
            )
        try:
            return await scraper.scrape(request, progress)
        except errors.ScrapeFailed as exc:
            fallback = self._fallback
            if (
                not exc.retryable
                or fallback is None
                or fallback is scraper
                or scraper.name not in FALLBACK_FROM
                or not fallback.accepts(url)
            ):
                raise
            log.warning(
                "scraper_fallback",
                platform=platform,
                failed=scraper.name,
                reason=exc.message,
                trying=fallback.name,
            )
            await progress.update(f"The {scraper.name} scraper failed; trying {fallback.name}")
            try:
                return await fallback.scrape(request, progress)
            except errors.TaskError as second:
                log.warning(
                    "scraper_fallback_failed",
                    platform=platform,
                    scraper=fallback.name,
                    error=second.code,
                    reason=second.message,
                )
                raise exc from second

    async def aclose(self) -> None:
        for scraper in self._scrapers():
            try:
                await scraper.aclose()
            except Exception as exc:  # one failing close must not leak the others
                log.warning("scraper_close_failed", scraper=scraper.name, error=type(exc).__name__)


def refusal(scraper: Scraper, url: str) -> str:
    """The 422 message for `url`, from the router when `scraper` is one."""
    if isinstance(scraper, RoutingScraper):
        return scraper.refusal(url)
    return errors.UnsupportedUrl.default_message


def capabilities_of(scraper: Scraper) -> Capabilities:
    """What `scraper` takes; a bare scraper (tests) is described by its name."""
    if isinstance(scraper, RoutingScraper):
        return scraper.capabilities
    return Capabilities(
        platforms={p: scraper.name for p in PLATFORMS if scraper.name != "direct"},
        fallback=None,
        media_links=scraper.name == "direct",
        web_pages=bool(getattr(scraper, "web_pages", False)),
        local_files=scraper.name == "direct" and bool(getattr(scraper, "dev", False)),
    )
