"""The TikTok scraper: the Apify actor `clockworks/tiktok-video-scraper` (EXTERNALS.md §1).

One scrape is one actor run for one post: start the run, wait for it (sending
progress while the actor works), read the run's dataset item, fetch the best
subtitle track, and describe the post. The video itself is not downloaded
here: the actor re-hosts it in the run's key-value store, and the returned
`VideoRef` points there with the token as a header (only for the Apify API
host), for `media.download` to stream.

Short links (`vm.tiktok.com/<code>`, `vt.tiktok.com/<code>`) are passed to the
actor as they are: it resolves them itself. Their video id is then only known
from the dataset item.

Retries, in two layers:

* apify-client's own loop retries 429 / 5xx / transport errors at most
  `CLIENT_MAX_RETRIES` (1) time after 0.5–1 s. A 429 or 503 that
  carries `Retry-After` skips that loop (the client ignores the header) and goes
  straight to the outer layer.
* The outer layer is `retry.RetryPolicy(deadline_s=upstream_deadline_s)` around
  each upstream call (start, each wait slice, dataset read, subtitle fetch). It
  honours `Retry-After`, uses jittered backoff otherwise, and cuts every attempt
  at the deadline, so the total never exceeds it whatever the inner layer does.
  Giving up is a retryable `scrape_failed`. Other 4xx (bad token, unknown actor,
  no credit) are permanent: a non-retryable `scrape_failed` for operators.

The start request is not idempotent: a lost 5xx answer may start a second run
(apify-client has the same property). The run is waited for in slices of
`WAIT_SLICE_S` so that progress flows and a failing poll is retried without
starting another run; a run that outlives `apify_run_timeout_s` + `RUN_GRACE_S`,
or whose task is cancelled, is aborted on a best-effort basis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import impit
import structlog
from apify_client import ApifyClientAsync
from apify_client.errors import ApifyApiError
from apify_client.http_clients import ImpitHttpClientAsync
from multidict import CIMultiDict
from yarl import URL

from .. import errors
from ..links import is_tiktok_link, tiktok_video_id
from ..models import ScrapeRequest
from ..netsafety import PrivateAddressError, ensure_public_url, is_public_address, public_connector
from ..retry import TRANSIENT_STATUSES, GaveUp, RetryPolicy, Transient, parse_retry_after
from ..settings import Settings, SettingsError
from .base import ProgressReporter, ScrapedPost, SubtitleTrack, VideoRef

log = structlog.get_logger(__name__)

T = TypeVar("T")

CLIENT_MAX_RETRIES = 1
WAIT_SLICE_S = 10.0  # one long-poll per slice, then a progress message
RUN_GRACE_S = 60.0  # beyond the actor's own timeout, before we stop waiting
ABORT_TIMEOUT_S = 10.0
MAX_ITEMS = 10
SUBTITLE_MAX_BYTES = 1024 * 1024
SUBTITLE_DEADLINE_S = 30.0  # subtitles are optional: do not hold the task up for long
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie")
_FAILED_RUN = {
    "FAILED": "failed",
    "TIMED-OUT": "timed out",
    "ABORTED": "was aborted",
    "TIMING-OUT": "timed out",
    "ABORTING": "was aborted",
}
_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"})
# Errors that clear by themselves as other runs of the account finish.
_WAIT_FOR_RESOURCES = frozenset({"actor-memory-limit-exceeded", "concurrent-runs-limit-exceeded"})
_SAFE_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
_TWO_LETTERS = re.compile(r"^[a-z]{2}$")
# TikTok names subtitle languages by ISO 639-2/3 code plus region ("eng-US",
# "cmn-Hans-CN"); the rest of the service uses ISO 639-1.
_ISO639_1 = {
    "ara": "ar", "ben": "bn", "bul": "bg", "ces": "cs", "cze": "cs", "cmn": "zh", "yue": "zh",
    "zho": "zh", "chi": "zh", "dan": "da", "deu": "de", "ger": "de", "ell": "el", "gre": "el",
    "eng": "en", "est": "et", "fas": "fa", "per": "fa", "fil": "tl", "tgl": "tl", "fin": "fi",
    "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "ind": "id",
    "ita": "it", "jpn": "ja", "kor": "ko", "lav": "lv", "lit": "lt", "msa": "ms", "may": "ms",
    "zsm": "ms", "nld": "nl", "dut": "nl", "nob": "no", "nor": "no", "pol": "pl", "por": "pt",
    "ron": "ro", "rum": "ro", "rus": "ru", "slk": "sk", "slo": "sk", "slv": "sl", "spa": "es",
    "srp": "sr", "swe": "sv", "tam": "ta", "tel": "te", "tha": "th", "tur": "tr", "ukr": "uk",
    "urd": "ur", "vie": "vi", "cat": "ca", "glg": "gl", "eus": "eu", "baq": "eu", "afr": "af",
    "swa": "sw", "mar": "mr", "guj": "gu", "kan": "kn", "mal": "ml", "pan": "pa", "nep": "ne",
    "sin": "si", "khm": "km", "mya": "my", "bur": "my", "lao": "lo", "kaz": "kk", "uzb": "uz",
    "aze": "az", "kat": "ka", "geo": "ka", "hye": "hy", "arm": "hy", "isl": "is", "ice": "is",
}  # fmt: skip


class _ServerSaidWait(Exception):
    """A 429/503 answer that says when to come back (apify-client ignores `Retry-After`)."""

    def __init__(self, status: int, retry_after: float) -> None:
        super().__init__(f"HTTP {status}, Retry-After {retry_after:g} s")
        self.status = status
        self.retry_after = retry_after


class _HttpClient(ImpitHttpClientAsync):
    """apify-client's transport, except that an answer with `Retry-After` ends the
    client's own retry loop, so `RetryPolicy` can wait as long as the server asked."""

    async def send_request(
        self,
        *,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | AsyncIterator[bytes] | None,
        timeout: float | None,  # noqa: ASYNC109 - the base class's signature
        stream: bool,
    ) -> impit.Response:
        response = await super().send_request(
            method=method,
            url=url,
            headers=headers,
            content=content,
            timeout=timeout,
            stream=stream,
        )
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                await response.aclose()
                raise _ServerSaidWait(response.status_code, retry_after)
        return response

    def is_retryable_transport_error(self, exc: Exception) -> bool:
        if isinstance(exc, _ServerSaidWait):
            return False  # stop the client's loop; the outer layer handles it
        return super().is_retryable_transport_error(exc)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Origin:
    scheme: str
    host: str
    port: int | None

    @classmethod
    def of(cls, url: str) -> _Origin | None:
        try:
            parsed = URL(url)
        except (ValueError, TypeError):
            return None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            return None
        return cls(scheme=parsed.scheme, host=parsed.host.lower().rstrip("."), port=parsed.port)


class ApifyScraper:
    """Scrapes TikTok posts with the Apify actor configured in `settings`.

    The run / wait / dataset / retry machinery is shared by every Apify actor:
    a subclass for another platform (`apify_instagram.ApifyInstagramScraper`)
    overrides `platform`, `label`, `actor_id`, `accepts`, `run_input`,
    `pick_item` and `post_from_item`.
    """

    name = "apify"
    platform = "tiktok"
    label = "TikTok"  # in messages to clients: "The TikTok scraper run failed"
    actor_setting = "APIFY_ACTOR_ID"

    def __init__(self, settings: Settings, *, client: ApifyClientAsync | None = None) -> None:
        token = settings.apify_api_token
        if not token:
            raise SettingsError("The Apify scraper needs APIFY_API_TOKEN.")
        self.settings = settings
        self._token = token
        self._api_origin = _Origin.of(settings.apify_api_url)
        if self._api_origin is None:
            raise SettingsError("APIFY_API_URL must be an http(s) URL.")
        # Only a local stand-in of the API (tests, development) lives on a
        # private address; then its media links do too.
        self._allow_private = not _is_public_host(self._api_origin.host)
        self._policy = RetryPolicy(deadline_s=settings.upstream_deadline_s)
        self._owns_client = client is None
        if client is None:
            http_timeout = timedelta(seconds=settings.http_timeout_s)
            http = _HttpClient(
                token=token,
                max_retries=CLIENT_MAX_RETRIES,
                min_delay_between_retries=timedelta(milliseconds=500),
                timeout_short=min(timedelta(seconds=10), http_timeout),
                timeout_medium=http_timeout,
                timeout_long=timedelta(seconds=WAIT_SLICE_S) + http_timeout,
                timeout_max=timedelta(seconds=max(settings.upstream_deadline_s, 60.0)),
                user_agent_suffix="resimply",
            )
            client = ApifyClientAsync.with_custom_http_client(
                token,
                api_url=settings.apify_api_url,
                api_public_url=settings.apify_api_url,
                http_client=http,
            )
        self._client = client
        self._background: set[asyncio.Task[None]] = set()

    @property
    def actor_id(self) -> str:
        return self.settings.apify_actor_id

    def accepts(self, url: str) -> bool:
        """TikTok video links in their public forms, short links included."""
        return is_tiktok_link(url)

    async def scrape(self, request: ScrapeRequest, progress: ProgressReporter) -> ScrapedPost:
        url = request.url.strip()
        if not self.accepts(url):
            raise errors.UnsupportedUrl()
        await progress.update(f"Starting the {self.label} scraper")
        run_id, dataset_id, cost_usd = await self._run_actor(url, progress)
        await progress.update("Reading the scraped post")
        page = await self._call(
            lambda: self._client.dataset(dataset_id).list_items(limit=MAX_ITEMS),
            what="reading the scraper's results",
        )
        item = self.pick_item(page.items, url)
        log.info("apify item", run_id=run_id, platform=self.platform, video_id=item.get("id"))
        post = self.post_from_item(item, url)
        subtitles = await self._subtitles(item, request.language, post.language, progress)
        await progress.update("Scraped the post", 1.0)
        return dataclasses.replace(post, subtitles=subtitles, cost_usd=cost_usd)

    async def aclose(self) -> None:
        """Let pending run aborts finish (briefly) and close the client if it is ours."""
        if self._background:
            await asyncio.wait(self._background, timeout=ABORT_TIMEOUT_S)
        if self._owns_client:
            await self._client.http_client.aclose()

    # --- the actor run ---------------------------------------------------------

    def run_input(self, url: str) -> dict[str, Any]:
        """The actor input for one post (EXTERNALS.md §1.1)."""
        proxy: dict[str, Any] = {"useApifyProxy": True, "apifyProxyGroups": ["RESIDENTIAL"]}
        if self.settings.apify_proxy_country:
            proxy["apifyProxyCountry"] = self.settings.apify_proxy_country
        return {
            "postURLs": [url],
            "scrapeRelatedVideos": False,
            "resultsPerPage": 1,
            "shouldDownloadVideos": True,
            "shouldDownloadCovers": False,
            "shouldDownloadSlideshowImages": False,
            "downloadSubtitlesOptions": "DOWNLOAD_SUBTITLES",
            "proxyConfiguration": proxy,
        }

    async def _run_actor(
        self, url: str, progress: ProgressReporter
    ) -> tuple[str, str, float | None]:
        """Start the run and wait for it; return (run id, dataset id, the run's
        `usageTotalUsd` when reported) of a run that succeeded."""
        actor = self._client.actor(self.actor_id)
        run_input = self.run_input(url)
        run = await self._call(
            lambda: actor.start(
                run_input=run_input,
                run_timeout=timedelta(seconds=self.settings.apify_run_timeout_s),
            ),
            what="starting the scraper",
            not_found=(
                f"The Apify actor {self.actor_id!r} was not found (HTTP 404); "
                f"check {self.actor_setting}."
            ),
        )
        run_id = run.id
        log.info("apify run started", run_id=run_id, actor=self.actor_id)
        await progress.update("Waiting for the scraper")
        finished = False
        try:
            status, dataset_id, cost_usd = await self._wait(run_id, progress)
            finished = True
        finally:
            if not finished:
                self._abort_later(run_id)
        if status != "SUCCEEDED":
            log.warning("apify run did not succeed", run_id=run_id, status=status)
            raise errors.ScrapeFailed(
                f"The {self.label} scraper run {_FAILED_RUN.get(status, 'failed')}; "
                "please try again later.",
                retryable=True,
            )
        return run_id, dataset_id, cost_usd

    async def _wait(self, run_id: str, progress: ProgressReporter) -> tuple[str, str, float | None]:
        """Long-poll the run in slices until it ends; return (status, dataset id, USD cost)."""
        run_client = self._client.run(run_id)
        started = time.monotonic()
        budget = self.settings.apify_run_timeout_s + RUN_GRACE_S
        while True:
            elapsed = time.monotonic() - started
            remaining = budget - elapsed
            if remaining <= 0:
                raise errors.ScrapeFailed(
                    f"The {self.label} scraper did not finish within {budget:g} seconds; "
                    "please try again later.",
                    retryable=True,
                )
            wait = timedelta(seconds=min(WAIT_SLICE_S, remaining))
            run = await self._call(
                functools.partial(
                    run_client.wait_for_finish,
                    wait_duration=wait,
                    timeout=wait + timedelta(seconds=self.settings.http_timeout_s),
                ),
                what="waiting for the scraper",
            )
            if run is None:
                raise errors.ScrapeFailed(
                    "The scraper run disappeared before it finished; please try again later.",
                    retryable=True,
                )
            if run.status in _TERMINAL:
                return str(run.status), run.default_dataset_id, run.usage_total_usd
            await progress.update(
                f"Waiting for the scraper ({time.monotonic() - started:.0f} s so far)"
            )

    def _abort_later(self, run_id: str) -> None:
        """Abort a run we stopped waiting for, without holding up the caller."""
        task = asyncio.get_running_loop().create_task(self._abort(run_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _abort(self, run_id: str) -> None:
        try:
            async with asyncio.timeout(ABORT_TIMEOUT_S):
                await self._client.run(run_id).abort()
            log.info("apify run aborted", run_id=run_id)
        except Exception as exc:
            log.warning("could not abort apify run", run_id=run_id, error=type(exc).__name__)

    # --- calls with retries ------------------------------------------------------

    async def _call(
        self, fn: Callable[[], Awaitable[T]], *, what: str, not_found: str | None = None
    ) -> T:
        """Run one API call under the retry policy and map its failures to task errors."""
        http = self._client.http_client
        # The most telling failure: an attempt cut at the deadline only says "timed out".
        seen: list[str] = []

        async def attempt() -> T:
            try:
                return await fn()
            except _ServerSaidWait as exc:
                seen.append(f"{what}: HTTP {exc.status}")
                raise Transient(seen[-1], retry_after=exc.retry_after) from None
            except ApifyApiError as exc:
                status = exc.status_code
                if status in TRANSIENT_STATUSES or status >= 500 or exc.type in _WAIT_FOR_RESOURCES:
                    seen.append(f"{what}: HTTP {status}")
                    raise Transient(seen[-1]) from None
                raise _permanent(exc, what=what, not_found=not_found) from None
            except errors.ResimplyError:
                raise
            except (ValueError, KeyError) as exc:
                # Unparsable body, missing pagination headers, a run object that
                # fails validation: an API we do not understand.
                log.warning("unexpected apify answer", what=what, error=type(exc).__name__)
                raise errors.ScrapeFailed(
                    "The scraper service sent an answer we could not read; please try again later.",
                    retryable=True,
                ) from None
            except Exception as exc:
                if http.is_retryable_transport_error(exc) or http.is_timeout_error(exc):
                    raise Transient(f"{what}: {type(exc).__name__}") from None
                raise

        try:
            return await self._policy.run(attempt, what=what, provider="apify")
        except GaveUp as exc:
            reason = seen[-1] if seen else exc.last.reason
            log.warning("apify gave up", what=what, attempts=exc.attempts, reason=reason)
            raise errors.ScrapeFailed(
                f"The {self.label} scraper service is unavailable ({reason}); please try again later.",
                retryable=True,
            ) from None

    # --- the post ----------------------------------------------------------------

    def pick_item(self, items: list[Any], url: str) -> dict[str, Any]:
        return _pick_item(items, tiktok_video_id(url))

    def post_from_item(self, item: Mapping[str, Any], submitted: str) -> ScrapedPost:
        if item.get("error"):
            log.info("apify post error", code=_short(item.get("errorCode")))
            raise errors.VideoNotFound(
                "TikTok reports that this post does not exist or is private."
            )
        if item.get("isSlideshow") is True:
            raise errors.InvalidMedia(
                "This post is a photo slideshow, not a video; send a link to a TikTok video."
            )
        meta = _dict(item.get("videoMeta"))
        media = item.get("mediaUrls")
        candidates = [*media] if isinstance(media, list) else []
        candidates.append(meta.get("downloadAddr"))
        video_url = next((u for u in candidates if _Origin.of(u or "") is not None), None)
        if video_url is None:
            raise errors.ScrapeFailed(
                "The scraper found the post but could not download its video "
                "(video download is unavailable); please try again later.",
                retryable=True,
            )
        video_id = _str(item.get("id")) or tiktok_video_id(submitted)
        author = _str(_dict(item.get("authorMeta")).get("name"))
        web_url = _str(item.get("webVideoUrl"))
        if web_url is None or _Origin.of(web_url) is None:
            web_url = (
                f"https://www.tiktok.com/@{author}/video/{video_id}"
                if author and video_id
                else submitted
            )
        thumbnail = next(
            (
                u
                for u in (_str(meta.get("coverUrl")), _str(meta.get("originalCoverUrl")))
                if u and _Origin.of(u)
            ),
            None,
        )
        return ScrapedPost(
            platform="tiktok",
            url=web_url,
            video=self.video_ref(video_url),
            video_id=video_id,
            author=author,
            caption=_str(item.get("text")),
            thumbnail_url=thumbnail,
            language=language_code(_str(item.get("textLanguage"))),
        )

    def video_ref(self, url: str) -> VideoRef:
        """Where to stream a video from: the token only for the API's own origin."""
        return VideoRef(url=url, headers=self._auth_for(url), allow_private=self._allow_private)

    def _auth_for(self, url: str) -> dict[str, str]:
        """The token header, for the Apify API's own origin only."""
        if _Origin.of(url) == self._api_origin:
            return {"Authorization": f"Bearer {self._token}"}
        return {}

    # --- subtitles ---------------------------------------------------------------

    async def _subtitles(
        self,
        item: Mapping[str, Any],
        requested: str | None,
        original: str | None,
        progress: ProgressReporter,
    ) -> tuple[SubtitleTrack, ...]:
        links = _dict(item.get("videoMeta")).get("subtitleLinks")
        chosen = choose_subtitle(links if isinstance(links, list) else [], requested, original)
        if chosen is None:
            return ()
        url = str(chosen["downloadLink"])
        language = language_code(_str(chosen.get("language")))
        await progress.update("Fetching the subtitles")
        policy = RetryPolicy(deadline_s=min(self.settings.upstream_deadline_s, SUBTITLE_DEADLINE_S))
        try:
            text = await policy.run(
                lambda: self._fetch_text(url), what="fetching subtitles", provider="apify"
            )
        except Exception as exc:  # optional data: never fail the scrape for it
            log.warning("subtitles unavailable", language=language, reason=_reason(exc))
            return ()
        if not text.strip():
            return ()
        return (SubtitleTrack(language=language, text=text, origin="platform"),)

    async def _fetch_text(self, url: str) -> str:
        """One attempt at a small text file: redirects checked hop by hop, size-capped."""
        connector = None if self._allow_private else public_connector()
        timeout = aiohttp.ClientTimeout(total=self.settings.http_timeout_s)
        target = URL(url)
        headers: CIMultiDict[str] = CIMultiDict(self._auth_for(url))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            for _ in range(MAX_REDIRECTS + 1):
                if not self._allow_private:
                    await ensure_public_url(str(target))
                try:
                    async with session.get(target, headers=headers, allow_redirects=False) as resp:
                        if resp.status in _REDIRECTS and resp.headers.get("Location"):
                            nxt = target.join(URL(resp.headers["Location"]))
                            if nxt.scheme not in ("http", "https"):
                                raise _NoSubtitles("redirect to a non-http URL")
                            if nxt.origin() != target.origin():
                                for name in _CREDENTIAL_HEADERS:
                                    headers.popall(name, None)
                            target = nxt
                            continue
                        if resp.status in TRANSIENT_STATUSES:
                            raise Transient(
                                f"subtitles: HTTP {resp.status}",
                                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                            )
                        if resp.status != 200:
                            raise _NoSubtitles(f"HTTP {resp.status}")
                        if (resp.content_length or 0) > SUBTITLE_MAX_BYTES:
                            raise _NoSubtitles("too large")
                        data = await resp.content.read(SUBTITLE_MAX_BYTES + 1)
                        if len(data) > SUBTITLE_MAX_BYTES:
                            raise _NoSubtitles("too large")
                        return data.decode(resp.charset or "utf-8", errors="replace").lstrip(
                            "\ufeff"
                        )
                except aiohttp.ClientConnectorError as exc:
                    if isinstance(exc.os_error, PrivateAddressError):
                        raise _NoSubtitles("private address") from None
                    raise Transient("subtitles: connection failed") from None
                except (aiohttp.ClientError, LookupError) as exc:
                    # LookupError: an unknown charset. ClientError: broken connection.
                    if isinstance(exc, aiohttp.ClientError):
                        raise Transient(f"subtitles: {type(exc).__name__}") from None
                    raise _NoSubtitles("unknown charset") from None
        raise _NoSubtitles("too many redirects")


class _NoSubtitles(Exception):
    """This track cannot be fetched; retrying will not help."""


def choose_subtitle(
    links: list[Any], requested: str | None, original: str | None
) -> dict[str, Any] | None:
    """The best track: the requested language, else the video's own, else any.

    Within each tier, speech recognition or creator captions beat machine
    translation ("MT").
    """
    tracks = [
        link
        for link in links
        if isinstance(link, dict) and _Origin.of(_str(link.get("downloadLink")) or "") is not None
    ]
    if not tracks:
        return None
    wanted = [code for code in (language_code(requested), language_code(original)) if code]

    def rank(link: dict[str, Any]) -> tuple[int, int]:
        code = language_code(_str(link.get("language")))
        tier = wanted.index(code) if code in wanted else len(wanted)
        machine = 1 if str(link.get("source") or "").upper() == "MT" else 0
        return (tier, machine)

    return min(tracks, key=rank)  # min is stable: ties keep the actor's order


def language_code(value: str | None) -> str | None:
    """ISO 639-1 for "en", "en-US", "eng-US", "cmn-Hans-CN" (None when unknown)."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    if _TWO_LETTERS.match(primary):
        return None if primary == "un" else primary  # TikTok's "un": undetermined
    return _ISO639_1.get(primary)


def _pick_item(items: list[Any], video_id: str | None) -> dict[str, Any]:
    posts = [item for item in items if isinstance(item, dict)]
    if not posts:
        raise errors.VideoNotFound(
            "The scraper found no post at this link; it may be private or deleted."
        )
    if video_id:
        match = next((p for p in posts if _str(p.get("id")) == video_id), None)
        if match is not None:
            return match
    return next((p for p in posts if not p.get("error")), posts[0])


def _permanent(exc: ApifyApiError, *, what: str, not_found: str | None) -> errors.ScrapeFailed:
    """A 4xx that retrying cannot cure: a message for operators (never the token)."""
    status = exc.status_code
    kind = exc.type if exc.type and _SAFE_TYPE.match(exc.type) else None
    log.error("apify refused", what=what, status=status, type=kind)
    if status == 401:
        message = "The Apify API refused the token (HTTP 401); check APIFY_API_TOKEN."
    elif status == 403:
        message = (
            "The Apify token is not allowed to do this (HTTP 403); check APIFY_API_TOKEN "
            "and the actor's permissions."
        )
    elif status == 404 and not_found:
        message = not_found
    elif status == 402:
        message = (
            "The Apify account cannot run the scraper (HTTP 402: plan or usage limit); "
            "check the Apify account."
        )
    else:
        detail = f"HTTP {status}" + (f", {kind}" if kind else "")
        message = f"The Apify API refused {what} ({detail})."
    return errors.ScrapeFailed(message, retryable=False)


def _is_public_host(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True  # a DNS name: assume public (the real API)
    return is_public_address(host.strip("[]"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _short(value: Any) -> str | None:
    text = _str(value)
    return text[:40] if text else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, GaveUp):
        return exc.last.reason
    if isinstance(exc, errors.ResimplyError):
        return exc.code
    return str(exc)
