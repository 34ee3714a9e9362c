"""Builds the configured provider for each step (ARCHITECTURE.md, "Providers")."""

from __future__ import annotations

from ..settings import Settings, SettingsError
from .base import Extractor, RecipeStore, Scraper


def _not_yet(name: str) -> SettingsError:
    return SettingsError(
        f"The {name} provider is not available in this build; unset its credentials or "
        f"choose the local provider (see README, 'Configuration')."
    )


def build_scraper(settings: Settings) -> Scraper:
    if settings.scraper == "direct":
        from .direct import DirectScraper

        return DirectScraper(dev=settings.dev, allow_private_urls=settings.allow_private_urls)
    raise _not_yet("Apify scraper (RESIMPLY_SCRAPER=apify)")


def build_extractor(settings: Settings) -> Extractor:
    if settings.extractor == "offline":
        from .offline import OfflineExtractor

        return OfflineExtractor()
    raise _not_yet("OpenAI extractor (RESIMPLY_EXTRACTOR=openai)")


def build_store(settings: Settings) -> RecipeStore:
    if settings.store == "sqlite":
        from .sqlite_store import SqliteRecipeStore

        return SqliteRecipeStore(settings.sqlite_path)
    raise _not_yet("Supabase store (RESIMPLY_STORE=supabase)")
