"""The Instagram scraper: the Apify actor `apify/instagram-scraper` (EXTERNALS.md §5,
docs/providers.md for the fields relied on).

One scrape is one run for one post, through `ApifyScraper`'s run / wait /
dataset / retry machinery; only the input and the item differ. The actor does
not re-host the video: `videoUrl` is a signed link on Instagram's CDN that
expires within hours, streamed at once by `media.download` (SSRF-checked, size
capped) without the Apify token, which goes to the Apify API's origin only.
Instagram has no subtitle tracks: speech is transcribed when there is audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from .. import errors
from ..links import instagram_code
from .apify import ApifyScraper, _Origin, _short, _str
from .base import ScrapedPost

log = structlog.get_logger(__name__)


class ApifyInstagramScraper(ApifyScraper):
    """Scrapes Instagram Reels and video posts with `apify/instagram-scraper`."""

    platform = "instagram"
    label = "Instagram"
    actor_setting = "APIFY_INSTAGRAM_ACTOR_ID"

    @property
    def actor_id(self) -> str:
        return self.settings.apify_instagram_actor_id

    def accepts(self, url: str) -> bool:
        """Reels, video posts and IGTV links (`links.instagram_code`)."""
        return instagram_code(url) is not None

    def run_input(self, url: str) -> dict[str, Any]:
        """One post, without its owner's profile (docs/providers.md)."""
        proxy: dict[str, Any] = {"useApifyProxy": True, "apifyProxyGroups": ["RESIDENTIAL"]}
        if self.settings.apify_proxy_country:
            proxy["apifyProxyCountry"] = self.settings.apify_proxy_country
        return {
            "directUrls": [url],
            "resultsType": "posts",
            "resultsLimit": 1,
            "addParentData": False,
            "proxyConfiguration": proxy,
        }

    def pick_item(self, items: list[Any], url: str) -> dict[str, Any]:
        posts = [item for item in items if isinstance(item, dict)]
        if not posts:
            raise errors.VideoNotFound(
                "The scraper found no post at this Instagram link; it may be private or deleted."
            )
        code = instagram_code(url)
        match = next((p for p in posts if code and _str(p.get("shortCode")) == code), None)
        if match is not None:
            return match
        return next((p for p in posts if not _is_error(p)), posts[0])

    def post_from_item(self, item: Mapping[str, Any], submitted: str) -> ScrapedPost:
        if _is_error(item):
            log.info("apify post error", platform="instagram", code=_short(item.get("error")))
            raise errors.VideoNotFound(
                "Instagram reports that this post does not exist, is private, or cannot be "
                "shown without signing in."
            )
        video_url = _str(item.get("videoUrl"))
        kind = _str(item.get("type"))
        if kind == "Sidecar" and video_url is None:
            # A carousel with a video among its photos: that video is the post's.
            child = next(
                (
                    c
                    for c in item.get("childPosts") or []
                    if isinstance(c, dict) and c.get("type") == "Video" and _str(c.get("videoUrl"))
                ),
                None,
            )
            if child is not None:
                kind, video_url = "Video", _str(child.get("videoUrl"))
        if kind != "Video" or video_url is None or _Origin.of(video_url) is None:
            if kind in ("Image", "Sidecar") or (kind is None and video_url is None):
                what = "a photo carousel" if kind == "Sidecar" else "a photo"
                raise errors.InvalidMedia(
                    f"This Instagram post is {what}, not a video; send a link to a Reel "
                    "or a video post."
                )
            raise errors.ScrapeFailed(
                "The scraper found the Instagram post but no link to its video; "
                "please try again later.",
                retryable=True,
            )
        code = _str(item.get("shortCode")) or instagram_code(submitted)
        author = _str(item.get("ownerUsername"))
        thumbnail = _str(item.get("displayUrl"))
        return ScrapedPost(
            platform="instagram",
            url=f"https://www.instagram.com/reel/{code}/" if code else submitted,
            video=self.video_ref(video_url),
            video_id=code,
            author=author,
            caption=_str(item.get("caption")),
            thumbnail_url=thumbnail if thumbnail and _Origin.of(thumbnail) else None,
            language=None,  # the actor does not say
        )


def _is_error(item: Mapping[str, Any]) -> bool:
    """The actor's error item for a private / deleted / unavailable post (§5)."""
    return bool(item.get("error") or item.get("errorDescription"))
