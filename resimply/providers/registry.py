"""Builds the configured provider for each step (ARCHITECTURE.md, "Providers")."""

from __future__ import annotations

from ..settings import Settings
from .base import Extractor, RecipeStore, Scraper, Transcriber

# Imports are local so a process loads only the client libraries it uses.


def build_scraper(settings: Settings) -> Scraper:
    if settings.scraper == "apify":
        from .apify import ApifyScraper

        return ApifyScraper(settings)
    from .direct import DirectScraper

    return DirectScraper(dev=settings.dev, allow_private_urls=settings.allow_private_urls)


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
