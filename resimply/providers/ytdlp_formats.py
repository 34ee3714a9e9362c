"""Pure choices over yt-dlp's info dict: which link is which platform, which
format to fetch, which subtitle track to read. No I/O, no yt-dlp import.

The shapes are yt-dlp's (`YoutubeDL.process_video_result` output): each format
has `url`, `protocol`, `ext`, `vcodec`/`acodec` (`"none"` = absent, missing =
unknown), `width`/`height`, `filesize`/`filesize_approx`, `http_headers`; tracks
are `{lang: [{"ext", "url", "name"?}]}` under `subtitles` and
`automatic_captions`.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

# Platforms yt-dlp serves here, by yt-dlp extractor name (IE_NAME, lowercased).
EXTRACTOR_PLATFORMS = {
    "tiktok": "tiktok",
    "vm.tiktok": "tiktok",
    "instagram": "instagram",
    "youtube": "youtube",
    # Any web page (tests only; the pages scraper reads pages in production).
    "generic": "web",
    "html5": "web",
}
DEFAULT_EXTRACTORS = ("tiktok", "vm.tiktok", "instagram", "youtube")

# Frames are taken at ≤ 768 px (settings.frame_max_edge): 720p is plenty. "720p"
# names the short edge, so a vertical 720x1280 TikTok or Short fits.
MAX_SHORT_EDGE = 720
# Fetched with our own downloader as one GET: manifests (m3u8, DASH, ISM) would
# need a segment downloader and a muxer, so they are not taken.
PLAIN_PROTOCOLS = frozenset({"http", "https"})
SUBTITLE_EXTS = ("vtt", "srt")  # what the subtitle parser reads, best first

_HOSTS = {
    "tiktok": ("tiktok.com",),
    "instagram": ("instagram.com",),
    "youtube": ("youtube.com", "youtu.be", "youtube-nocookie.com"),
}
_TIKTOK_ID = re.compile(
    r"^/(?:@[\w.\-]*/video/|v/|embed/(?:v2/)?)(?P<id>\d{5,25})(?:\.html)?/?$", re.IGNORECASE
)
_YOUTUBE_ID = re.compile(r"^[\w-]{11}$")


def platform_of(url: str) -> str | None:
    """ "tiktok", "instagram", "youtube" for their links, "web" for other http(s)
    links, None for anything else (cheap: no network, no yt-dlp)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    for platform, domains in _HOSTS.items():
        if any(host == d or host.endswith("." + d) for d in domains):
            return platform
    return "web"


def extractor_platforms(extractors: Iterable[str]) -> frozenset[str]:
    """The platforms an allow-list of yt-dlp extractor names serves."""
    found = set()
    for name in extractors:
        for ie_name, platform in EXTRACTOR_PLATFORMS.items():
            if re.fullmatch(name, ie_name, re.IGNORECASE):
                found.add(platform)
    return frozenset(found)


def normalize_link(url: str) -> str:
    """The form of a platform link that yt-dlp's extractor takes.

    TikTok: `m.tiktok.com/v/<id>.html` and `tiktok.com/...` without `www` are not
    matched by yt-dlp's TikTok extractor; they become `www.tiktok.com/@_/video/<id>`
    (the form it builds itself). YouTube: a watch link inside a playlist (`&list=`)
    is taken by yt-dlp's playlist extractor; it becomes the plain video link.
    """
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    platform = platform_of(url)
    host = (parts.hostname or "").lower()
    if platform == "tiktok" and host not in ("vm.tiktok.com", "vt.tiktok.com"):
        match = _TIKTOK_ID.match(parts.path)
        if match and not (host == "www.tiktok.com" and parts.path.startswith("/@")):
            return f"https://www.tiktok.com/@_/video/{match.group('id')}"
    if platform == "youtube" and parts.path == "/watch":
        video_id = urllib.parse.parse_qs(parts.query).get("v", [""])[0]
        if _YOUTUBE_ID.match(video_id):
            return f"https://www.youtube.com/watch?v={video_id}"
    return url


# --- formats --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChosenFormat:
    format_id: str | None
    url: str
    headers: dict[str, str]
    width: int | None
    height: int | None
    has_audio: bool  # False only when the format says so (acodec "none")
    filesize: int | None


def is_video(fmt: Mapping[str, Any]) -> bool:
    """A format with pictures (vcodec unknown counts: the html5 `<video src>` case)."""
    if fmt.get("vcodec") in ("none", "bytevc2"):  # bytevc2: ByteDance's own, undecodable
        return False
    # Storyboards (YouTube's thumbnail sheets) are "video" formats of images.
    return fmt.get("protocol") != "mhtml" and "storyboard" not in str(fmt.get("format_note", ""))


def has_video(formats: Iterable[Mapping[str, Any]]) -> bool:
    return any(is_video(f) for f in formats if isinstance(f, Mapping))


def choose_format(
    formats: Iterable[Any],
    *,
    need_audio: bool,
    max_short_edge: int = MAX_SHORT_EDGE,
    max_bytes: int | None = None,
) -> ChosenFormat | None:
    """The format to download for frames (and speech, when `need_audio`).

    Only single-file http(s) formats. Among them: with audio when `need_audio`
    (a progressive format: we do not download split video and audio streams,
    which would need muxing), else video-only is as good. Then the largest whose
    short edge is ≤ `max_short_edge`, or, when none is, the smallest above it.
    Formats announced larger than `max_bytes` come last, then those yt-dlp
    flags as often failing. Ties go to yt-dlp's preference, to H.264 (every
    decoder has it), then to yt-dlp's own order (worst → best).
    """
    plain = [
        (index, f)
        for index, f in enumerate(formats)
        if isinstance(f, Mapping)
        and isinstance(f.get("url"), str)
        and _protocol(f) in PLAIN_PROTOCOLS
        and is_video(f)
    ]
    if not plain:
        return None
    if need_audio and any(_audio(f) for _, f in plain):
        plain = [(i, f) for i, f in plain if _audio(f)]

    def rank(item: tuple[int, Mapping[str, Any]]) -> tuple[int, ...]:
        index, fmt = item
        edge = _short_edge(fmt)
        size = _int(fmt.get("filesize")) or _int(fmt.get("filesize_approx"))
        too_big = 1 if max_bytes is not None and size is not None and size > max_bytes else 0
        if edge is None:
            fit = (1, 0)  # unknown size: after every known fit, before oversize
        elif edge <= max_short_edge:
            fit = (0, -edge)  # the largest that fits
        else:
            fit = (2, edge)  # else the smallest above
        h264 = 0 if str(fmt.get("vcodec") or "").startswith(("avc", "h264")) else 1
        # yt-dlp marks formats that often fail (TikTok's hvc1 links, its
        # watermarked "download") with `__needs_testing` or a low preference.
        shaky = 1 if fmt.get("__needs_testing") else 0
        preference = _signed(fmt.get("preference"))
        return (too_big, shaky, *fit, -preference, h264, -index)

    _, best = min(plain, key=rank)
    return ChosenFormat(
        format_id=_str(best.get("format_id")),
        url=str(best["url"]),
        headers=format_headers(best),
        width=_int(best.get("width")),
        height=_int(best.get("height")),
        has_audio=_audio(best),
        filesize=_int(best.get("filesize")) or _int(best.get("filesize_approx")),
    )


def format_headers(fmt: Mapping[str, Any]) -> dict[str, str]:
    """The request headers yt-dlp would send for this format (User-Agent,
    Referer, …) plus the site's session cookies for the format's URL.

    The cookies are the ones the platform set while yt-dlp read the post (no
    user's cookies are ever loaded); TikTok's CDN refuses downloads without them.
    yt-dlp scopes them to the format's URL and the downloader drops them on a
    redirect to another origin.
    """
    raw = fmt.get("http_headers")
    headers = {
        str(k): str(v)
        for k, v in (raw.items() if isinstance(raw, Mapping) else ())
        if isinstance(v, str) and k.lower() not in ("cookie", "accept-encoding")
    }
    cookie = cookie_header(fmt.get("cookies"))
    if cookie:
        headers["Cookie"] = cookie
    return headers


_COOKIE_ATTRIBUTES = frozenset({"domain", "path", "secure", "expires", "version", "httponly"})


def cookie_header(cookies: Any) -> str | None:
    """`name=value; name2=value2` from yt-dlp's `cookies` field, which lists each
    cookie followed by its attributes (`a=1; Domain=.x.com; Path=/; Secure`)."""
    if not isinstance(cookies, str):
        return None
    pairs = []
    for part in cookies.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name.lower() not in _COOKIE_ATTRIBUTES:
            pairs.append(f"{name}={value}")
    return "; ".join(pairs) or None


def _protocol(fmt: Mapping[str, Any]) -> str:
    protocol = fmt.get("protocol")
    if isinstance(protocol, str) and protocol:
        return protocol
    return urllib.parse.urlsplit(str(fmt.get("url") or "")).scheme.lower()


def _audio(fmt: Mapping[str, Any]) -> bool:
    return fmt.get("acodec") != "none"


def _short_edge(fmt: Mapping[str, Any]) -> int | None:
    sides = [s for s in (_int(fmt.get("width")), _int(fmt.get("height"))) if s]
    return min(sides) if sides else None


# --- subtitles ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChosenTrack:
    language: str | None
    url: str | None  # None when yt-dlp already holds the text (`data`)
    data: str | None
    ext: str
    automatic: bool
    headers: dict[str, str]


def rank_subtitles(
    info: Mapping[str, Any], requested: str | None, original: str | None
) -> list[ChosenTrack]:
    """Every readable track, best first: the requested language, else the video's
    own, else any; within each, creator captions, then speech recognition, then
    machine translation (YouTube's `tlang=` auto-translations) — as
    `apify.choose_subtitle` ranks TikTok's tracks."""
    wanted = [c for c in (language_code(requested), language_code(original)) if c]
    ranked: list[tuple[tuple[int, int, int], ChosenTrack]] = []
    order = 0
    for field, automatic in (("subtitles", False), ("automatic_captions", True)):
        tracks = info.get(field)
        if not isinstance(tracks, Mapping):
            continue
        for lang, entries in tracks.items():
            if lang == "live_chat" or not isinstance(entries, list):
                continue
            entry = _best_entry(entries)
            if entry is None:
                continue
            code = language_code(str(lang))
            tier = wanted.index(code) if code in wanted else len(wanted)
            url = entry.get("url") if isinstance(entry.get("url"), str) else None
            translated = "tlang=" in (url or "")
            kind = 2 if translated else 1 if automatic else 0
            raw = entry.get("http_headers")
            ranked.append(
                (
                    (tier, kind, order),
                    ChosenTrack(
                        language=code,
                        url=None if isinstance(entry.get("data"), str) else url,
                        data=entry.get("data") if isinstance(entry.get("data"), str) else None,
                        ext=entry["ext"],
                        automatic=automatic,
                        headers=dict(raw) if isinstance(raw, Mapping) else {},
                    ),
                )
            )
            order += 1
    ranked.sort(key=lambda item: item[0])
    return [track for _, track in ranked]


def _best_entry(entries: list[Any]) -> dict[str, Any] | None:
    # TikTok's app API hands the text itself (`data`); the others give a link.
    usable = [
        e
        for e in entries
        if isinstance(e, dict)
        and e.get("ext") in SUBTITLE_EXTS
        and (
            isinstance(e.get("data"), str)
            or (
                isinstance(e.get("url"), str)
                and urllib.parse.urlsplit(e["url"]).scheme in ("http", "https")
            )
        )
    ]
    if not usable:
        return None
    return min(usable, key=lambda e: SUBTITLE_EXTS.index(e["ext"]))


_TWO_LETTERS = re.compile(r"^[a-z]{2}$")
# yt-dlp passes the platform's own codes: YouTube's old ones, TikTok's ISO 639-2.
_ALIASES = {
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "eng": "en", "deu": "de", "ger": "de",
    "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt", "rus": "ru", "jpn": "ja",
    "kor": "ko", "cmn": "zh", "zho": "zh", "chi": "zh", "ara": "ar", "hin": "hi", "tur": "tr",
    "nld": "nl", "dut": "nl", "pol": "pl", "vie": "vi", "tha": "th", "ind": "id", "ukr": "uk",
}  # fmt: skip


def language_code(value: str | None) -> str | None:
    """ISO 639-1 for "en", "en-US", "en-orig", "eng-US", "zh-Hans" (None when unknown)."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    primary = _ALIASES.get(primary, primary)
    if _TWO_LETTERS.match(primary) and primary != "un":
        return primary
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return None


def _signed(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and str(value) else None
