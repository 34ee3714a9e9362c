"""The landing page in a real headless Chromium, on a phone-sized and a desktop-sized
screen, against the real `resimply serve` + `arq` processes: what a visitor sees when they
try the sample or paste a bad link, their saved recipes, what links the server says it
takes, and the form's layout while a task runs.

Screenshots go to a temporary folder (printed), or to $RESIMPLY_SCREENSHOTS when set."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from resimply.models import Recipe, Step
from resimply.providers.sqlite_store import SqliteRecipeStore
from tests.client import submit
from tests.pages.server import PageServer
from tests.servers import GatedVideoServer, Service

try:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
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
DESKTOP = {"width": 1280, "height": 800}
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
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
def chromium() -> Iterator[Browser]:
    executable = _chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def contexts(chromium: Browser) -> Iterator[dict[str, BrowserContext]]:
    """A fresh profile per screen: "phone" sized and behaving like one, and "desktop"."""
    made: dict[str, BrowserContext] = {}
    for name, size in SCREENS.items():
        phone = name == "phone"
        context = chromium.new_context(
            viewport=size,
            screen=size,
            device_scale_factor=2 if phone else 1,
            is_mobile=phone,
            has_touch=phone,
            reduced_motion="reduce",
            locale="en-US",
        )
        context.set_default_timeout(15_000)
        made[name] = context
    yield made
    for context in made.values():
        context.close()


@pytest.fixture(scope="module")
def browser(contexts: dict[str, BrowserContext]) -> BrowserContext:
    return contexts["phone"]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: look at them after a change to the page."""
    chosen = os.environ.get("RESIMPLY_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Visit:
    """A page of the browser, with the console errors and uncaught exceptions it logged."""

    def __init__(self, page: Page, screen: str = "phone") -> None:
        self.page = page
        self.screen = screen
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
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
        self.wait_for_saved_list()

    def wait_for_saved_list(self) -> None:
        """Until the saved recipes are listed (or the list says there are none)."""
        self.page.wait_for_function(
            "() => !document.querySelector('#saved-status').textContent.startsWith('Loading')"
        )

    def saved_titles(self) -> list[str]:
        return self.page.locator("#saved-list .saved-title").all_text_contents()

    def box(self, selector: str) -> dict[str, float]:
        box = self.page.locator(selector).bounding_box()
        assert box is not None, f"{selector} is not shown"
        return box

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


@pytest.fixture(params=list(SCREENS))
def sized_visit(
    request: pytest.FixtureRequest, contexts: dict[str, BrowserContext]
) -> Iterator[Visit]:
    """A page on each screen size in turn."""
    page = contexts[request.param].new_page()
    try:
        yield Visit(page, request.param)
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
    service: Service, browser: BrowserContext, shots: Path
) -> Iterator[tuple[Visit, Path]]:
    """A visitor presses "Try the sample" (nothing else: it starts the task) and waits for
    the end; the page stays open for the tests to look at, with a full-page screenshot taken."""
    visit = Visit(browser.new_page())
    try:
        page = visit.page
        visit.open(service)
        page.locator("#sample").click()
        assert page.locator("#url").input_value().endswith("carbonara.mp4")
        assert page.locator("#progress").is_visible()
        _wait_until_finished(visit)
        shot = shots / "sample-phone.png"
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


def test_the_page_fetches_nothing_from_elsewhere(
    service: Service, sample_run: tuple[Visit, Path]
) -> None:
    """No CDN, font or analytics: the page works offline, against its own server only."""
    visit, _ = sample_run
    assert visit.requests, "the page made no requests at all?"
    elsewhere = [u for u in visit.requests if not u.startswith((service.base_url + "/", "data:"))]
    assert elsewhere == []


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


# --- what links the server takes ------------------------------------------------------


@pytest.fixture(scope="module")
def youtube_only(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A second server, configured otherwise: YouTube links only (besides web pages and
    video files), and a recipe book of its own that starts empty."""
    tmp = tmp_path_factory.mktemp("youtube-only")
    with Service(redis_url, tmp, RESIMPLY_SCRAPERS="youtube:ytdlp").running() as svc:
        yield svc


def _links_shown(visit: Visit, service: Service) -> tuple[str, list[str]]:
    """The line under the link field and the kinds of link it unfolds into."""
    page = visit.page
    visit.open(service)
    kinds = page.locator("#kinds li")
    assert kinds.first.is_hidden()  # folded: one short line under the field
    page.locator(".kinds summary").click()
    assert kinds.first.is_visible()
    return page.locator("#url-hint").inner_text(), kinds.all_inner_texts()


def test_the_page_says_what_links_each_server_takes(
    service: Service, youtube_only: Service, visit: Visit
) -> None:
    shown = {}
    for server in (service, youtube_only):
        capabilities = httpx.get(f"{server.base_url}/capabilities", timeout=5).json()
        summary, kinds = _links_shown(visit, server)
        platforms = capabilities["platforms"]
        # The phrases are the server's own: those of GET /capabilities and its hint.
        assert kinds[: len(platforms)] == [p["links"] for p in platforms]
        assert all(kind in capabilities["hint"] for kind in kinds), (kinds, capabilities["hint"])
        for name in ("TikTok", "Instagram", "YouTube"):
            accepted = any(p["name"] == name for p in platforms)
            assert (name in summary) == accepted, (name, summary)
            assert any(name in kind for kind in kinds) == accepted, (name, kinds)
        shown[server.base_url] = (summary, kinds)
    assert shown[service.base_url] != shown[youtube_only.base_url]
    assert "TikTok" not in shown[youtube_only.base_url][0]
    assert "YouTube" in shown[youtube_only.base_url][0]


# --- the saved recipes ----------------------------------------------------------------


def _dev_token(service: Service) -> str:
    token: str = httpx.get(f"{service.base_url}/dev/token", timeout=5).json()["token"]
    return token


def _make_recipe(service: Service, token: str, url: str) -> str:
    """Through the API, as another tab or the app would: start a task and wait for it."""
    response = submit(service, token, {"url": url})
    assert response.status_code == 202, response.text
    status_url = f"{service.base_url}/task/{response.json()['task_id']}"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(TIMEOUT_MS // 250):
        body = httpx.get(status_url, headers=headers, timeout=5).json()
        if body["status"] == "SUCCESS":
            recipe_id: str = body["result"]["recipe"]["id"]
            return recipe_id
        assert body["status"] in ("PENDING", "PROGRESS"), body
        time.sleep(0.25)
    raise AssertionError(f"{url}: the task did not finish")


def test_saved_recipes_are_listed_newest_first_and_open(
    youtube_only: Service, sized_visit: Visit, recipe_pages: PageServer, shots: Path
) -> None:
    visit, page = sized_visit, sized_visit.page
    visit.open(youtube_only)
    before = len(visit.saved_titles())
    if before == 0:
        assert "No saved recipes yet" in (page.locator("#saved-status").text_content() or "")

    # A task run on the page: the list shows its recipe on top without a reload.
    page.locator("#sample").click()
    _wait_until_finished(visit)
    assert page.locator("#error").is_hidden(), page.locator("#error-message").text_content()
    page.wait_for_function(
        "n => document.querySelectorAll('#saved-list .saved-item').length === n", arg=before + 1
    )
    made_here = page.locator("#recipe h2").text_content() or ""
    first = page.locator("#saved-list .saved-item").first
    assert visit.saved_titles()[0] == made_here and "Carbonara" in made_here
    assert first.get_attribute("aria-current") == "true"  # the open one is marked

    # One made elsewhere (the API) afterwards: the newest, so first after a reload.
    token = _dev_token(youtube_only)
    newest = _make_recipe(youtube_only, token, recipe_pages.url("graph_de.html"))
    page.reload(wait_until="load")
    visit.wait_for_saved_list()
    listed = httpx.get(
        f"{youtube_only.base_url}/recipes",
        params={"limit": 20},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()["recipes"]
    assert len(listed) == before + 2
    stamps = [r["created_at"] for r in listed]
    assert stamps == sorted(stamps, reverse=True)  # the server's order: newest first
    assert listed[0]["id"] == newest
    assert visit.saved_titles() == [r["title"] for r in listed]
    assert visit.saved_titles()[:2] == ["Kräuter-Pfannkuchen", made_here]

    # Opening the older one shows it, as GET /recipes/{id} has it.
    older = listed[1]
    page.locator("#saved-list .saved-item").nth(1).click()
    page.wait_for_function(
        "t => !document.querySelector('#recipe').hidden"
        " && document.querySelector('#recipe h2').textContent === t",
        arg=older["title"],
    )
    card = page.locator("#recipe")
    assert card.locator(".ingredients li").count() == len(older["ingredients"])
    steps = card.locator(".steps li").all_text_contents()  # each may end in "(10 min)"
    assert len(steps) == len(older["steps"])
    assert all(
        shown.startswith(step["text"]) for shown, step in zip(steps, older["steps"], strict=True)
    )
    assert page.locator("#saved-list .saved-item").nth(1).get_attribute("aria-current") == "true"
    assert page.locator("#saved-list .saved-item").first.get_attribute("aria-current") is None
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    page.screenshot(path=str(shots / f"saved-{visit.screen}.png"), full_page=True)
    assert [e for e in visit.errors if e.startswith("uncaught")] == []


# --- the form while a task runs -------------------------------------------------------


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1


def test_the_form_keeps_its_layout_while_a_task_runs(
    service: Service, sized_visit: Visit, gated_video: GatedVideoServer, shots: Path
) -> None:
    """Cancel takes the place of "Try the sample": nothing wraps, moves or sticks out."""
    visit, page = sized_visit, sized_visit.page
    visit.open(service)
    idle = {name: visit.box(f"#{name}") for name in ("language", "start", "sample")}

    page.locator("#url").fill(gated_video.url)
    page.locator("#start").click()
    page.locator("#cancel").wait_for(state="visible")
    page.locator("#steps li.active").wait_for()  # the task runs: held in its download
    assert page.locator("#sample").is_hidden() and page.locator("#start").is_disabled()
    running = {name: visit.box(f"#{name}") for name in ("language", "start", "cancel")}
    page.screenshot(path=str(shots / f"running-{visit.screen}.png"))

    language, start, cancel = running["language"], running["start"], running["cancel"]
    assert language == idle["language"] and start == idle["start"], "the row moved"
    # Cancel sits in the sample's cell, one line high like the other button.
    assert _same(cancel["x"], idle["sample"]["x"]) and _same(cancel["y"], idle["sample"]["y"])
    assert _same(cancel["height"], start["height"]) and _same(start["height"], language["height"])
    assert _same(language["y"] + language["height"], start["y"] + start["height"])
    if visit.screen == "desktop":  # all on one row, in order
        assert _same(cancel["y"], start["y"])
        assert language["x"] + language["width"] < start["x"]
        assert start["x"] + start["width"] < cancel["x"]
    else:  # a phone: language and start on a row, Cancel right under start
        assert cancel["y"] >= start["y"] + start["height"]
        assert _same(cancel["x"], start["x"]) and _same(cancel["width"], start["width"])
    form = visit.box("#form")
    for box in running.values():
        assert form["x"] <= box["x"] and box["x"] + box["width"] <= form["x"] + form["width"]
    wrapped = page.evaluate(
        "() => ['start', 'cancel'].filter(id => {"
        " const b = document.getElementById(id); return b.scrollWidth > b.clientWidth; })"
    )
    assert wrapped == []
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"

    page.locator("#cancel").click()
    _wait_until_finished(visit)
    assert "cancelled" in (page.locator("#error-hint").text_content() or "")
    assert page.locator("#cancel").is_hidden() and page.locator("#start").is_enabled()
    assert visit.box("#sample") == idle["sample"]
    assert [e for e in visit.errors if e.startswith("uncaught")] == []


def _seed(service: Service, user_id: str, count: int) -> None:
    """`count` recipes in the server's own store, as finished tasks would leave them."""

    async def save_all() -> None:
        store = SqliteRecipeStore(service.data_dir / "recipes.sqlite3")
        try:
            for n in range(count):
                recipe = Recipe(title=f"Seeded recipe {n + 1}", steps=[Step(text="Cook.")])
                await store.save(user_id=user_id, task_id=str(uuid.uuid4()), recipe=recipe)
        finally:
            await store.aclose()

    # In a thread of its own: playwright's sync API keeps an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, save_all()).result()


def test_older_saved_recipes_load_on_demand(service: Service, visit: Visit) -> None:
    user_id = httpx.get(f"{service.base_url}/dev/token", timeout=5).json()["user_id"]
    _seed(service, user_id, 25)
    token = _dev_token(service)
    api = httpx.get(
        f"{service.base_url}/recipes",
        params={"limit": 200},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()["recipes"]
    page = visit.page
    visit.open(service)
    shown = len(visit.saved_titles())
    assert 0 < shown < len(api)  # a first page only
    more = page.locator("#saved-more")
    while more.is_visible():
        before = len(visit.saved_titles())
        more.click()
        page.wait_for_function(
            "n => document.querySelectorAll('#saved-list .saved-item').length > n"
            " || document.querySelector('#saved-more').hidden",
            arg=before,
        )
    assert visit.saved_titles() == [r["title"] for r in api]
    assert visit.saved_titles()[:25] == [f"Seeded recipe {n}" for n in range(25, 0, -1)]


# --- several recipes in one post --------------------------------------------------------


def test_a_post_with_a_main_and_its_sauce_shows_both_recipes(
    service: Service, visit: Visit, tmp_path: Path, shots: Path
) -> None:
    from resimply.sample import SAMPLE_VIDEO

    video = tmp_path / "schnitzel.mp4"
    shutil.copyfile(SAMPLE_VIDEO, video)
    # The local file's caption: the sidecar the direct scraper reads.
    caption = Path(__file__).parent / "data" / "captions" / "en_schnitzel_and_sauce.txt"
    shutil.copyfile(caption, video.with_suffix(".txt"))
    page = visit.page
    visit.open(service)
    page.locator("#url").fill(str(video))
    page.locator("#start").click()
    _wait_until_finished(visit)

    assert page.locator("#error").is_hidden(), page.locator("#error-message").text_content()
    main = page.locator("#recipe")
    assert main.locator("h2").text_content() == "Crispy Schnitzel with Mushroom Sauce"
    assert "Also in this video: Crispy Schnitzel with Mushroom Sauce – sauce" in (
        main.locator(".also").text_content() or ""
    )
    main_items = " ".join(main.locator(".ingredients li").all_text_contents())
    assert "pork cutlets" in main_items and "mushrooms" not in main_items
    more = page.locator("#more-recipes")
    assert more.is_visible()
    [sauce] = more.locator("article.more-recipe").all()
    assert sauce.locator("h2").text_content() == "Crispy Schnitzel with Mushroom Sauce – sauce"
    sauce_items = " ".join(sauce.locator(".ingredients li").all_text_contents())
    assert "mushrooms" in sauce_items and "cream" in sauce_items
    assert sauce.locator(".steps li").count() == 2
    # One heading per card, no id used twice.
    assert page.evaluate(
        "() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
        " return ids.length === new Set(ids).size; }"
    )
    shot = shots / "two-recipes-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    # Opening one saved recipe shows that one alone.
    visit.wait_for_saved_list()
    page.locator("#saved-list button").filter(has_text="– sauce").first.click()
    page.wait_for_function("() => document.querySelector('#more-recipes').hidden")
    assert main.locator("h2").text_content() == "Crispy Schnitzel with Mushroom Sauce – sauce"
    assert page.locator("#recipe .also").count() == 0
    assert [e for e in visit.errors if e.startswith("uncaught")] == []
