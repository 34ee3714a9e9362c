"""Typed settings, read once from the environment at the entry points.

Everything below the entry points (`cli`, `worker.WorkerSettings`, the app
factory) receives a `Settings` value; nothing else reads `os.environ`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from .costs import DEFAULT_PRICES, Price, parse_prices

ScraperName = Literal["apify", "direct"]
# Scrapers a platform can be routed to (RESIMPLY_SCRAPERS); "off" refuses its links.
PlatformScraper = Literal["apify", "ytdlp", "off"]
SCRAPER_PLATFORMS = ("tiktok", "instagram", "youtube")  # links.PLATFORMS, without the import
_PLATFORM_SCRAPERS: dict[str, tuple[str, ...]] = {
    "tiktok": ("apify", "ytdlp", "off"),
    "instagram": ("apify", "ytdlp", "off"),
    "youtube": ("ytdlp", "off"),  # no YouTube actor: EXTERNALS §6
}
ExtractorName = Literal["openai", "offline"]
StoreName = Literal["supabase", "sqlite"]


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another one."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis Sentinel (redis_ha.py): when set, the master's address comes from these
    # sentinels and REDIS_URL gives only the password, database and TLS.
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "mymaster"
    redis_sentinel_password: str | None = None
    # With sentinels, a submission's `202` waits up to accept_wait_ms for this
    # many replicas to have its task (replication.py); 0: answer at once.
    accept_replicas: int = 1
    accept_wait_ms: int = 200
    key_prefix: str = "resimply:"
    data_dir: Path = Path.home() / ".local/share/resimply"
    dev: bool = False
    dev_user_id: str = "00000000-0000-4000-8000-000000000001"
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"

    # External services (absent → the local provider is used).
    supabase_url: str | None = None
    supabase_key: str | None = None
    supabase_jwt_secret: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256", "ES256", "RS256")
    jwt_leeway_s: int = 30
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_transcription_model: str = "gpt-4o-mini-transcribe"
    openai_image_detail: Literal["low", "high", "auto"] = "low"
    supabase_bucket: str = "recipe-thumbnails"
    apify_api_token: str | None = None
    apify_api_url: str = "https://api.apify.com"
    apify_actor_id: str = "S5h7zRLfKFEr8pdj7"
    apify_run_timeout_s: int = 180  # the actor run's own timeout
    apify_proxy_country: str | None = None  # residential proxy exit country, e.g. "US"
    scraper: ScraperName = "direct"
    # Which scraper serves each platform (RESIMPLY_SCRAPERS); empty: derived from
    # `scraper` (see `platform_scrapers`). Links of no platform go to the direct scraper.
    scrapers: tuple[tuple[str, str], ...] = ()
    # An Apify run that fails for a reason yt-dlp could get past is tried once with yt-dlp.
    scraper_fallback: bool = True
    apify_instagram_actor_id: str = "apify~instagram-scraper"
    extractor: ExtractorName = "offline"
    store: StoreName = "sqlite"
    allow_private_urls: bool = False
    # yt-dlp (issue 12): the extractors it may use (yt-dlp's `allowed_extractors`:
    # names or regexes, matched whole, case-insensitive) and the time one post's
    # description may take. `generic` (any web page) is left out on purpose.
    ytdlp_extractors: tuple[str, ...] = ("tiktok", "vm.tiktok", "instagram", "youtube")
    ytdlp_timeout_s: float = 60.0

    # Limits (safe defaults; all overridable).
    max_video_bytes: int = 200 * 1024 * 1024
    max_duration_s: float = 15 * 60
    max_pixels: int = 4096 * 2304  # a little above 4K UHD
    max_frames: int = 6
    frame_max_edge: int = 768
    jpeg_quality: int = 80
    # On-screen text (docs/ocr.md): seconds of OCR per video (0: off), and the
    # most distinct shots of a video kept for it.
    ocr_budget_s: int = 30
    ocr_max_shots: int = 96
    max_body_bytes: int = 16 * 1024
    rate_limit_per_minute: int = 30
    http_timeout_s: float = 30.0
    # Total time one upstream call may take with its retries (429 / 5xx / timeouts).
    upstream_deadline_s: float = 120.0
    job_timeout_s: int = 15 * 60
    worker_max_jobs: int = 20
    task_ttl_s: int = 3 * 24 * 3600
    stream_maxlen: int = 1000
    sse_heartbeat_s: float = 15.0
    ws_ping_interval_s: float = 20.0
    watcher_queue_size: int = 256
    max_connections: int = 10_000
    # Isolation (issue 11): live streams one user may hold per web process, on
    # both stream paths together; one more is refused (429 / WS close 1008).
    # Tabs and devices following a few tasks each stay far below it.
    streams_per_user: int = 20
    # Scale (issue 6): a stream write (SSE frame / WS message) that cannot reach
    # the client's socket within this many seconds cuts the client off (it resumes
    # with its last event id); threads for CPU media work (decode, JPEG) per worker
    # (0: min(8, CPUs)); arq's backstop beyond job_timeout_s (a SIGKILLed
    # worker's job does not wait for it: lease.py).
    stream_send_timeout_s: float = 10.0
    # SSE / WebSocket connections on the lean stream protocol (web/stream_server.py);
    # off, Hypercorn serves them through the ASGI endpoints (web/streams.py).
    lean_streams: bool = True
    media_threads: int = 0
    # Processes for the CPU media work of an arq worker (0: one per CPU, at most 8);
    # `serve --with-worker` keeps it on media_threads threads.
    media_processes: int = 0
    worker_job_grace_s: int = 30
    # Hostile clients (issue 11). A request head must arrive within head_timeout_s
    # of the connection, a request body within body_timeout_s; per client IP (an
    # IPv6 /64 counts as one), at most this many open connections and this many
    # unfinished request heads. The client IP of a connection from a trusted proxy
    # (Caddy) is the one it names in X-Forwarded-For.
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections_per_ip: int = 256
    max_partial_heads_per_ip: int = 32
    trusted_proxies: tuple[str, ...] = (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
    )

    # Cost (issue 4). The extraction cache: seconds a recipe read from a video is
    # reused for other users sharing the same video (0 turns the cache off).
    cache_ttl_s: int = 3 * 24 * 3600
    # Issue 15: seconds a failed task's reading is kept as a draft (resimply/drafts.py);
    # 0: no drafts.
    draft_ttl_s: int = 7 * 24 * 3600
    # Image tokens one task may send (by OpenAI's rules for the model); over it,
    # fewer or lower-detail frames are sent. 0: no frames at all.
    max_image_tokens: int = 20_000
    # Frames sent when the caption / subtitles already hold a complete recipe:
    # the last ones (the finished dish), at low detail.
    caption_first_frames: int = 1
    # USD per 1M tokens / per audio minute, by model-name prefix (RESIMPLY_PRICES
    # holds JSON merged over these defaults).
    prices: dict[str, Price] = dataclasses.field(default_factory=lambda: dict(DEFAULT_PRICES))
    # Prometheus (docs/metrics.md): an arq worker's own listener (0: none) and
    # an optional bearer token that /metrics (web and worker) then requires.
    worker_metrics_port: int = 0
    worker_metrics_host: str = "0.0.0.0"
    metrics_token: str | None = None

    @property
    def dev_secret_file(self) -> Path:
        return self.data_dir / "dev-jwt-secret"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "recipes.sqlite3"

    @property
    def jwt_issuer(self) -> str | None:
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else None

    def platform_scrapers(self) -> dict[str, str]:
        """platform → scraper name. Without RESIMPLY_SCRAPERS: TikTok and Instagram
        through Apify when the scraper is "apify" (a token is set), else every
        platform through yt-dlp; YouTube always through yt-dlp."""
        if self.scrapers:
            routes = dict(self.scrapers)
        elif self.scraper == "apify":
            routes = {"tiktok": "apify", "instagram": "apify", "youtube": "ytdlp"}
        else:
            routes = {"tiktok": "ytdlp", "instagram": "ytdlp", "youtube": "ytdlp"}
        return {p: routes.get(p, "off") for p in SCRAPER_PLATFORMS}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return _from_env(cls, env)


def _sentinels(env: Mapping[str, str]) -> tuple[tuple[str, int], ...]:
    """REDIS_SENTINELS: `host:port` pairs, comma-separated (port 26379 if left out)."""
    found: list[tuple[str, int]] = []
    for item in (env.get("REDIS_SENTINELS") or "").split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "26379")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(
                "REDIS_SENTINELS must list sentinels as host:port, comma-separated "
                f"(e.g. sentinel-1:26379,sentinel-2:26379,sentinel-3:26379); got {item!r}"
            )
        found.append((host, int(port)))
    return tuple(found)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number ≥ `minimum` (use 0 where 0 means off / none)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(
            f"{name} must be positive, got {value}"
            if minimum == 1
            else f"{name} must be {minimum} or more, got {value}"
        )
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    return _int(env, name, default, minimum=0)


def _networks(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated IP networks (`10.0.0.0/8`, `::1`); empty or `none`: none."""
    raw = env.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in ("", "none"):
        return ()
    networks = []
    for item in raw.split(","):
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name} must list IP networks such as 172.16.0.0/12 or ::1, got {item.strip()!r}"
            ) from None
    return tuple(networks)


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated names; empty: the default."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _prices(env: Mapping[str, str]) -> dict[str, Price]:
    raw = (env.get("RESIMPLY_PRICES") or "").strip()
    if not raw:
        return dict(DEFAULT_PRICES)
    try:
        return parse_prices(raw)
    except ValueError as exc:
        raise SettingsError(f"RESIMPLY_PRICES {exc}") from None


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], auto: str) -> str:
    raw = (env.get(name) or "").strip().lower()
    if not raw or raw == "auto":
        return auto
    if raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)} (or auto), got {raw!r}")
    return raw


def _scrapers(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """RESIMPLY_SCRAPERS, e.g. "tiktok:apify,instagram:apify,youtube:ytdlp"."""
    raw = (env.get("RESIMPLY_SCRAPERS") or "").strip().lower()
    if not raw or raw == "auto":
        return ()
    routes: dict[str, str] = {}
    for entry in raw.split(","):
        platform, sep, scraper = (part.strip() for part in entry.partition(":"))
        if not entry.strip():
            continue
        if not sep or platform not in _PLATFORM_SCRAPERS:
            raise SettingsError(
                "RESIMPLY_SCRAPERS takes platform:scraper pairs separated by commas, "
                f"platforms {', '.join(SCRAPER_PLATFORMS)}; got {entry.strip()!r}"
            )
        if scraper not in _PLATFORM_SCRAPERS[platform]:
            raise SettingsError(
                f"RESIMPLY_SCRAPERS: {platform} can use "
                f"{', '.join(_PLATFORM_SCRAPERS[platform])}; got {scraper!r}"
            )
        routes[platform] = scraper
    return tuple(routes.items())


def _from_env(cls: type[Settings], env: Mapping[str, str]) -> Settings:
    def opt(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    base = cls()
    supabase_url = opt("SUPABASE_URL")
    supabase_key = opt("SUPABASE_KEY")
    openai_key = opt("OPENAI_API_KEY")
    apify_token = opt("APIFY_API_TOKEN")
    dev = _flag(env.get("RESIMPLY_DEV"))
    jwt_secret = opt("SUPABASE_JWT_SECRET")
    if dev and jwt_secret:
        raise SettingsError(
            "RESIMPLY_DEV=1 mints development tokens and cannot be combined with a real "
            "SUPABASE_JWT_SECRET; unset one of them."
        )
    algorithms = tuple(
        a.strip().upper()
        for a in (env.get("RESIMPLY_JWT_ALGORITHMS") or ",".join(base.jwt_algorithms)).split(",")
        if a.strip()
    )
    unknown = set(algorithms) - {"HS256", "ES256", "RS256"}
    if unknown:
        raise SettingsError(
            f"RESIMPLY_JWT_ALGORITHMS may only name HS256, ES256, RS256; got {sorted(unknown)}"
        )

    settings = cls(
        redis_url=opt("REDIS_URL") or base.redis_url,
        redis_sentinels=_sentinels(env),
        redis_sentinel_master=opt("REDIS_SENTINEL_MASTER") or base.redis_sentinel_master,
        redis_sentinel_password=opt("REDIS_SENTINEL_PASSWORD"),
        accept_replicas=_count(env, "RESIMPLY_ACCEPT_REPLICAS", base.accept_replicas),
        accept_wait_ms=_int(env, "RESIMPLY_ACCEPT_WAIT_MS", base.accept_wait_ms),
        key_prefix=opt("RESIMPLY_KEY_PREFIX") or base.key_prefix,
        data_dir=Path(opt("RESIMPLY_DATA_DIR") or base.data_dir).expanduser(),
        dev=dev,
        log_level=(opt("LOG_LEVEL") or base.log_level).upper(),
        log_format="json" if (opt("LOG_FORMAT") or "").lower() == "json" else "console",
        supabase_url=supabase_url,
        supabase_key=supabase_key,
        supabase_jwt_secret=jwt_secret,
        jwt_algorithms=algorithms,
        openai_api_key=openai_key,
        openai_base_url=opt("OPENAI_BASE_URL"),
        openai_model=opt("OPENAI_MODEL") or base.openai_model,
        openai_transcription_model=opt("OPENAI_TRANSCRIPTION_MODEL")
        or base.openai_transcription_model,
        openai_image_detail=_choice(
            env, "OPENAI_IMAGE_DETAIL", ("low", "high", "auto"), base.openai_image_detail
        ),  # type: ignore[arg-type]
        supabase_bucket=opt("SUPABASE_BUCKET") or base.supabase_bucket,
        apify_api_token=apify_token,
        apify_api_url=opt("APIFY_API_URL") or base.apify_api_url,
        apify_actor_id=opt("APIFY_ACTOR_ID") or base.apify_actor_id,
        apify_run_timeout_s=_int(env, "APIFY_RUN_TIMEOUT_S", base.apify_run_timeout_s),
        apify_proxy_country=(opt("APIFY_PROXY_COUNTRY") or "").upper() or None,
        upstream_deadline_s=float(
            _int(env, "RESIMPLY_UPSTREAM_DEADLINE_S", int(base.upstream_deadline_s))
        ),
        scraper=_choice(
            env, "RESIMPLY_SCRAPER", ("apify", "direct"), "apify" if apify_token else "direct"
        ),  # type: ignore[arg-type]
        scrapers=_scrapers(env),
        scraper_fallback=_flag(env.get("RESIMPLY_SCRAPER_FALLBACK", "1")),
        apify_instagram_actor_id=opt("APIFY_INSTAGRAM_ACTOR_ID") or base.apify_instagram_actor_id,
        extractor=_choice(
            env, "RESIMPLY_EXTRACTOR", ("openai", "offline"), "openai" if openai_key else "offline"
        ),  # type: ignore[arg-type]
        store=_choice(
            env,
            "RESIMPLY_STORE",
            ("supabase", "sqlite"),
            "supabase" if supabase_url and supabase_key else "sqlite",
        ),  # type: ignore[arg-type]
        allow_private_urls=_flag(env.get("RESIMPLY_ALLOW_PRIVATE_URLS")),
        ytdlp_extractors=_names(env, "RESIMPLY_YTDLP_EXTRACTORS", base.ytdlp_extractors),
        ytdlp_timeout_s=float(_int(env, "RESIMPLY_YTDLP_TIMEOUT_S", int(base.ytdlp_timeout_s))),
        max_video_bytes=_int(env, "RESIMPLY_MAX_VIDEO_BYTES", base.max_video_bytes),
        max_duration_s=_int(env, "RESIMPLY_MAX_DURATION_S", int(base.max_duration_s)),
        max_pixels=_int(env, "RESIMPLY_MAX_PIXELS", base.max_pixels),
        max_frames=_int(env, "RESIMPLY_MAX_FRAMES", base.max_frames),
        frame_max_edge=_int(env, "RESIMPLY_FRAME_MAX_EDGE", base.frame_max_edge),
        jpeg_quality=_int(env, "RESIMPLY_JPEG_QUALITY", base.jpeg_quality),
        ocr_budget_s=_count(env, "RESIMPLY_OCR_BUDGET_S", base.ocr_budget_s),
        ocr_max_shots=_int(env, "RESIMPLY_OCR_MAX_SHOTS", base.ocr_max_shots),
        rate_limit_per_minute=_int(
            env, "RESIMPLY_RATE_LIMIT_PER_MINUTE", base.rate_limit_per_minute
        ),
        job_timeout_s=_int(env, "RESIMPLY_JOB_TIMEOUT_S", base.job_timeout_s),
        worker_max_jobs=_int(env, "RESIMPLY_WORKER_MAX_JOBS", base.worker_max_jobs),
        task_ttl_s=_int(env, "RESIMPLY_TASK_TTL_S", base.task_ttl_s),
        sse_heartbeat_s=float(_int(env, "RESIMPLY_SSE_HEARTBEAT_S", int(base.sse_heartbeat_s))),
        max_connections=_int(env, "RESIMPLY_MAX_CONNECTIONS", base.max_connections),
        streams_per_user=_int(env, "RESIMPLY_STREAMS_PER_USER", base.streams_per_user),
        ws_ping_interval_s=float(
            _int(env, "RESIMPLY_WS_PING_INTERVAL_S", int(base.ws_ping_interval_s))
        ),
        stream_send_timeout_s=float(
            _int(env, "RESIMPLY_STREAM_SEND_TIMEOUT_S", int(base.stream_send_timeout_s))
        ),
        lean_streams=_flag(env.get("RESIMPLY_LEAN_STREAMS", "1")),
        media_threads=_count(env, "RESIMPLY_MEDIA_THREADS", base.media_threads),
        media_processes=_count(env, "RESIMPLY_MEDIA_PROCESSES", base.media_processes),
        worker_job_grace_s=_count(env, "RESIMPLY_WORKER_JOB_GRACE_S", base.worker_job_grace_s),
        head_timeout_s=float(_int(env, "RESIMPLY_HEAD_TIMEOUT_S", int(base.head_timeout_s))),
        body_timeout_s=float(_int(env, "RESIMPLY_BODY_TIMEOUT_S", int(base.body_timeout_s))),
        max_connections_per_ip=_int(
            env, "RESIMPLY_MAX_CONNECTIONS_PER_IP", base.max_connections_per_ip
        ),
        max_partial_heads_per_ip=_int(
            env, "RESIMPLY_MAX_PARTIAL_HEADS_PER_IP", base.max_partial_heads_per_ip
        ),
        trusted_proxies=_networks(env, "RESIMPLY_TRUSTED_PROXIES", base.trusted_proxies),
        cache_ttl_s=_count(env, "RESIMPLY_CACHE_TTL_S", base.cache_ttl_s),
        draft_ttl_s=_count(env, "RESIMPLY_DRAFT_TTL_S", base.draft_ttl_s),
        max_image_tokens=_count(env, "RESIMPLY_MAX_IMAGE_TOKENS", base.max_image_tokens),
        caption_first_frames=_count(
            env, "RESIMPLY_CAPTION_FIRST_FRAMES", base.caption_first_frames
        ),
        prices=_prices(env),
        worker_metrics_port=_count(env, "RESIMPLY_WORKER_METRICS_PORT", base.worker_metrics_port),
        worker_metrics_host=opt("RESIMPLY_WORKER_METRICS_HOST") or base.worker_metrics_host,
        metrics_token=opt("RESIMPLY_METRICS_TOKEN"),
    )
    for pattern in settings.ytdlp_extractors:
        try:
            re.compile(pattern)
        except re.error:
            raise SettingsError(
                "RESIMPLY_YTDLP_EXTRACTORS must list yt-dlp extractor names such as "
                f"tiktok,instagram,youtube; {pattern!r} is not a valid name or pattern"
            ) from None
    if settings.store == "supabase" and not (supabase_url and supabase_key):
        raise SettingsError("RESIMPLY_STORE=supabase needs SUPABASE_URL and SUPABASE_KEY")
    if settings.scraper == "apify" and not apify_token:
        raise SettingsError("RESIMPLY_SCRAPER=apify needs APIFY_API_TOKEN")
    on_apify = [p for p, s in settings.scrapers if s == "apify"]
    if on_apify and not apify_token:
        raise SettingsError(
            f"RESIMPLY_SCRAPERS routes {', '.join(on_apify)} to apify, which needs APIFY_API_TOKEN"
        )
    if settings.extractor == "openai" and not openai_key:
        raise SettingsError("RESIMPLY_EXTRACTOR=openai needs OPENAI_API_KEY")
    return settings
