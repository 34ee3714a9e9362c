"""Instagram end to end in production mode: `resimply serve` and `arq` as real
processes with the real apify-client, OpenAI and Supabase clients inside, against
the fakes — a Reel through `apify/instagram-scraper` into Supabase, and each way the
actor fails, as the client sees it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jose import jwt

from resimply.sample import SAMPLE_VIDEO
from tests.client import sse_messages, submit
from tests.fakes.apify import INSTAGRAM_ACTOR_NAME, FakeInstagramPost, make_instagram_item
from tests.fakes.stack import JWT_SECRET, FakeStack, FakesThread
from tests.servers import Service

REEL = "C9xYz_AbC12"
PRIVATE = "Cprivate123"
PHOTO = "Cphoto12345"
BROKEN = "Cbroken1234"
CAPTION = SAMPLE_VIDEO.with_suffix(".txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def fakes() -> Iterator[FakeStack]:
    with FakesThread() as stack:
        ig = stack.apify
        ig.add_instagram_post(
            REEL,
            FakeInstagramPost(
                item=make_instagram_item(REEL, caption=CAPTION), video=SAMPLE_VIDEO.read_bytes()
            ),
        )
        ig.add_instagram_post(
            PRIVATE,
            FakeInstagramPost(item={"error": "restricted_page", "errorDescription": "Private"}),
        )
        ig.add_instagram_post(
            PHOTO, FakeInstagramPost(item=make_instagram_item(PHOTO, kind="Image"))
        )
        ig.add_instagram_post(
            BROKEN,
            FakeInstagramPost(
                item=make_instagram_item(BROKEN, caption=CAPTION),
                video=SAMPLE_VIDEO.read_bytes(),
                run_status="FAILED",
            ),
        )
        yield stack


@pytest.fixture(scope="module")
def prod(
    redis_url: str, fakes: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    svc = Service(
        redis_url,
        tmp_path_factory.mktemp("prod-instagram"),
        **fakes.env(),
        RESIMPLY_DEV="0",
        RESIMPLY_UPSTREAM_DEADLINE_S="3",
        # No yt-dlp fallback here: what the Apify path alone answers.
        RESIMPLY_SCRAPER_FALLBACK="0",
    )
    with svc.running():
        yield svc


def token_for(fakes: FakeStack) -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "iss": f"{fakes.urls['supabase']}/auth/v1",
        "iat": now,
        "exp": now + 600,
    }
    return str(jwt.encode(claims, JWT_SECRET, algorithm="HS256"))


def final_message(svc: Service, fakes: FakeStack, url: str) -> dict[str, Any]:
    token = token_for(fakes)
    response = submit(svc, token, {"url": url})
    assert response.status_code == 202, response.text
    status, messages = sse_messages(svc, token, response.json()["task_id"])
    assert status == 200
    return messages[-1]


def test_capabilities_name_both_apify_platforms(prod: Service) -> None:
    body = httpx.get(f"{prod.base_url}/capabilities", timeout=5).json()
    routes = {p["platform"]: p["scraper"] for p in body["platforms"]}
    assert routes["tiktok"] == "apify" and routes["instagram"] == "apify"
    assert "Instagram Reels" in body["hint"] and "TikTok videos" in body["hint"]


def test_a_reel_goes_through_all_steps_into_supabase(prod: Service, fakes: FakeStack) -> None:
    url = f"https://www.instagram.com/reel/{REEL}/?igsh=MWZ0dGRhb2x1"
    done = final_message(prod, fakes, url)
    assert done["type"] == "completion", done
    source = done["recipe"]["source"]
    assert (source["platform"], source["video_id"], source["author"]) == (
        "instagram",
        REEL,
        "chefanna",
    )
    run = next(r for r in fakes.apify.runs if r.input.get("directUrls") == [url])
    assert run.actor_id == INSTAGRAM_ACTOR_NAME
    assert run.input["resultsType"] == "posts" and run.input["resultsLimit"] == 1
    cdn = [h for h in fakes.apify.hits("cdn") if h.path == f"/cdn/ig/{REEL}.mp4"]
    assert cdn and all(h.authorization is None and not h.token_param for h in cdn)
    assert [r for r in fakes.supabase.rows if r["id"] == done["recipe"]["id"]]


@pytest.mark.parametrize(
    ("code", "error", "retryable"),
    [
        (PRIVATE, "video_not_found", False),
        ("Cnothing123", "video_not_found", False),
        (PHOTO, "invalid_media", False),
        (BROKEN, "scrape_failed", True),
    ],
)
def test_each_actor_failure_reaches_the_client(
    prod: Service, fakes: FakeStack, code: str, error: str, retryable: bool
) -> None:
    final = final_message(prod, fakes, f"https://www.instagram.com/p/{code}/")
    assert final["type"] == "error" and final["status"] == "FAILURE", final
    assert (final["error"], final["retryable"]) == (error, retryable)
