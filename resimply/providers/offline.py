"""The local extractor: reads the recipe out of caption and subtitle text, and the
text read on screen (`media.ocr`), with no model and no network (ARCHITECTURE.md,
"Providers"; the parser is `resimply.offline`).

It cannot look at frames or translate: the recipe stays in the video's
language, and `Recipe.language` says which one that is.
"""

from __future__ import annotations

import asyncio

from ..offline.recipes import parse_recipes
from .base import Extraction, ExtractionInput, ProgressReporter, screen_evidence


class OfflineExtractor:
    """`Extractor` that parses caption + subtitles/transcript; raises `NotARecipe`."""

    name = "offline"

    async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
        await progress.update("Reading caption and subtitles", 0.5)
        # Parsing is pure CPU work on bounded input (`offline.parse.MAX_CHARS`):
        # milliseconds for a caption, but up to about a second for the longest
        # subtitles and transcript read for spoken amounts, so it runs in a
        # thread and the event loop keeps serving other tasks meanwhile.
        # A post may hold several recipes (a main and its sauce: `offline.recipes`).
        recipes = await asyncio.to_thread(
            parse_recipes,
            data.caption,
            data.subtitles,
            data.transcript,
            data.language,
            source_language=data.source_language,
            screen=data.screen,
        )
        await progress.update("Recipe read from caption and subtitles", 1.0)
        texts = (
            ("caption", data.caption),
            ("subtitles", data.subtitles),
            ("transcript", data.transcript),
        )
        evidence = tuple(name for name, text in texts if text and text.strip())
        return Extraction(
            recipe=recipes[0],
            others=tuple(recipes[1:]),
            evidence=(*evidence, *screen_evidence(data)),
        )

    async def aclose(self) -> None:
        """Nothing to release: the extractor holds no connections."""
