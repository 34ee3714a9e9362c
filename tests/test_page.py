"""The landing page in a real headless Chromium, on a phone-sized screen, against the real
`resimply serve` + `arq` processes: what a visitor sees when they try the sample or paste
a bad link."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client import submit
from tests.pages.server import PageServer
from tests.servers import Service

try:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, sync_playwright
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # pragma: no cover - the dev extras bring it
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
STAGES = ["init", "scrape", "media", "extract", "store"]
TIMEOUT_MS = 90_000  # the whole sample run, with room for a slow CI machine


def _chromium() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    message = ""
    if sync_playwright is None:
        message = "the playwright package is not installed (pip install -e '.[dev]')"
    elif path is None:
        message = "chromium is not installed (apt-get install chromium)"
    if message:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """One Chromium with a fresh profile, sized and behaving like a phone."""
    executable = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=ARGS,
            viewport=PHONE,
            screen=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            reduced_motion="reduce",
            locale="en-US",
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


class Visit:
    """A page of the browser, with the console errors and uncaught exceptions it logged."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location})")

    def open(self, service: Service) -> None:
        self.page.goto(service.base_url + "/", wait_until="load")
        # development mode: the page fetched a token and offers the sample
        self.page.locator("#sample").wait_for(state="visible")
        assert self.page.locator("#mode").is_visible()
        assert self.page.locator("#auth").is_hidden()

    def stage_classes(self) -> dict[str, list[str]]:
        classes: dict[str, list[str]] = self.page.evaluate(
            """stages => Object.fromEntries(stages.map(s => [s, Array.from(
                   document.querySelector(`#steps li[data-stage="${s}"]`).classList)]))""",
            STAGES,
        )
        return classes


@pytest.fixture
def visit(browser: BrowserContext) -> Iterator[Visit]:
    page = browser.new_page()
    try:
        yield Visit(page)
    finally:
        page.close()


def _wait_until_finished(visit: Visit) -> None:
    """Until the run ends: a recipe card or an error box."""
    try:
        visit.page.wait_for_function(
            "() => !document.querySelector('#recipe').hidden"
            " || !document.querySelector('#error').hidden",
            timeout=TIMEOUT_MS,
        )
    except PlaywrightError:
        status = visit.page.locator("#status").text_content()
        pytest.fail(f"the page never finished; status {status!r}, stages {visit.stage_classes()}")


def _server_message(service: Service, url: str) -> str:
    """What the server itself says about `url`: the refusal, or the task's error message."""
    token = service.token("d0d0d0d0-d0d0-4d0d-8d0d-d0d0d0d0d0d0")
    response = submit(service, token, {"url": url})
    if response.status_code != 202:
        message: str = response.json()["message"]
        return message
    task_id = response.json()["task_id"]
    with httpx.stream(
        "GET", f"{service.base_url}/events/{task_id}", params={"token": token}, timeout=60
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                event: dict[str, Any] = json.loads(line.removeprefix("data:"))
                if event["type"] == "error":
                    return str(event["message"])
                assert event["type"] != "completion", event
    raise AssertionError(f"{url} neither was refused nor failed")


@pytest.fixture(scope="module")
def sample_run(
    service: Service, browser: BrowserContext, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Visit, Path]]:
    """A visitor presses "Try the sample", then "Get the recipe", and waits for the end;
    the page stays open for the tests to look at, with a full-page screenshot taken."""
    visit = Visit(browser.new_page())
    try:
        page = visit.page
        visit.open(service)
        page.locator("#sample").click()
        assert page.locator("#url").input_value().endswith("carbonara.mp4")
        page.locator("#start").click()
        assert page.locator("#progress").is_visible()
        _wait_until_finished(visit)
        shot = tmp_path_factory.mktemp("screenshots") / "sample-phone.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        yield visit, shot
    finally:
        visit.page.close()


def test_trying_the_sample_shows_the_recipe_on_a_phone(sample_run: tuple[Visit, Path]) -> None:
    visit, shot = sample_run
    page = visit.page
    assert page.locator("#error").is_hidden(), page.locator("#error-message").text_content()
    assert visit.stage_classes() == {stage: ["done"] for stage in STAGES}
    card = page.locator("#recipe")
    assert card.is_visible()
    assert "Carbonara" in (card.locator("h2").text_content() or "")
    ingredients = card.locator(".ingredients li")
    steps = card.locator(".steps li")
    assert ingredients.count() >= 5, ingredients.all_text_contents()
    assert steps.count() >= 3, steps.all_text_contents()
    assert any("spaghetti" in i.lower() for i in ingredients.all_text_contents())
    assert all(s.strip() for s in steps.all_text_contents())
    assert page.locator("#start").is_enabled() and page.locator("#cancel").is_hidden()

    # Nothing sticks out sideways on a 390px-wide screen.
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    assert shot.stat().st_size > 10_000


def test_the_sample_run_logs_no_console_errors(sample_run: tuple[Visit, Path]) -> None:
    visit, _ = sample_run
    assert visit.errors == []


def test_a_bad_link_shows_the_servers_message_and_no_recipe(
    service: Service, visit: Visit, tmp_path: Path
) -> None:
    bad = "ftp://example.com/x.mp4"
    expected = _server_message(service, bad)
    page = visit.page
    visit.open(service)

    page.locator("#url").fill(bad)
    page.locator("#start").click()
    _wait_until_finished(visit)

    error = page.locator("#error")
    assert error.is_visible()
    assert page.locator("#error-message").text_content() == expected
    assert page.locator("#recipe").is_hidden()
    classes = visit.stage_classes()
    assert not any("done" in c or "active" in c for c in classes.values()), classes
    assert sum("failed" in c for c in classes.values()) == 1, classes
    assert page.locator("#start").is_enabled() and page.locator("#cancel").is_hidden()
    assert page.locator("#url").input_value() == bad  # the visitor can correct it
    page.screenshot(path=str(tmp_path / "bad-link-phone.png"), full_page=True)
    # The refused request is logged by the browser itself; the page's script throws nothing.
    assert [e for e in visit.errors if e.startswith("uncaught")] == []


@pytest.fixture(scope="module")
def recipe_pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.mark.parametrize(
    ("page_name", "title", "ingredient"),
    [
        ("carbonara.html", "Creamy Pasta Carbonara", "guanciale"),  # schema.org Recipe
        ("graph_de.html", "Kräuter-Pfannkuchen", "Petersilie"),  # German, @graph, sections
        ("video_og.html", "Carbonara", "spaghetti"),  # no Recipe: its og:video is read
    ],
)
def test_pasting_a_web_page_link_shows_the_recipe_card(
    service: Service,
    visit: Visit,
    recipe_pages: PageServer,
    page_name: str,
    title: str,
    ingredient: str,
) -> None:
    page = visit.page
    visit.open(service)
    page.locator("#url").fill(recipe_pages.url(page_name))
    page.locator("#start").click()
    _wait_until_finished(visit)

    assert page.locator("#error").is_hidden(), page.locator("#error-message").text_content()
    assert visit.stage_classes() == {stage: ["done"] for stage in STAGES}
    card = page.locator("#recipe")
    assert card.is_visible()
    assert title in (card.locator("h2").text_content() or "")
    ingredients = card.locator(".ingredients li").all_text_contents()
    assert any(ingredient.lower() in i.lower() for i in ingredients), ingredients
    assert card.locator(".steps li").count() >= 3
    assert [e for e in visit.errors if e.startswith("uncaught")] == []
