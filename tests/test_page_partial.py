"""The page shows the recipe as it is read (issue 15 item 4): in a real headless
Chromium, against `resimply serve` + `arq` in development mode with the OpenAI
extractor pointed at the fake, which streams its answer at a model's pace — the
ingredients are on screen before the completion, then the whole recipe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.stack import FakeStack, FakesThread
from tests.servers import Service
from tests.test_e2e_partial import ANSWER, INGREDIENTS
from tests.test_page import TIMEOUT_MS, Visit, browser, chromium, contexts, shots  # noqa: F401


@pytest.fixture(scope="module")
def fakes() -> Iterator[FakeStack]:
    with FakesThread() as stack:
        stack.openai.stream_first_token_s = 0.5
        stack.openai.stream_tokens_per_s = 60  # the answer takes ~6 s
        yield stack


@pytest.fixture(scope="module")
def openai_service(
    redis_url: str, fakes: FakeStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    service = Service(
        redis_url,
        tmp_path_factory.mktemp("page-partial"),
        OPENAI_API_KEY=fakes.openai.api_key,
        OPENAI_BASE_URL=fakes.urls["openai"] + "/v1",
        RESIMPLY_EXTRACTOR="openai",
        RESIMPLY_CACHE_TTL_S="0",
    )
    with service.running():
        yield service


def test_ingredients_appear_before_the_completion_then_the_whole_recipe(
    openai_service: Service,
    fakes: FakeStack,
    browser: Any,  # noqa: F811
    shots: Path,  # noqa: F811
) -> None:
    fakes.openai.answer_recipe(ANSWER)
    visit = Visit(browser.new_page())
    page = visit.page
    try:
        visit.open(openai_service)
        page.locator("#sample").click()
        # Some ingredients on screen while the card still says it is being read.
        page.wait_for_function(
            "() => document.querySelector('#recipe').getAttribute('aria-busy') === 'true'"
            " && document.querySelectorAll('#recipe .ingredients li').length > 0",
            timeout=TIMEOUT_MS,
        )
        early = page.locator("#recipe .ingredients li").count()
        assert page.locator("#recipe .reading").is_visible()
        assert "done" not in (
            page.locator('#steps li[data-stage="store"]').get_attribute("class") or ""
        )
        page.screenshot(path=str(shots / "partial-phone.png"), full_page=True)
        # Then the completion: every ingredient, the "still reading" line gone.
        page.wait_for_function(
            "() => !document.querySelector('#recipe').hasAttribute('aria-busy')"
            " && document.querySelectorAll('#recipe .ingredients li').length > 0",
            timeout=TIMEOUT_MS,
        )
        assert page.locator("#recipe .reading").is_hidden()
        names = page.locator("#recipe .ingredients li .name").all_text_contents()
        assert names == [item["name"] for item in INGREDIENTS]
        assert early < len(INGREDIENTS)
        assert page.locator("#recipe h2").text_content() == ANSWER["title"]
        assert not visit.errors, visit.errors
        streams = [u for u in visit.requests if "/events/" in u]
        assert streams and all("partial=1" in u for u in streams)
    finally:
        page.close()
