"""Builds the configured provider for each step (ARCHITECTURE.md, "Providers")."""

from __future__ import annotations

import importlib
from typing import Protocol

import structlog

from ..settings import Settings
from .base import Extractor, RecipeStore, Scraper, Transcriber
from .routing import RoutingScraper

log = structlog.get_logger(__name__)

# Imports are local so a process loads only the client libraries it uses.


def build_scraper(settings: Settings) -> RoutingScraper:
    """The router over the scrapers `settings.platform_scrapers()` names (providers/routing.py).

    A platform routed to yt-dlp while yt-dlp cannot be loaded is refused with a
    422 that says so (logged once at start), rather than failing every task.
    """
    routes: dict[str, Scraper] = {}
    why_off: dict[str, str] = {}
    apify: dict[str, Scraper] = {}
    wanted = settings.platform_scrapers()
    # yt-dlp is loaded once, when a platform or the fallback needs it.
    needs_ytdlp = "ytdlp" in wanted.values() or (
        "apify" in wanted.values() and settings.scraper_fallback
    )
    ytdlp = _ytdlp(settings) if needs_ytdlp else None
    for platform, name in wanted.items():
        if name == "apify":
            routes[platform] = apify[platform] = _apify(settings, platform)
        elif name == "ytdlp" and ytdlp is not None and platform in ytdlp.platforms:
            routes[platform] = ytdlp
        elif name == "ytdlp":
            why_off[platform] = "yt-dlp is not available on this server"
        else:
            why_off[platform] = f"RESIMPLY_SCRAPERS turns {platform} off"
    fallback = ytdlp if apify and settings.scraper_fallback else None
    from .direct import DirectScraper

    direct = DirectScraper(dev=settings.dev, allow_private_urls=settings.allow_private_urls)
    router = RoutingScraper(
        routes, direct=direct, fallback=fallback, dev=settings.dev, why_off=why_off
    )
    log.info(
        "scrapers",
        routes={p: s.name for p, s in routes.items()},
        off=sorted(why_off),
        fallback=fallback.name if fallback else None,
    )
    return router


def _apify(settings: Settings, platform: str) -> Scraper:
    if platform == "instagram":
        from .apify_instagram import ApifyInstagramScraper

        return ApifyInstagramScraper(settings)
    from .apify import ApifyScraper

    return ApifyScraper(settings)


class _PlatformScraper(Scraper, Protocol):
    platforms: frozenset[str]


def _ytdlp(settings: Settings) -> _PlatformScraper | None:
    """yt-dlp's scraper, or None when it cannot be loaded (not installed)."""
    try:
        module = importlib.import_module("resimply.providers.ytdlp")
    except ImportError as exc:
        log.warning("ytdlp_unavailable", error=str(exc))
        return None
    scraper: _PlatformScraper = module.YtDlpScraper(settings)
    return scraper


def build_extractor(settings: Settings) -> Extractor:
    if settings.extractor == "openai":
        from .openai_extractor import OpenAIExtractor

        return OpenAIExtractor(settings)
    from .offline import OfflineExtractor

    return OfflineExtractor()


def build_transcriber(settings: Settings) -> Transcriber | None:
    """Speech to text needs a model; the local configuration has none."""
    if settings.openai_api_key and settings.extractor == "openai":
        from .openai_transcriber import OpenAITranscriber

        return OpenAITranscriber(settings)
    return None


def build_store(settings: Settings) -> RecipeStore:
    if settings.store == "supabase":
        from .supabase_store import SupabaseRecipeStore

        return SupabaseRecipeStore(settings)
    from .sqlite_store import SqliteRecipeStore

    return SqliteRecipeStore(settings.sqlite_path)
