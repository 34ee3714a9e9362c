"""The extraction cache: a video read once is never paid for twice.

Key: platform + the platform's video id + the requested language + the pipeline
version (`PIPELINE_VERSION`, plus the extractor and its model: a recipe read by
another model is another recipe). Value: the recipe as extracted (before it is
stored, so without id / created_at), the thumbnail and the evidence, as msgpack,
with a TTL (`Settings.cache_ttl_s`; 0 turns the cache off).

Only platform posts are cached (`CACHEABLE_PLATFORMS`): their id names one
immutable video (TikTok video id, Instagram shortcode, YouTube video id:
`links.post_id`). A recipe page is cached too, under platform "page" and
`links.page_id` (its canonical URL without tracking parameters, hashed), when
its scraper reports `ScrapedPost(platform="page", video_id=links.page_id(url))`.
A direct media link or a local file may change behind the same name, and its
caption comes from the request, so it is always read afresh.

Only successful extractions are written; failures (not a recipe, upstream
errors) are never cached. The cache is best-effort: a Redis error while
reading or writing it is logged and the task goes on as if it had missed.
"""

from __future__ import annotations

import time

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .. import metrics
from ..keys import Keys
from ..links import page_id, post_id
from ..models import Recipe
from ..settings import Settings

log = structlog.get_logger(__name__)

# Bump when a change to the steps changes what a video's recipe would be.
# "2": the offline extractor finds several recipes in one post.
PIPELINE_VERSION = "2"
CACHEABLE_PLATFORMS = frozenset({"tiktok", "instagram", "youtube", "page"})
# A thumbnail larger than this is not kept in Redis (the frames are ~50 KB).
MAX_THUMBNAIL_BYTES = 512 * 1024


class CachedExtraction(msgspec.Struct, kw_only=True):
    recipe: Recipe
    thumbnail: bytes | None = None
    evidence: list[str] = msgspec.field(default_factory=list)
    created_at: float = 0.0
    task_id: str | None = None  # the task that paid for it (for the logs)
    others: list[Recipe] = msgspec.field(default_factory=list)  # the post's further recipes


_decoder = msgspec.msgpack.Decoder(CachedExtraction)


def platform_id_of_link(url: str) -> tuple[str, str] | None:
    """(platform, id) when the link itself names the post or page (before any scrape).

    A web link is looked up as a page: only a page's scrape writes that key, so
    a media link simply misses."""
    found = post_id(url)
    if found is not None:
        return found
    page = page_id(url)
    return ("page", page) if page else None


def cache_variant(settings: Settings) -> str:
    """The part of the pipeline version that comes from the configuration."""
    if settings.extractor == "openai":
        return f"openai:{settings.openai_model}"
    return settings.extractor


class ExtractionCache:
    def __init__(self, redis: Redis, keys: Keys, *, ttl_s: int, variant: str) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s
        self._version = f"{PIPELINE_VERSION}/{variant}"

    @property
    def enabled(self) -> bool:
        return self._ttl_s > 0

    def key(self, platform: str, video_id: str, language: str | None) -> str | None:
        if not self.enabled or platform not in CACHEABLE_PLATFORMS or not video_id:
            return None
        return self._keys.extraction(self._version, platform, video_id, language)

    async def get(
        self, platform: str, video_id: str | None, language: str | None
    ) -> CachedExtraction | None:
        key = self.key(platform, video_id or "", language)
        if key is None:
            return None
        try:
            raw: bytes | None = await self._redis.get(key)
        except RedisError as exc:
            log.warning("cache_unavailable", op="get", error=type(exc).__name__)
            metrics.cache_lookup("error")
            return None
        if raw is None:
            metrics.cache_lookup("miss")
            return None
        try:
            entry = _decoder.decode(raw)
        except msgspec.DecodeError:
            log.warning("cache_entry_unreadable")
            metrics.cache_lookup("error")
            return None
        metrics.cache_lookup("hit")
        return entry

    async def put(
        self,
        platform: str,
        video_id: str | None,
        language: str | None,
        *,
        recipe: Recipe,
        thumbnail: bytes | None,
        evidence: tuple[str, ...],
        task_id: str,
        others: tuple[Recipe, ...] = (),
    ) -> bool:
        key = self.key(platform, video_id or "", language)
        if key is None:
            return False
        if thumbnail is not None and len(thumbnail) > MAX_THUMBNAIL_BYTES:
            thumbnail = None
        entry = CachedExtraction(
            recipe=recipe,
            thumbnail=thumbnail,
            evidence=list(evidence),
            created_at=time.time(),
            task_id=task_id,
            others=list(others),
        )
        try:
            await self._redis.set(key, msgspec.msgpack.encode(entry), ex=self._ttl_s)
        except RedisError as exc:
            log.warning("cache_unavailable", op="put", error=type(exc).__name__)
            return False
        return True
