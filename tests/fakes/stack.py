"""All three fakes together — Apify, OpenAI, Supabase — with a demo TikTok post
whose video is the bundled sample. Used by the production end-to-end tests and
by `python -m tests.fakes` to run the whole service against them by hand."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

from aiohttp import web

from resimply.media.subtitles import read_embedded_subtitles
from resimply.sample import SAMPLE_VIDEO
from tests.fakes import apify, openai, supabase
from tests.fakes.server import start_fake

DEMO_VIDEO_ID = "7524354452762037512"
DEMO_URL = f"https://www.tiktok.com/@chefanna/video/{DEMO_VIDEO_ID}"
JWT_SECRET = "fake-project-jwt-secret-with-at-least-32-characters"


def demo_post() -> apify.FakePost:
    caption = (SAMPLE_VIDEO.with_suffix(".txt")).read_text(encoding="utf-8")
    (track,) = read_embedded_subtitles(SAMPLE_VIDEO)
    return apify.FakePost(
        item=apify.make_item(DEMO_VIDEO_ID, author="chefanna", text=caption, language="en"),
        video=SAMPLE_VIDEO.read_bytes(),
        subtitles=[apify.FakeSubtitle(language="eng-US", vtt=track.text, source="ASR")],
    )


@dataclasses.dataclass
class FakeStack:
    apify: apify.ApifyFakeState
    openai: openai.OpenAIFakeState
    supabase: supabase.SupabaseFakeState
    urls: dict[str, str] = dataclasses.field(default_factory=dict)
    runners: list[web.AppRunner] = dataclasses.field(default_factory=list)

    @classmethod
    def new(cls) -> FakeStack:
        stack = cls(apify.ApifyFakeState(), openai.OpenAIFakeState(), supabase.SupabaseFakeState())
        stack.apify.add_post(demo_post())
        return stack

    async def start(self) -> None:
        for name, app in (
            ("apify", apify.make_apify_app(self.apify)),
            ("openai", openai.make_openai_app(self.openai)),
            ("supabase", supabase.make_supabase_app(self.supabase)),
        ):
            runner, url = await start_fake(app)
            self.runners.append(runner)
            self.urls[name] = url

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()

    def env(self) -> dict[str, str]:
        """The production configuration, pointed at the fakes."""
        return {
            "APIFY_API_TOKEN": self.apify.token,
            "APIFY_API_URL": self.urls["apify"],
            "OPENAI_API_KEY": self.openai.api_key,
            "OPENAI_BASE_URL": self.urls["openai"] + "/v1",
            "SUPABASE_URL": self.urls["supabase"],
            "SUPABASE_KEY": self.supabase.service_key,
            "SUPABASE_JWT_SECRET": JWT_SECRET,
        }


class FakesThread:
    """The fakes on their own event loop in a thread, so blocking tests and
    benchmarks can drive the service while the fakes answer it."""

    def __init__(self) -> None:
        self.stack = FakeStack.new()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeStack:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.stack.start(), self.loop).result(10)
        return self.stack

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.stack.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
