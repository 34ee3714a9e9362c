"""The page's recipe card scaled and converted, and failed imports kept as drafts, in a
real headless Chromium (phone and desktop) against the real `resimply serve` + `arq`
processes and Redis (issue 15): the servings and units controls re-ask
`GET /recipes/{id}` and show its amounts; a video with no recipe leaves a draft the
visitor opens, fixes and saves, or reads again in another language.

Screenshots go to a temporary folder, or to $RESIMPLY_SCREENSHOTS when set."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from pathlib import Path
from typing import Any

import httpx

from resimply.models import Ingredient, Recipe, Step
from resimply.providers.sqlite_store import SqliteRecipeStore
from tests import test_page
from tests.client import auth, submit
from tests.mediagen import make_video
from tests.servers import Service
from tests.test_e2e import wait_until_finished
from tests.test_page import Visit, _dev_token, _wait_until_finished

# test_page.py's browser fixtures, found by pytest under these names.
chromium = test_page.chromium
contexts = test_page.contexts
shots = test_page.shots
sized_visit = test_page.sized_visit

PANCAKES = Recipe(
    title="Buttermilk pancakes",
    servings=4,
    ingredients=[
        Ingredient(text="1 cup flour", name="flour", quantity=1, unit="cup"),
        Ingredient(text="1 cup milk", name="milk", quantity=1, unit="cup"),
        Ingredient(text="2 eggs", name="eggs", quantity=2),
        Ingredient(text="2 tbsp sugar", name="sugar", quantity=2, unit="tbsp"),
        Ingredient(text="1/2 tsp salt", name="salt", quantity=0.5, unit="tsp"),
        Ingredient(text="butter for the pan", name="butter for the pan"),
    ],
    steps=[Step(text="Whisk everything."), Step(text="Fry small pancakes in butter.", minutes=10)],
)
CAPTION = "Golden hour at the lake 🌅 #nofilter #travel"


def _seed(service: Service, recipe: Recipe) -> str:
    """`recipe` in the dev user's book, as a finished task leaves it; its id."""
    user_id = httpx.get(f"{service.base_url}/dev/token", timeout=5).json()["user_id"]

    async def save() -> str:
        store = SqliteRecipeStore(service.data_dir / "recipes.sqlite3")
        try:
            stored = await store.save(user_id=user_id, task_id=str(uuid.uuid4()), recipe=recipe)
            assert stored.id is not None
            return stored.id
        finally:
            await store.aclose()

    # In a thread of its own: playwright's sync API keeps an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, save()).result()


def _api(service: Service, path: str, **params: Any) -> dict[str, Any]:
    answer = httpx.get(
        f"{service.base_url}{path}",
        params=params,
        headers=auth(_dev_token(service)),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _shown_amounts(visit: Visit) -> list[str]:
    texts: list[str] = visit.page.locator("#recipe .ingredients li").evaluate_all(
        "lis => lis.map(li => (li.querySelector('.qty') || {}).textContent || '')"
    )
    return texts


def _wait_for_amounts(visit: Visit, expected: list[str]) -> None:
    visit.page.wait_for_function(
        """want => JSON.stringify(Array.from(document.querySelectorAll('#recipe .ingredients li'))
               .map(li => (li.querySelector('.qty') || {}).textContent || '')) === JSON.stringify(want)""",
        arg=expected,
    )


def _api_amounts(recipe: dict[str, Any]) -> list[str]:
    """What the card shows for each line of a scaled answer: its amount as printed."""
    return [
        " ".join(p for p in (i["amount"], i["unit"]) if p) if i["amount"] and i["name"] else ""
        for i in recipe["ingredients"]
    ]


def _no_sideways_scroll(visit: Visit) -> None:
    overflow = visit.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def _ids_unique(visit: Visit) -> bool:
    unique: bool = visit.page.evaluate(
        "() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id);"
        " return ids.length === new Set(ids).size; }"
    )
    return unique


def _open_saved(visit: Visit, service: Service, recipe_id: str, title: str) -> None:
    visit.open(service)
    visit.page.locator(f'#saved-list .saved-item[data-id="{recipe_id}"]').click()
    visit.page.wait_for_function(
        "t => !document.querySelector('#recipe').hidden"
        " && document.querySelector('#recipe h2').textContent === t",
        arg=title,
    )


def test_servings_and_units_change_the_amounts_shown(
    service: Service, sized_visit: Visit, shots: Path
) -> None:
    visit, page = sized_visit, sized_visit.page
    recipe_id = _seed(service, PANCAKES)
    _open_saved(visit, service, recipe_id, PANCAKES.title)
    card = page.locator("#recipe")
    scale = card.locator(".scale")
    assert scale.is_visible()
    assert scale.locator(".scale-value").text_content() == "4"
    assert scale.locator('[data-units="original"]').get_attribute("aria-pressed") == "true"
    as_stored = _shown_amounts(visit)
    assert as_stored[:3] == ["1 cup", "1 cup", "2"]

    # Two more servings: the server's amounts for 6, the original kept at hand.
    scale.locator(".scale-more").click()
    scale.locator(".scale-more").click()
    assert scale.locator(".scale-value").text_content() == "6"
    six = _api(service, f"/recipes/{recipe_id}", servings=6)
    _wait_for_amounts(visit, _api_amounts(six))
    assert _shown_amounts(visit) != as_stored
    assert _shown_amounts(visit)[2] == "3"  # eggs: 2 × 1.5
    assert "Serves 6" in (card.locator(".meta").text_content() or "")
    eggs = card.locator(".ingredients li").nth(2)
    assert eggs.get_attribute("title") == "Original: 2 eggs"
    assert "(was 2)" in (eggs.text_content() or "")
    # Salt grows less than the rest, and says so, discreetly.
    salt = card.locator(".ingredients li").nth(4)
    assert "flagged" in (salt.get_attribute("class") or "")
    assert salt.locator(".ing-notes").text_content() == " ".join(six["ingredients"][4]["notes"])
    assert card.locator(".scale-notes li").all_text_contents() == six["scaling"]["notes"]
    page.screenshot(path=str(shots / f"scaled-6-{visit.screen}.png"), full_page=True)

    # Metric: cups of flour become grams, cups of milk millilitres.
    scale.locator('[data-units="metric"]').click()
    metric = _api(service, f"/recipes/{recipe_id}", servings=6, units="metric")
    _wait_for_amounts(visit, _api_amounts(metric))
    flour, milk = _shown_amounts(visit)[:2]
    assert flour.endswith(" g") and milk.endswith(" ml"), (flour, milk)
    assert not any("cup" in a for a in _shown_amounts(visit))
    assert "(was 1 cup)" in (card.locator(".ingredients li").first.text_content() or "")
    _no_sideways_scroll(visit)
    assert _ids_unique(visit)
    page.screenshot(path=str(shots / f"scaled-metric-{visit.screen}.png"), full_page=True)

    # US, back to 4, back to original: as stored again.
    scale.locator('[data-units="us"]').click()
    _wait_for_amounts(
        visit, _api_amounts(_api(service, f"/recipes/{recipe_id}", servings=6, units="us"))
    )
    scale.locator(".scale-less").click()
    scale.locator(".scale-less").click()
    scale.locator('[data-units="original"]').click()
    _wait_for_amounts(visit, as_stored)
    assert "Serves 4" in (card.locator(".meta").text_content() or "")
    assert card.locator(".ingredients .was").count() == 0
    assert card.locator(".scale-notes").is_hidden()
    assert [e for e in visit.errors if e.startswith("uncaught")] == []


def test_a_recipe_without_servings_scales_by_a_factor(service: Service, sized_visit: Visit) -> None:
    visit, page = sized_visit, sized_visit.page
    recipe = Recipe(
        title="Pancakes for some",
        ingredients=PANCAKES.ingredients[:3],
        steps=PANCAKES.steps,
    )
    recipe_id = _seed(service, recipe)
    _open_saved(visit, service, recipe_id, recipe.title)
    scale = page.locator("#recipe .scale")
    assert scale.locator("legend").first.text_content() == "Amounts"
    assert scale.locator(".scale-value").text_content() == "×1"
    scale.locator(".scale-more").click()
    assert scale.locator(".scale-value").text_content() == "×1½"
    _wait_for_amounts(visit, _api_amounts(_api(service, f"/recipes/{recipe_id}", scale=1.5)))
    assert _shown_amounts(visit)[2] == "3"
    # The units switch works from the keyboard, and says which one is on.
    scale.locator('[data-units="original"]').focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    pressed = scale.locator('[aria-pressed="true"]')
    assert pressed.count() == 1 and pressed.get_attribute("data-units") == "metric"
    metric = _api(service, f"/recipes/{recipe_id}", scale=1.5, units="metric")
    _wait_for_amounts(visit, _api_amounts(metric))
    assert _shown_amounts(visit)[0].endswith(" g")
    assert [e for e in visit.errors if e.startswith("uncaught")] == []


# --- drafts ---------------------------------------------------------------------------


def _lake_video(tmp: Path) -> Path:
    """A video of a lake, with subtitles that say so: not a recipe."""
    return make_video(
        tmp / "lake.mp4", seconds=3.0, subtitles=[(0.0, 2.5, "The lake at golden hour.")]
    )


def test_a_failed_import_is_offered_as_a_draft_fixed_and_saved(
    service: Service, sized_visit: Visit, tmp_path: Path, shots: Path
) -> None:
    visit, page = sized_visit, sized_visit.page
    video = _lake_video(tmp_path)
    visit.open(service)
    page.locator("#url").fill(str(video))
    page.locator("#start").click()
    _wait_until_finished(visit)

    # The task failed, and the page says its reading was kept.
    assert page.locator("#error").is_visible()
    assert page.locator("#recipe").is_hidden()
    offer = page.locator("#error-draft")
    offer.wait_for(state="visible")
    drafts = _api(service, "/drafts")["drafts"]
    draft_id = drafts[0]["draft_id"]
    listed = page.locator(f'#drafts-list .saved-item[data-id="{draft_id}"]')
    listed.wait_for(state="visible")
    page.screenshot(path=str(shots / f"draft-offered-{visit.screen}.png"), full_page=True)

    # Opened: what was read (subtitles, frames) and an editor.
    page.locator("#error-draft-open").click()
    panel = page.locator("#draft")
    panel.wait_for(state="visible")
    draft = _api(service, f"/drafts/{draft_id}")
    assert draft["subtitles"] and draft["frames"]
    assert panel.locator(".frames img").count() == len(draft["frames"])
    assert all(
        (img.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
        for img in panel.locator(".frames img").all()
    )
    texts = panel.locator(".read pre").all_text_contents()
    assert draft["subtitles"] in texts
    assert listed.get_attribute("aria-current") == "true"
    _no_sideways_scroll(visit)
    assert _ids_unique(visit)
    page.screenshot(path=str(shots / f"draft-open-{visit.screen}.png"), full_page=True)

    # Nothing is sent without a title.
    page.locator("#draft-name").fill("")
    page.locator("#draft-save").click()
    assert "title" in (page.locator("#draft-status").text_content() or "")
    assert page.evaluate("() => document.activeElement.id") == "draft-name"

    # What the server refuses, it says why, and the draft stays.
    page.locator("#draft-name").fill("Too long")
    page.locator("#draft-ingredients").fill("x" * 2001)
    page.locator("#draft-save").click()
    page.wait_for_function(
        "() => document.querySelector('#draft-status').textContent.includes('ingredients[0].text')"
    )
    assert panel.is_visible() and _api(service, f"/drafts/{draft_id}")["draft_id"] == draft_id

    title = f"Lake-side flatbread {visit.screen}"
    page.locator("#draft-name").fill(title)
    assert page.locator("#draft-status").is_hidden()  # the complaint goes once fixed
    page.locator("#draft-servings").fill("2")
    page.locator("#draft-ingredients").fill(
        "200 g flour\n120 ml water\n1 ½ tsp salt\nOil for the stone"
    )
    page.locator("#draft-steps").fill("1. Knead the dough.\n2. Rest it, then bake on a hot stone.")
    page.screenshot(path=str(shots / f"draft-edited-{visit.screen}.png"), full_page=True)
    page.locator("#draft-save").click()

    # Saved: the card shows it, it heads "Your recipes", and the draft is gone.
    page.wait_for_function(
        "t => !document.querySelector('#recipe').hidden"
        " && document.querySelector('#recipe h2').textContent === t",
        arg=title,
    )
    assert panel.is_hidden()
    page.wait_for_function(
        "t => document.querySelector('#saved-list .saved-title').textContent === t", arg=title
    )
    listed.wait_for(state="detached")
    assert all(d["draft_id"] != draft_id for d in _api(service, "/drafts")["drafts"])
    stored = _api(service, "/recipes", limit=1)["recipes"][0]
    assert stored["title"] == title and stored["servings"] == 2
    assert [(i["quantity"], i["unit"], i["name"]) for i in stored["ingredients"]] == [
        (200, "g", "flour"),
        (120, "ml", "water"),
        (1.5, "tsp", "salt"),
        (None, None, None),
    ]
    assert [s["text"] for s in stored["steps"]] == [
        "Knead the dough.",
        "Rest it, then bake on a hot stone.",
    ]

    # And it scales like any recipe.
    page.locator("#recipe .scale-more").click()
    three = _api(service, f"/recipes/{stored['id']}", servings=3)
    _wait_for_amounts(visit, _api_amounts(three))
    assert _shown_amounts(visit)[0] == "300 g"
    page.screenshot(path=str(shots / f"draft-saved-{visit.screen}.png"), full_page=True)
    assert [e for e in visit.errors if e.startswith("uncaught")] == []
    # Offline still: the frames are data: URLs, nothing comes from elsewhere.
    elsewhere = [u for u in visit.requests if not u.startswith((service.base_url + "/", "data:"))]
    assert elsewhere == []


def test_a_draft_is_read_again_in_another_language(
    service: Service, sized_visit: Visit, tmp_path: Path, shots: Path
) -> None:
    visit, page = sized_visit, sized_visit.page
    token = _dev_token(service)
    response = submit(service, token, {"url": str(_lake_video(tmp_path)), "caption": CAPTION})
    assert response.status_code == 202, response.text
    failed = wait_until_finished(service, token, response.json()["task_id"])
    draft_id = failed["error"]["draft_id"]

    visit.open(service)
    page.locator(f'#drafts-list .saved-item[data-id="{draft_id}"]').click()
    page.locator("#draft").wait_for(state="visible")
    assert CAPTION in page.locator("#draft .read").text_content()  # type: ignore[operator]
    assert page.locator("#draft-title").text_content() == CAPTION
    page.locator("#draft-language").fill("de")
    page.locator("#draft-retry").click()

    # A new task, followed live; the offline extractor still finds no recipe in it.
    page.locator("#progress").wait_for(state="visible")
    assert page.locator("#draft").is_hidden()
    _wait_until_finished(visit)
    assert page.locator("#error").is_visible()
    page.locator("#error-draft").wait_for(state="visible")
    classes = visit.stage_classes()
    assert "done" in classes["scrape"] and "done" in classes["media"], classes
    draft = _api(service, f"/drafts/{draft_id}")
    assert draft["language"] == "de" and draft["task_id"] != failed["task_id"]
    page.screenshot(path=str(shots / f"draft-retried-{visit.screen}.png"), full_page=True)

    # The offer opens the same draft again.
    page.locator("#error-draft-open").click()
    page.locator("#draft").wait_for(state="visible")
    assert page.locator("#draft-language").input_value() == "de"
    assert [e for e in visit.errors if e.startswith("uncaught")] == []
