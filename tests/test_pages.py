"""Recipe web pages and pages that embed a video (issue 12, items 3–5).

The pages are written for these tests (tests/pages/) and served by a real
local HTTP server; the scraper and the pipeline fetch them over HTTP with the
private-address allowance that local tests need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis.strategies as st
import msgspec
import pytest
from hypothesis import given, settings
from redis.asyncio import Redis

from resimply import errors
from resimply.keys import Keys
from resimply.models import Ingredient, ScrapeRequest
from resimply.pages.images import thumbnail_jpeg
from resimply.pages.links import recipe_links
from resimply.pages.read import FULL_PAGE_CHARS, read_page
from resimply.pages.recipe_data import read_recipe
from resimply.pipeline import PipelineDeps, run_task
from resimply.providers.base import (
    Extraction,
    ExtractionInput,
    ProgressReporter,
    ScrapedPost,
    VideoRef,
)
from resimply.providers.direct import NO_RECIPE_MESSAGE, DirectScraper
from resimply.providers.offline import OfflineExtractor
from resimply.providers.sqlite_store import SqliteRecipeStore
from resimply.sample import SAMPLE_VIDEO
from tests.pages.server import PAGES, PageServer
from tests.pipelines import local_pipeline

USER = "00000000-0000-4000-8000-000000000001"


class Progress:
    def __init__(self) -> None:
        self.updates: list[str] = []

    async def update(self, details: str, fraction: float | None = None) -> None:
        self.updates.append(details)


class CountingExtractor(OfflineExtractor):
    """The offline extractor, counting its calls (a page recipe makes none)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def extract(self, data: ExtractionInput, progress: ProgressReporter) -> Extraction:
        self.calls += 1
        return await super().extract(data, progress)


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer()
    yield server
    server.close()


@pytest.fixture
def scraper() -> DirectScraper:
    return DirectScraper(dev=False, allow_private_urls=True)


async def scrape(scraper: DirectScraper, url: str, caption: str | None = None) -> ScrapedPost:
    return await scraper.scrape(ScrapeRequest(url=url, user_id=USER, caption=caption), Progress())


def _parts(ingredient: Ingredient) -> tuple[float | None, str | None, str | None, str | None]:
    return (ingredient.quantity, ingredient.unit, ingredient.name, ingredient.note)


# --- recipe pages -----------------------------------------------------------------


async def test_a_json_ld_recipe_object_becomes_the_recipe(
    scraper: DirectScraper, pages: PageServer
) -> None:
    post = await scrape(scraper, pages.url("carbonara.html"))
    recipe = post.recipe
    assert recipe is not None
    assert post.platform == "page" and post.url == pages.url("carbonara.html")
    assert post.video == VideoRef(allow_private=True)  # nothing to download
    assert recipe.title == "Creamy Pasta Carbonara"
    assert (recipe.servings, recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (
        2,
        10,
        15,
        25,
    )
    assert recipe.language == "en"
    assert [_parts(i) for i in recipe.ingredients[:2]] == [
        (200.0, "g", "spaghetti", None),
        (100.0, "g", "guanciale", None),
    ]
    assert _parts(recipe.ingredients[4]) == (50.0, "g", "pecorino romano", "grated")
    assert len(recipe.steps) == 6
    assert recipe.steps[0].text == "Boil 200 g spaghetti in salted water for 10 minutes."
    assert recipe.steps[0].minutes == 10
    assert post.thumbnail_url == pages.url("dish.jpg")
    assert post.author == "Test Kitchen"
    assert "pasta" in recipe.tags


async def test_a_json_ld_list_with_text_only_instructions(
    scraper: DirectScraper, pages: PageServer
) -> None:
    recipe = (await scrape(scraper, pages.url("list_text_steps.html"))).recipe
    assert recipe is not None
    assert recipe.title == "Weeknight Lentil Soup"
    assert recipe.servings == 4  # "4 servings"
    assert (recipe.prep_minutes, recipe.cook_minutes) == (15, 40)
    assert recipe.language == "en"  # en-GB
    assert [s.text for s in recipe.steps] == [
        "Heat the olive oil in a large pot.",
        "Fry the onion until soft, about 5 minutes.",
        "Add the lentils and the stock and simmer for 30 minutes.",
        "Season with salt and pepper.",
    ]
    assert _parts(recipe.ingredients[0]) == (1.0, "cup", "red lentils", None)
    assert recipe.ingredients[-1].quantity is None  # "Salt and pepper"


async def test_a_german_graph_page_with_sections_and_german_units(
    scraper: DirectScraper, pages: PageServer
) -> None:
    recipe = (await scrape(scraper, pages.url("graph_de.html"))).recipe
    assert recipe is not None
    assert recipe.title == "Kräuter-Pfannkuchen"
    assert recipe.language == "de"
    assert recipe.servings == 4  # ["4", "4 Portionen"]
    assert (recipe.prep_minutes, recipe.cook_minutes, recipe.total_minutes) == (20, 25, 60)
    by_name = {i.name: i for i in recipe.ingredients}
    assert _parts(by_name["Zucker"]) == (2.0, "EL", "Zucker", None)
    assert _parts(by_name["Backpulver"]) == (1.0, "TL", "Backpulver", None)
    assert _parts(by_name["Salz"]) == (1.0, "Prise", "Salz", None)
    assert _parts(by_name["Petersilie"]) == (1.0, "Bund", "Petersilie", "fein gehackt")
    # HowToSection groups: four steps (not the section names as steps), each
    # section's name leading its first step.
    assert [s.text for s in recipe.steps] == [
        "Teig: Mehl, Zucker, Backpulver und Salz mischen.",
        "Milch und Eier unterrühren und den Teig 10 Minuten ruhen lassen.",
        "Backen: Die Petersilie unter den Teig heben.",
        "Butter in der Pfanne erhitzen und die Pfannkuchen von jeder Seite 2 Minuten backen.",
    ]
    assert recipe.steps[1].minutes == 10
    assert recipe.source is not None and recipe.source.thumbnail_url == pages.url("dish.jpg")


async def test_a_microdata_recipe(scraper: DirectScraper, pages: PageServer) -> None:
    recipe = (await scrape(scraper, pages.url("microdata.html"))).recipe
    assert recipe is not None
    assert recipe.title == "Garlic Butter Toast"
    assert recipe.servings == 2
    assert recipe.total_minutes == 10
    assert [_parts(i) for i in recipe.ingredients] == [
        (4.0, "slices", "sourdough bread", None),
        (3.0, "tbsp", "butter", "softened"),
        (2.0, "cloves", "garlic", "minced"),
    ]
    assert [s.text for s in recipe.steps] == [
        "Mix the butter and the garlic.",
        "Spread it on the bread.",
        "Toast under the grill for 3 minutes.",
    ]


@pytest.mark.parametrize(
    ("yield_json", "servings"),
    [
        ("4", 4),
        ('"6 servings"', 6),
        ('["4", "4 servings"]', 4),
        ('"Serves 3"', 3),
        ('"12 cookies"', None),  # a yield, not servings
        ('"a lot"', None),
    ],
)
def test_recipe_yield_shapes(yield_json: str, servings: int | None) -> None:
    page = (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org", "@type": "Recipe", "name": "X",'
        f' "recipeYield": {yield_json}, "recipeIngredient": ["1 egg"],'
        ' "recipeInstructions": "Cook it."}</script></head></html>'
    )
    recipe = read_recipe(page, "https://recipes.example/x")
    assert recipe is not None and recipe.servings == servings


def test_a_page_without_ingredients_is_no_recipe() -> None:
    page = (
        '<html><head><script type="application/ld+json">{"@context": "https://schema.org", "@type": "Recipe", "name": "X",'
        ' "recipeInstructions": "Cook it."}</script></head></html>'
    )
    assert read_recipe(page, "https://recipes.example/x") is None
    assert read_page("<html><body>nothing</body></html>", "https://a.example/").recipe is None
    assert read_page("", "https://a.example/").video is None


async def test_a_redirected_page_and_a_page_cut_at_the_size_cap(
    scraper: DirectScraper, pages: PageServer
) -> None:
    post = await scrape(scraper, pages.url("go/carbonara.html"))
    assert post.recipe is not None and post.recipe.title == "Creamy Pasta Carbonara"
    assert post.url == pages.url("go/carbonara.html")  # the link shared
    # Over 2 MB: read up to the cap, which holds the head and its JSON-LD.
    big = await scrape(scraper, pages.url("big.html"))
    assert big.recipe is not None and len(big.recipe.ingredients) == 7


async def test_a_page_on_a_private_address_is_refused_without_the_allowance(
    pages: PageServer,
) -> None:
    strict = DirectScraper(dev=False, allow_private_urls=False)
    before = len(pages.requests)
    with pytest.raises(errors.UnsupportedUrl):
        await scrape(strict, pages.url("carbonara.html"))
    assert len(pages.requests) == before


async def test_a_missing_page_is_video_not_found(scraper: DirectScraper, pages: PageServer) -> None:
    with pytest.raises(errors.VideoNotFound):
        await scrape(scraper, pages.url("missing.html"))


# --- pages that embed a video -------------------------------------------------------


async def test_an_og_video_page_gives_its_video_caption_and_thumbnail(
    scraper: DirectScraper, pages: PageServer
) -> None:
    post = await scrape(scraper, pages.url("video_og.html"))
    assert post.recipe is None
    assert post.video == VideoRef(url=pages.url("carbonara.mp4"), allow_private=True)
    assert post.caption is not None and post.caption.startswith("Creamy Pasta Carbonara")
    assert post.thumbnail_url == pages.url("dish.jpg")
    assert post.language == "en"
    # The caption the user sent wins over the page's description.
    mine = await scrape(scraper, pages.url("video_og.html"), caption="My own notes")
    assert mine.caption == "My own notes"


async def test_a_video_element_with_a_caption_track(
    scraper: DirectScraper, pages: PageServer
) -> None:
    post = await scrape(scraper, pages.url("video_element.html"))
    assert post.video.url == pages.url("media/carbonara.mp4")  # resolved against the page
    assert post.caption == "Our carbonara, step by step."
    assert post.thumbnail_url == pages.url("dish.jpg")
    # kind="captions" is read; kind="chapters" is not (and is not fetched).
    assert [(t.language, t.text.startswith("WEBVTT")) for t in post.subtitles] == [("en", True)]
    assert "/chapters.vtt" not in pages.requests


async def test_a_video_object_page(scraper: DirectScraper, pages: PageServer) -> None:
    post = await scrape(scraper, pages.url("video_object.html"))
    assert post.video.url == pages.url("carbonara.mp4")
    assert post.thumbnail_url == pages.url("dish.jpg")


async def test_a_page_with_neither_recipe_nor_video_says_what_to_share(
    scraper: DirectScraper, pages: PageServer
) -> None:
    with pytest.raises(errors.NotARecipe) as info:
        await scrape(scraper, pages.url("no_recipe.html"))
    assert info.value.message == NO_RECIPE_MESSAGE


async def test_a_media_link_is_not_fetched_by_the_scraper(
    scraper: DirectScraper, pages: PageServer
) -> None:
    before = len(pages.requests)
    post = await scrape(scraper, pages.url("carbonara.mp4"))
    assert post.video.url == pages.url("carbonara.mp4") and post.recipe is None
    assert len(pages.requests) == before
    # A link without a media suffix is looked at; a video answer is taken as the video.
    post = await scrape(scraper, pages.url("media/carbonara.mp4?x=1"))
    assert post.video.url == pages.url("media/carbonara.mp4?x=1") and post.recipe is None


# --- caption links -----------------------------------------------------------------


def test_caption_links_skip_platforms_and_hubs_and_prefer_recipe_links() -> None:
    caption = (
        "So good! Follow https://www.tiktok.com/@chef and https://linktr.ee/chef\n"
        "Shop: https://shop.example/pans. Full recipe: https://blog.example/carbonara/!\n"
        "More: http://x.example/a http://y.example/b ftp://z.example/c"
    )
    assert recipe_links(caption) == [
        "https://blog.example/carbonara/",
        "https://shop.example/pans",
    ]
    assert recipe_links(None) == [] and recipe_links("no links") == []


# --- through the pipeline ------------------------------------------------------------


@pytest.fixture
async def deps(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[PipelineDeps]:
    async with local_pipeline(
        redis, key_prefix, tmp_path, extractor=CountingExtractor(), allow_private_urls=True
    ) as deps:
        yield deps


class ThumbnailStore(SqliteRecipeStore):
    """Remembers the thumbnail each save was given."""

    thumbnails: list[bytes | None]

    async def save(self, *, thumbnail: bytes | None = None, **kwargs: object) -> object:  # type: ignore[override]
        self.thumbnails.append(thumbnail)
        return await super().save(thumbnail=thumbnail, **kwargs)  # type: ignore[arg-type]


async def _run(deps: PipelineDeps, url: str, caption: str | None = None) -> str:
    submission = await deps.tasks.create(
        user_id=USER,
        url=url,
        canonical_url=url,
        language=None,
        caption=caption,
        idempotency_key=None,
    )
    return submission.task_id


async def _events(redis: Redis, key_prefix: str, task_id: str) -> list[dict[str, object]]:
    entries = await redis.xrange(Keys(key_prefix).events(task_id))
    return [msgspec.json.decode(fields[b"d"]) for _, fields in entries]


async def test_a_recipe_page_skips_download_and_model(
    deps: PipelineDeps, pages: PageServer, redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    store = ThumbnailStore(tmp_path / "thumbs.sqlite3")
    store.thumbnails = []
    deps = dataclasses.replace(deps, store=store)
    task_id = await _run(deps, pages.url("carbonara.html"))
    assert await run_task(deps, task_id) == "SUCCESS"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.result is not None
    assert record.result.evidence == ["page"]
    assert record.result.recipe.title == "Creamy Pasta Carbonara"
    assert record.result.recipe.source is not None
    assert record.result.recipe.source.platform == "page"
    assert record.result.usage is not None and record.result.usage.prompt_tokens == 0
    assert deps.extractor.calls == 0  # type: ignore[attr-defined]
    assert "/carbonara.mp4" not in pages.requests
    assert store.thumbnails == [(PAGES / "dish.jpg").read_bytes()]
    sent = await _events(redis, key_prefix, task_id)
    assert {m["step"] for m in sent if m["type"] == "progress"} == {1, 2, 3, 4, 5}


async def test_a_video_page_goes_the_video_path(deps: PipelineDeps, pages: PageServer) -> None:
    task_id = await _run(deps, pages.url("video_og.html"))
    assert await run_task(deps, task_id) == "SUCCESS"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.result is not None
    assert "page" not in (record.result.evidence or [])
    assert record.result.recipe.title == "Creamy Pasta Carbonara"
    assert deps.extractor.calls == 1  # type: ignore[attr-defined]
    assert "/carbonara.mp4" in pages.requests


@pytest.mark.parametrize(
    ("page", "code"),
    [("no_recipe.html", "not_a_recipe"), ("video_not_media.html", "invalid_media")],
)
async def test_pages_with_no_recipe_fail_clearly(
    deps: PipelineDeps, pages: PageServer, page: str, code: str
) -> None:
    task_id = await _run(deps, pages.url(page))
    assert await run_task(deps, task_id) == "FAILURE"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.error is not None
    assert record.error.error == code
    if code == "not_a_recipe":
        assert record.error.message == NO_RECIPE_MESSAGE


async def test_a_caption_link_to_a_recipe_page_is_the_answer(
    deps: PipelineDeps, pages: PageServer
) -> None:
    caption = f"Quick one tonight!\nFull recipe: {pages.url('graph_de.html')} #dinner"
    task_id = await _run(deps, str(SAMPLE_VIDEO), caption=caption)
    assert await run_task(deps, task_id) == "SUCCESS"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.result is not None
    assert record.result.evidence == ["caption", "page"]
    recipe = record.result.recipe
    assert recipe.title == "Kräuter-Pfannkuchen"  # the written recipe, not the video's
    assert recipe.source is not None and recipe.source.platform == "direct"  # still the video
    assert recipe.source.caption == caption
    assert deps.extractor.calls == 0  # type: ignore[attr-defined]


async def test_a_caption_link_that_fails_falls_back_to_the_video(
    deps: PipelineDeps, pages: PageServer
) -> None:
    caption = (
        SAMPLE_VIDEO.with_suffix(".txt")
    ).read_text() + f"\nMore at {pages.url('missing.html')} and {pages.url('no_recipe.html')}"
    task_id = await _run(deps, str(SAMPLE_VIDEO), caption=caption)
    assert await run_task(deps, task_id) == "SUCCESS"
    record = await deps.tasks.get(task_id)
    assert record is not None and record.result is not None
    assert "page" not in (record.result.evidence or [])
    assert record.result.recipe.title == "Creamy Pasta Carbonara"
    assert deps.extractor.calls == 1  # type: ignore[attr-defined]
    assert {"/missing.html", "/no_recipe.html"} <= set(pages.requests)


async def test_a_png_picture_is_stored_as_a_jpeg_thumbnail(
    deps: PipelineDeps, pages: PageServer, tmp_path: Path
) -> None:
    store = ThumbnailStore(tmp_path / "thumbs.sqlite3")
    store.thumbnails = []
    deps = dataclasses.replace(deps, store=store)
    task_id = await _run(deps, pages.url("microdata.html"))  # its image is /dish.png
    assert await run_task(deps, task_id) == "SUCCESS"
    [thumbnail] = store.thumbnails
    assert thumbnail is not None and thumbnail.startswith(b"\xff\xd8\xff")
    assert "/dish.png" in pages.requests


def test_thumbnail_jpeg_keeps_small_jpegs_and_refuses_what_is_no_picture() -> None:
    jpeg = (PAGES / "dish.jpg").read_bytes()
    assert thumbnail_jpeg(jpeg) == jpeg
    converted = thumbnail_jpeg((PAGES / "dish.png").read_bytes())
    assert converted is not None and converted.startswith(b"\xff\xd8\xff")
    assert thumbnail_jpeg(b"<html>not a picture</html>") is None
    assert thumbnail_jpeg(b"") is None


@pytest.mark.parametrize("name", ["microdata.html", "graph_de.html", "carbonara.html"])
def test_a_large_page_is_read_from_its_reduced_form_with_the_same_recipe(name: str) -> None:
    """Over `FULL_PAGE_CHARS` recipe-scrapers sees only what the recipe is read from
    (its BeautifulSoup parses in pure Python); the recipe must not change."""
    page = (PAGES / name).read_text()
    filler = "<div><p>Comment <a href='/u'>user</a> said hello.</p></div>\n"
    large = page.replace("</body>", filler * (FULL_PAGE_CHARS // len(filler) + 1) + "</body>")
    assert len(large) > FULL_PAGE_CHARS
    url = "https://recipes.example/" + name
    small_recipe, large_recipe = read_page(page, url).recipe, read_page(large, url).recipe
    assert small_recipe is not None and large_recipe == small_recipe


def test_a_page_with_an_xml_declaration_is_read() -> None:
    page = '<?xml version="1.0" encoding="utf-8"?>\n' + (PAGES / "carbonara.html").read_text()
    recipe = read_page(page, "https://recipes.example/c").recipe
    assert recipe is not None and recipe.title == "Creamy Pasta Carbonara"


def test_broken_json_ld_does_not_hide_the_video_or_raise() -> None:
    page = (
        '<html><head><script type="application/ld+json">{"@type": "Recipe", oops</script>'
        '<meta property="og:video" content="/v.mp4"></head><body></body></html>'
    )
    content = read_page(page, "https://videos.example/p")
    assert content.recipe is None
    assert content.video is not None and content.video.url == "https://videos.example/v.mp4"


@settings(max_examples=150, deadline=None)
@given(
    st.text(max_size=400),
    st.sampled_from(["", "<html><head>", '<script type="application/ld+json">']),
)
def test_read_page_never_raises(text: str, prefix: str) -> None:
    content = read_page(prefix + text, "https://any.example/page")
    assert content.recipe is None or content.recipe.title


def test_player_pages_and_platform_links_are_not_taken_as_the_video() -> None:
    page = (
        '<html><head><meta property="og:video" content="https://www.youtube.com/embed/abc">'
        '<meta property="og:video:url" content="https://player.example/embed/1"></head>'
        '<body><video><source src="https://www.tiktok.com/@a/video/1"></video></body></html>'
    )
    assert read_page(page, "https://blog.example/p").video is None
    with_file = page.replace("</body>", '<video src="/clip.webm"></video></body>')
    video = read_page(with_file, "https://blog.example/p").video
    assert video is not None and video.url == "https://blog.example/clip.webm"


async def test_a_caption_link_to_a_private_address_is_not_fetched_without_the_allowance(
    deps: PipelineDeps, pages: PageServer
) -> None:
    strict = dataclasses.replace(deps, allow_private_urls=False)
    caption = SAMPLE_VIDEO.with_suffix(".txt").read_text() + f"\nRecipe: {pages.url('go/x.html')}"
    task_id = await _run(strict, str(SAMPLE_VIDEO), caption=caption)
    assert await run_task(strict, task_id) == "SUCCESS"
    record = await strict.tasks.get(task_id)
    assert record is not None and record.result is not None
    assert "page" not in (record.result.evidence or [])
    assert "/go/x.html" not in pages.requests
