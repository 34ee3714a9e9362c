"""A fake of the Apify API, the clockworks TikTok actor (EXTERNALS.md §1) and the
`apify/instagram-scraper` actor (§5, docs/providers.md).

Tests configure an `ApifyFakeState` (the posts it knows, scripted failures,
latency) and serve `make_apify_app(state)` with `tests.fakes.server.start_fake`.
The fake records what it received so tests can inspect it.

Routes (all under `/v2`, token required as `Authorization: Bearer` or `?token=`):

* `POST /v2/acts/{actorId}/runs` and `POST /v2/actors/{actorId}/runs` — start a run
  (body JSON, gzip when `Content-Encoding: gzip`); 201 `{"data": Run}`.
* `GET /v2/actor-runs/{runId}?waitForFinish=N` — long-polls until the run is
  finished or N seconds (capped at `long_poll_cap_s`) pass.
* `POST /v2/actor-runs/{runId}/abort`.
* `GET /v2/datasets/{id}/items` — a bare JSON array with `x-apify-pagination-*` headers.
* `GET /v2/key-value-stores/{id}/records/{key}` — 403 without a valid token, else the record.

Outside the API (no token needed, like TikTok's CDN):

* `GET /cdn/video/{videoId}.mp4` and `GET /cdn/subtitles/{videoId}/{language}.vtt`.
* `GET /cdn/ig/{shortCode}.mp4`: an Instagram post's `videoUrl` (Instagram's CDN
  in reality; the actor does not re-host it).

The Instagram actor (`instagram_actor_name` or `instagram_actor_id`) takes
`directUrls` and answers from `instagram_posts` (by shortcode): a post's item
(`make_instagram_item`: a video, a photo, a carousel, or an error item), and
its run may end otherwise (`FakeInstagramPost.run_status`, e.g. "FAILED").

Links in items point at the API origin (`http://127.0.0.1:<port>`) for KVS
records, and at `cdn_host` (default `localhost`, the same server under another
host name, so a different origin) for CDN links.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import gzip
import json
import re
import time
from typing import Any, Literal

from aiohttp import web

from resimply.links import instagram_code, tiktok_video_id

TOKEN = "apify_api_FAKE0123456789abcdef"
ACTOR_ID = "S5h7zRLfKFEr8pdj7"
INSTAGRAM_ACTOR_ID = "shu8hvrXbJbY3Eb9W"
INSTAGRAM_ACTOR_NAME = "apify~instagram-scraper"
# What the actor puts in the dataset for a private, deleted or unavailable post (§5).
INSTAGRAM_ERROR_ITEM: dict[str, Any] = {
    "error": "not_found",
    "errorDescription": "Post does not exist or is private (restricted access).",
}
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED")

Route = Literal["start", "run", "abort", "items", "record", "cdn", "*"]


@dataclasses.dataclass
class FakeSubtitle:
    language: str  # TikTok's form, e.g. "eng-US"
    vtt: str
    source: str = "ASR"  # ASR (speech recognition) | MT (machine translation)


@dataclasses.dataclass
class FakePost:
    """One TikTok post. `item` holds the dataset item's fields (§1.2); the fake
    fills in `mediaUrls`, `videoMeta.downloadAddr` and `subtitleLinks`."""

    item: dict[str, Any]
    video: bytes = b""
    subtitles: list[FakeSubtitle] = dataclasses.field(default_factory=list)
    # False: the actor could not download the video (mediaUrls [], no downloadAddr).
    downloadable: bool = True


@dataclasses.dataclass
class FakeInstagramPost:
    """One Instagram post: its dataset item (the fake sets `videoUrl` of a video
    to its own CDN route), the video's bytes, and how a run for it ends."""

    item: dict[str, Any]
    video: bytes = b""
    run_status: str | None = None  # None: the state's run_status


@dataclasses.dataclass
class Failure:
    """Answer the next `times` requests of `route` with `status` instead."""

    route: Route
    status: int
    times: int = 1
    retry_after: str | None = None
    error_type: str = "fake-error"
    message: str = "Scripted failure"


@dataclasses.dataclass
class Received:
    method: str
    path: str
    route: str
    query: dict[str, str]
    authorization: str | None
    token_param: bool
    at: float  # time.monotonic()
    host: str


@dataclasses.dataclass
class FakeRun:
    id: str
    actor_id: str
    input: dict[str, Any]
    query: dict[str, str]
    content_encoding: str | None
    started: float
    dataset_id: str
    kvs_id: str
    status: str = "RUNNING"
    final_status: str = "SUCCEEDED"
    finish_at: float = 0.0
    items: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ApifyFakeState:
    token: str = TOKEN
    actor_id: str = ACTOR_ID
    actor_name: str = "clockworks~tiktok-video-scraper"
    posts: dict[str, FakePost] = dataclasses.field(default_factory=dict)
    short_links: dict[str, str] = dataclasses.field(default_factory=dict)  # short URL → video id
    instagram_actor_id: str = INSTAGRAM_ACTOR_ID
    instagram_actor_name: str = INSTAGRAM_ACTOR_NAME
    instagram_posts: dict[str, FakeInstagramPost] = dataclasses.field(default_factory=dict)
    # The item for a shortcode the fake does not know; None: an empty dataset.
    instagram_missing_item: dict[str, Any] | None = dataclasses.field(
        default_factory=lambda: dict(INSTAGRAM_ERROR_ITEM)
    )
    # Items every run's dataset holds before the posts' own (e.g. related videos).
    dataset_prefix: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # How the next runs end, and how long they take.
    run_status: str = "SUCCEEDED"
    run_duration_s: float = 0.0
    long_poll_cap_s: float = 60.0
    # The item for an unknown or deleted post (§1.2 "Failure is a data item");
    # None: the dataset stays empty.
    missing_post_item: dict[str, Any] | None = dataclasses.field(
        default_factory=lambda: {"error": "Post not found or private.", "errorCode": 404}
    )
    # Where the links in items point: "api" (KVS record, token needed) or "cdn".
    video_host: Literal["api", "cdn"] = "api"
    subtitle_host: Literal["api", "cdn"] = "cdn"
    cdn_host: str = "localhost"
    video_stream: Literal["normal", "endless", "oversized"] = "normal"
    latency_s: float = 0.0
    failures: list[Failure] = dataclasses.field(default_factory=list)
    # Records.
    requests: list[Received] = dataclasses.field(default_factory=list)
    runs: list[FakeRun] = dataclasses.field(default_factory=list)
    records: dict[tuple[str, str], tuple[str, bytes]] = dataclasses.field(default_factory=dict)

    def hits(self, route: str) -> list[Received]:
        return [r for r in self.requests if r.route == route]

    def add_post(self, post: FakePost) -> FakePost:
        self.posts[str(post.item["id"])] = post
        return post

    def add_instagram_post(self, code: str, post: FakeInstagramPost) -> FakeInstagramPost:
        self.instagram_posts[code] = post
        return post


def make_instagram_item(
    code: str = "C9xYz_AbC12",
    *,
    kind: Literal["Video", "Image", "Sidecar"] = "Video",
    caption: str | None = "Crispy smashed potatoes 🥔 #recipe",
    owner: str = "chefanna",
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A dataset item shaped like EXTERNALS §5 (`videoUrl` is set by the fake)."""
    item: dict[str, Any] = {
        "id": "3390000000000000001",
        "type": kind,
        "shortCode": code,
        "url": f"https://www.instagram.com/p/{code}/",
        "caption": caption,
        "hashtags": ["recipe"],
        "mentions": [],
        "commentsCount": 12,
        "likesCount": 340,
        "timestamp": "2025-07-07T14:58:13.000Z",
        "ownerUsername": owner,
        "ownerFullName": owner.title(),
        "ownerId": "123456789",
        "displayUrl": f"https://scontent.cdninstagram.com/v/{code}.jpg",
        "dimensionsHeight": 1920,
        "dimensionsWidth": 1080,
        "images": [],
        "childPosts": children or [],
    }
    if kind == "Video":
        item.update(productType="clips", videoUrl=None, videoDuration=21.5, videoViewCount=1000)
    return item


def make_item(
    video_id: str = "7524354452762037512",
    *,
    author: str = "chefanna",
    text: str = "Creamy garlic pasta in 15 minutes #pasta #recipe",
    language: str = "en",
    slideshow: bool = False,
) -> dict[str, Any]:
    """A dataset item shaped like §1.2 (without media links; the fake adds them)."""
    return {
        "id": video_id,
        "text": text,
        "textLanguage": language,
        "createTime": 1751900293,
        "createTimeISO": "2025-07-07T14:58:13.000Z",
        "locationCreated": "GB",
        "isAd": False,
        "authorMeta": {
            "id": "7337708524620203026",
            "name": author,
            "profileUrl": f"https://www.tiktok.com/@{author}",
            "nickName": author.title(),
            "verified": False,
            "privateAccount": False,
            "fans": 149800,
        },
        "musicMeta": {"musicName": f"original sound - {author}", "musicOriginal": True},
        "webVideoUrl": f"https://www.tiktok.com/@{author}/video/{video_id}",
        "mediaUrls": [],
        "videoMeta": {
            "height": 0 if slideshow else 1024,
            "width": 0 if slideshow else 576,
            "duration": 0 if slideshow else 20,
            "coverUrl": f"https://p16-sign-sg.tiktokcdn.com/cover/{video_id}.jpeg",
            "originalCoverUrl": f"https://p16-sign-sg.tiktokcdn.com/origin/{video_id}.jpeg",
            "definition": "540p",
            "format": "mp4",
            "subtitleLinks": [],
        },
        "diggCount": 158,
        "shareCount": 0,
        "playCount": 2314,
        "collectCount": 23,
        "commentCount": 12,
        "hashtags": [{"name": "pasta"}, {"name": "recipe"}],
        "isSlideshow": slideshow,
        "isPinned": False,
        "isSponsored": False,
        **(
            {
                "slideshowImageLinks": [
                    {
                        "tiktokLink": "https://p16-sign.tiktokcdn.com/slide1.jpeg",
                        "downloadLink": "https://p16-sign.tiktokcdn.com/slide1.jpeg",
                    }
                ]
            }
            if slideshow
            else {}
        ),
    }


def _error(status: int, error_type: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"type": error_type, "message": message}}, status=status, headers=headers
    )


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _run_object(run: FakeRun, state: ApifyFakeState) -> dict[str, Any]:
    """The minimal valid run form of §1.4."""
    finished = run.status in TERMINAL
    wall_start = time.time() - (time.monotonic() - run.started)
    return {
        "id": run.id,
        "actId": state.actor_id,
        "userId": "u",
        "status": run.status,
        "statusMessage": "Finished" if finished else "Running",
        "isStatusMessageTerminal": finished,
        "startedAt": _iso(wall_start),
        "finishedAt": _iso(time.time()) if finished else None,
        "meta": {"origin": "API"},
        "stats": {"restartCount": 0, "resurrectCount": 0, "computeUnits": 0.1},
        "options": {
            "build": "latest",
            "timeoutSecs": int(run.query.get("timeout", "120")),
            "memoryMbytes": 1024,
            "diskMbytes": 2048,
        },
        "buildId": "b",
        "buildNumber": "0.0.1",
        "exitCode": 0 if run.status == "SUCCEEDED" else (1 if finished else None),
        "generalAccess": "RESTRICTED",
        "defaultKeyValueStoreId": run.kvs_id,
        "defaultDatasetId": run.dataset_id,
        "defaultRequestQueueId": "rq1",
        "containerUrl": "https://x.runs.apify.net",
        "usageTotalUsd": 0.01,
    }


def _route_of(path: str) -> str:
    if path.startswith("/cdn/"):
        return "cdn"
    if re.fullmatch(r"/v2/(acts|actors)/[^/]+/runs", path):
        return "start"
    if re.fullmatch(r"/v2/actor-runs/[^/]+/abort", path):
        return "abort"
    if path.startswith("/v2/actor-runs/"):
        return "run"
    if path.startswith("/v2/datasets/"):
        return "items"
    if path.startswith("/v2/key-value-stores/"):
        return "record"
    return "other"


def make_apify_app(state: ApifyFakeState) -> web.Application:
    def has_token(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header == f"Bearer {state.token}" or request.query.get("token") == state.token

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        route = _route_of(request.path)
        state.requests.append(
            Received(
                method=request.method,
                path=request.path,
                route=route,
                query=dict(request.query),
                authorization=request.headers.get("Authorization"),
                token_param="token" in request.query,
                at=time.monotonic(),
                host=request.host,
            )
        )
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        for failure in state.failures:
            if failure.times > 0 and failure.route in (route, "*"):
                failure.times -= 1
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                return _error(failure.status, failure.error_type, failure.message, **headers)
        if route == "record":
            if not has_token(request):
                return _error(
                    403,
                    "insufficient-permissions",
                    "Insufficient permissions for the key-value store. Make sure you're passing "
                    "a correct API token and that it has the required permissions.",
                )
        elif route != "cdn":
            if "Authorization" not in request.headers and "token" not in request.query:
                return _error(401, "token-not-provided", "Authentication token was not provided")
            if not has_token(request):
                return _error(
                    401,
                    "user-or-token-not-found",
                    "User was not found or authentication token is not valid",
                )
        result: web.StreamResponse = await handler(request)
        return result

    async def start_run(request: web.Request) -> web.Response:
        actor = request.match_info["actor"]
        instagram = actor in (state.instagram_actor_id, state.instagram_actor_name)
        if actor not in (state.actor_id, state.actor_name) and not instagram:
            return _error(404, "record-not-found", "Actor was not found")
        body = await request.read()
        encoding = request.headers.get("Content-Encoding")
        # aiohttp already inflates a `Content-Encoding: gzip` body; inflate here
        # only if it did not (older versions).
        if encoding == "gzip" and body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        try:
            run_input = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "invalid-input", "Input is not valid JSON")
        field = "directUrls" if instagram else "postURLs"
        if not isinstance(run_input, dict) or not isinstance(run_input.get(field), list):
            return _error(
                400, "invalid-input", f"Input is not valid: Field input.{field} is required"
            )
        n = len(state.runs) + 1
        run = FakeRun(
            id=f"run{n:04d}FAKE",
            actor_id=actor,
            input=run_input,
            query=dict(request.query),
            content_encoding=encoding,
            started=time.monotonic(),
            dataset_id=f"ds{n:04d}",
            kvs_id=f"kvs{n:04d}",
            final_status=state.run_status,
            finish_at=time.monotonic() + state.run_duration_s,
        )
        base = f"{request.scheme}://{request.host}"
        port = request.url.port
        cdn = f"{request.scheme}://{state.cdn_host}:{port}"
        if instagram:
            for url in run_input["directUrls"]:
                item, status = _instagram_item_for(state, str(url), cdn)
                if item is not None:
                    run.items.append(item)
                run.final_status = status or run.final_status
            state.runs.append(run)
            return web.json_response({"data": _run_object(run, state)}, status=201)
        run.items.extend(copy.deepcopy(state.dataset_prefix))
        for url in run_input["postURLs"]:
            item = _item_for(state, run, str(url), base, cdn)
            if item is not None:
                run.items.append(item)
        state.runs.append(run)
        return web.json_response({"data": _run_object(run, state)}, status=201)

    def find_run(run_id: str) -> FakeRun | None:
        return next((r for r in state.runs if r.id == run_id), None)

    def settle(run: FakeRun) -> None:
        if run.status not in TERMINAL and time.monotonic() >= run.finish_at:
            run.status = run.final_status

    async def get_run(request: web.Request) -> web.Response:
        run = find_run(request.match_info["run"])
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        wait = min(float(request.query.get("waitForFinish", "0") or 0), state.long_poll_cap_s)
        until = time.monotonic() + wait
        settle(run)
        while run.status not in TERMINAL and time.monotonic() < until:
            await asyncio.sleep(min(0.05, max(until - time.monotonic(), 0)))
            settle(run)
        return web.json_response({"data": _run_object(run, state)})

    async def abort_run(request: web.Request) -> web.Response:
        run = find_run(request.match_info["run"])
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        if run.status not in TERMINAL:
            run.status = "ABORTED"
        return web.json_response({"data": _run_object(run, state)})

    async def items(request: web.Request) -> web.Response:
        dataset = request.match_info["dataset"]
        run = next((r for r in state.runs if r.dataset_id == dataset), None)
        if run is None:
            return _error(404, "record-not-found", "Dataset was not found")
        rows = run.items if run.status == "SUCCEEDED" else run.items[:0]
        offset = int(request.query.get("offset", "0") or 0)
        limit = int(request.query.get("limit", "0") or 0) or 999999999999
        desc = request.query.get("desc") in ("1", "true")
        ordered = list(reversed(rows)) if desc else rows
        page = ordered[offset : offset + limit]
        headers = {
            "X-Apify-Pagination-Total": str(len(rows)),
            "X-Apify-Pagination-Offset": str(offset),
            "X-Apify-Pagination-Limit": str(limit),
            "X-Apify-Pagination-Count": str(len(page)),
            "X-Apify-Pagination-Desc": "true" if desc else "false",
        }
        return web.json_response(page, headers=headers)

    async def record(request: web.Request) -> web.StreamResponse:
        key = (request.match_info["store"], request.match_info["key"])
        found = state.records.get(key)
        if found is None:
            return _error(404, "record-not-found", "Record was not found")
        content_type, data = found
        if content_type == "video/mp4":
            return await _video_response(request, state, data)
        return web.Response(body=data, content_type=content_type.split(";")[0], charset="utf-8")

    async def cdn_video(request: web.Request) -> web.StreamResponse:
        post = state.posts.get(request.match_info["video"])
        if post is None:
            return web.Response(status=404, text="not found")
        return await _video_response(request, state, post.video)

    async def cdn_instagram(request: web.Request) -> web.StreamResponse:
        post = state.instagram_posts.get(request.match_info["code"])
        if post is None:
            return web.Response(status=404, text="not found")
        return await _video_response(request, state, post.video)

    async def cdn_subtitle(request: web.Request) -> web.Response:
        post = state.posts.get(request.match_info["video"])
        language = request.match_info["language"]
        sub = next((s for s in post.subtitles if s.language == language), None) if post else None
        if sub is None:
            return web.Response(status=404, text="not found")
        return web.Response(text=sub.vtt, content_type="text/vtt")

    app = web.Application(middlewares=[middleware])
    app.router.add_post("/v2/acts/{actor}/runs", start_run)
    app.router.add_post("/v2/actors/{actor}/runs", start_run)
    app.router.add_get("/v2/actor-runs/{run}", get_run)
    app.router.add_post("/v2/actor-runs/{run}/abort", abort_run)
    app.router.add_get("/v2/datasets/{dataset}/items", items)
    app.router.add_get("/v2/key-value-stores/{store}/records/{key}", record)
    app.router.add_get("/cdn/video/{video}.mp4", cdn_video)
    app.router.add_get("/cdn/ig/{code}.mp4", cdn_instagram)
    app.router.add_get("/cdn/subtitles/{video}/{language}.vtt", cdn_subtitle)
    return app


def _instagram_item_for(
    state: ApifyFakeState, url: str, cdn: str
) -> tuple[dict[str, Any] | None, str | None]:
    """(the dataset item for one direct URL, how its run ends)."""
    code = instagram_code(url)
    post = state.instagram_posts.get(code or "")
    if post is None:
        if state.instagram_missing_item is None:
            return None, None
        return {**copy.deepcopy(state.instagram_missing_item), "url": url}, None
    item = copy.deepcopy(post.item)
    item["inputUrl"] = url
    if item.get("type") == "Video":
        item["videoUrl"] = f"{cdn}/cdn/ig/{code}.mp4"
    for child in item.get("childPosts") or []:
        if child.get("type") == "Video" and child.get("videoUrl") == "fake:cdn":
            child["videoUrl"] = f"{cdn}/cdn/ig/{code}.mp4"
    return item, post.run_status


def _item_for(
    state: ApifyFakeState, run: FakeRun, url: str, base: str, cdn: str
) -> dict[str, Any] | None:
    video_id = tiktok_video_id(url) or state.short_links.get(url.strip())
    post = state.posts.get(video_id or "")
    if post is None:
        if state.missing_post_item is None:
            return None
        return {**copy.deepcopy(state.missing_post_item), "url": url}
    item = copy.deepcopy(post.item)
    item["submittedVideoUrl"] = url
    meta = item.setdefault("videoMeta", {})
    author = item.get("authorMeta", {}).get("name", "user")
    if post.downloadable and run.input.get("shouldDownloadVideos") and not item.get("isSlideshow"):
        key = f"video-{author}-20250707145813-{item['id']}"
        state.records[(run.kvs_id, key)] = ("video/mp4", post.video)
        if state.video_host == "api":
            link = f"{base}/v2/key-value-stores/{run.kvs_id}/records/{key}"
        else:
            link = f"{cdn}/cdn/video/{item['id']}.mp4"
        item["mediaUrls"] = [link]
        meta["downloadAddr"] = link
    else:
        item["mediaUrls"] = []
        meta.pop("downloadAddr", None)
    links = []
    for sub in post.subtitles:
        tiktok_link = f"{cdn}/cdn/subtitles/{item['id']}/{sub.language}.vtt"
        download = tiktok_link
        if (
            state.subtitle_host == "api"
            and run.input.get("downloadSubtitlesOptions") == "DOWNLOAD_SUBTITLES"
        ):
            key = f"subtitles-{item['id']}-{sub.language}"
            state.records[(run.kvs_id, key)] = ("text/vtt; charset=utf-8", sub.vtt.encode())
            download = f"{base}/v2/key-value-stores/{run.kvs_id}/records/{key}"
        links.append(
            {
                "language": sub.language,
                "downloadLink": download,
                "tiktokLink": tiktok_link,
                "source": sub.source,
                "sourceUnabbreviated": {
                    "ASR": "automatic speech recognition",
                    "MT": "machine translation",
                }.get(sub.source, sub.source.lower()),
                "version": "1",
            }
        )
    meta["subtitleLinks"] = links
    return item


async def _video_response(
    request: web.Request, state: ApifyFakeState, data: bytes
) -> web.StreamResponse:
    if state.video_stream == "normal":
        return web.Response(body=data, content_type="video/mp4")
    resp = web.StreamResponse()
    resp.content_type = "video/mp4"
    if state.video_stream == "oversized":
        resp.content_length = 10 * 1024**3  # announces 10 GiB
    else:
        resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        while True:  # endless: until the client hangs up
            await resp.write(b"\x00" * 65536)
            await asyncio.sleep(0)
    except (ConnectionError, RuntimeError):
        pass
    return resp
