"""On-screen text, read locally (issue 13): OCR of every distinct shot in the media
step, and the recipe read from it through the real local pipeline (direct
scraper with sidecar files → media → offline extractor → store)."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from resimply.media import ocr
from resimply.media.analyze import MediaLimits, VideoRead, read_video
from resimply.media.processes import MediaProcesses
from resimply.models import EVIDENCE
from resimply.offline import parse_recipe
from resimply.offline.screen import title_card
from resimply.pipeline import PipelineDeps, run_task
from resimply.pipeline.evidence import text_holds_recipe
from resimply.providers.base import ExtractionInput, Frame
from resimply.providers.openai_extractor import OpenAIExtractor, evidence_of
from resimply.settings import Settings
from tests.fakes.openai import (
    API_KEY,
    OpenAIFakeState,
    full_recipe,
    ingredient,
    make_openai_app,
)
from tests.fakes.server import start_fake
from tests.pipelines import local_pipeline
from tests.screengen import Overlay, make_screen_video, overlay_image

LIMITS = MediaLimits.from_settings(Settings())


def require_ocr() -> None:
    """The `ocr` extra is in the dev extra: under CI its absence is a failure."""
    if ocr.available():
        return
    if os.environ.get("CI"):
        pytest.fail("rapidocr / onnxruntime missing: install with `pip install -e '.[dev]'`")
    pytest.skip("the ocr extra is not installed (pip install 'resimply[ocr]')")


# --- reading lines -------------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        ("1I Gemüsebrühe", "1 l Gemüsebrühe"),
        ("1 TLKümmel", "1 TL Kümmel"),
        ("2Eier", "2 Eier"),
        ("2 EL ÖI", "2 EL Öl"),
        ("0,5IWasser", "0,5 l Wasser"),
        ("1 Ingwer", "1 Ingwer"),
        ("500 g MehI", "500 g Mehl"),
        ("200g flour", "200g flour"),
        ("Instagram", "Instagram"),
    ],
)
def test_ocr_slips_on_amounts_are_undone(read: str, meant: str) -> None:
    assert ocr.tidy(read) == meant


def test_watermarks_and_handles_are_not_read_as_recipe_text() -> None:
    found = [
        (50.0, 20.0, 20.0, "TikTok"),
        (80.0, 20.0, 20.0, "@chef_anna"),
        (150.0, 40.0, 30.0, "2 eggs"),
    ]
    assert ocr._rows(found) == ["2 eggs"]


def test_boxes_on_one_centre_line_are_one_row_in_reading_order() -> None:
    # centre y, left x, height, text: "200 g" and "flour" read as two boxes.
    found = [
        (100.0, 200.0, 30.0, "flour"),
        (102.0, 40.0, 28.0, "200 g"),
        (150.0, 40.0, 30.0, "2 eggs"),
    ]
    assert ocr._rows(found) == ["200 g flour", "2 eggs"]


def test_a_line_seen_again_or_nearly_is_not_repeated() -> None:
    seen = ocr._Seen()
    assert seen.new("500 g Mehl")
    assert not seen.new("500g Mehl")  # spacing differs
    assert not seen.new("500 g Mehi")  # one letter misread
    assert seen.new("50 g Zucker")
    assert not seen.new("x")


def test_a_title_card_is_a_short_line_without_amount_or_heading() -> None:
    assert title_card("Creamy Garlic Pasta\n\nIngredients\n200 g spaghetti") == (
        "Creamy Garlic Pasta"
    )
    assert title_card("Ingredients\n200 g spaghetti\n\nStir well") is None


def test_the_screen_alone_makes_a_recipe_merged_after_the_caption_list() -> None:
    with pytest.raises(Exception, match="recipe"):
        parse_recipe(None, None, None, None)
    screen = "Pancakes\n\nIngredients\n200 g flour\n2 eggs\n300 ml milk"
    recipe = parse_recipe(None, None, None, None, screen=screen)
    assert recipe.title == "Pancakes"
    assert [(i.quantity, i.unit, i.name) for i in recipe.ingredients] == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (300.0, "ml", "milk"),
    ]
    listed = parse_recipe(
        "Ingredients:\n250 g flour\n1 tbsp sugar", None, None, None, screen=screen
    )
    flour = listed.ingredients[0]
    assert (flour.quantity, flour.note) == (250.0, "on screen: 200 g flour")


def test_speech_burned_in_as_captions_is_read_like_speech() -> None:
    screen = (
        "Hi guys\n\nFluffy Pancakes\n\nfirst add 200 g flour\n\n"
        "then 2 eggs and 300 ml milk\n\nmix it well"
    )
    recipe = parse_recipe(None, None, None, None, screen=screen)
    assert recipe.title == "Fluffy Pancakes"  # a greeting is no title card
    assert [(i.quantity, i.unit, i.name) for i in recipe.ingredients] == [
        (200.0, "g", "flour"),
        (2.0, None, "eggs"),
        (300.0, "ml", "milk"),
    ]


# --- the engine ----------------------------------------------------------------------


def test_the_engine_reads_packaged_models_with_the_network_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_ocr()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"OCR tried the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    paths = ocr.model_paths()
    assert all(Path(p).is_file() for p in paths.values())
    engine = ocr._load()  # a fresh engine, models and all, with no network
    image = overlay_image(["Zutaten", "500 g Mehl", "200 ml Gemüsebrühe"], width=360, height=640)
    assert ocr.recognise(engine, image) == ["Zutaten", "500 g Mehl", "200 ml Gemüsebrühe"]


def test_an_overlay_over_several_shots_is_read_once_within_the_budget() -> None:
    require_ocr()

    def shot(at: float, lines: list[str], seed: int) -> Frame:
        jpeg = overlay_image(lines, width=360, height=640, seed=seed)
        return Frame(timestamp=at, jpeg=jpeg, width=360, height=640)

    # The same card over a different picture, then a new card.
    shots = [
        shot(0.0, ["Pancakes", "200 g flour"], 1),
        shot(2.0, ["Pancakes", "200 g flour"], 2),
        shot(4.0, ["2 eggs", "300 ml milk"], 3),
    ]
    full = ocr.read_screen(shots, budget_s=60)
    assert full.status == "read" and full.complete and full.read == 3
    assert full.text() == "Pancakes\n200 g flour\n\n2 eggs\n300 ml milk"
    # A budget spent by the first shot: the others are skipped, and said to be.
    tiny = ocr.read_screen(shots, budget_s=1e-9)
    assert tiny.status == "partial" and not tiny.complete and tiny.skipped == 2
    assert tiny.text() == "Pancakes\n200 g flour"
    assert ocr.read_screen(shots, budget_s=0).status == "off"


def test_shots_are_read_coarse_to_fine_so_a_spent_budget_still_spans_the_video() -> None:
    order = ocr.coarse_to_fine(20)
    assert order[:3] == [0, 8, 16] and sorted(order) == list(range(20))
    assert order.index(4) < order.index(2) < order.index(1)


def test_boxes_that_stay_put_are_the_same_overlay() -> None:
    a = [(10.0, 100.0, 200.0, 130.0), (10.0, 150.0, 180.0, 180.0)]
    moved = [(10.0, 100.0, 200.0, 130.0), (10.0, 190.0, 180.0, 220.0)]
    assert ocr.same_layout(a, [(11.0, 151.0, 181.0, 179.0), (9.0, 100.0, 201.0, 131.0)], 640)
    assert not ocr.same_layout(a, moved, 640)
    assert not ocr.same_layout(a, a[:1], 640)
    assert not ocr.same_layout([], [], 640)


def test_without_the_extra_a_video_says_its_screen_was_not_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ocr, "available", lambda: False)
    monkeypatch.setattr(ocr, "_said_unavailable", False)
    frames = [Frame(timestamp=0.0, jpeg=b"", width=2, height=2)]
    first = ocr.read_screen(frames, budget_s=10)
    again = ocr.read_screen(frames, budget_s=10)
    assert first.status == again.status == "unavailable"
    assert ocr._said_unavailable  # said once: the flag stops the second line


# --- in the media step ---------------------------------------------------------------

EN_OVERLAYS = (
    Overlay(0.0, 3.0, ("Creamy Garlic Pasta",)),
    Overlay(3.0, 8.0, ("Ingredients", "200 g spaghetti", "2 tbsp butter", "3 cloves garlic")),
    Overlay(8.0, 13.0, ("250 ml cream", "50 g parmesan", "1 tsp salt")),
)
EN_EXPECTED = [
    (200.0, "g", "spaghetti"),
    (2.0, "tbsp", "butter"),
    (3.0, "cloves", "garlic"),
    (250.0, "ml", "cream"),
    (50.0, "g", "parmesan"),
    (1.0, "tsp", "salt"),
]
DE_OVERLAYS = (
    Overlay(0.0, 3.0, ("Gemüsesuppe",)),
    Overlay(3.0, 8.0, ("Zutaten", "500 g Möhren", "2 Zwiebeln", "750 ml Gemüsebrühe")),
    Overlay(8.0, 13.0, ("2 EL Olivenöl", "1 TL Kümmel", "100 ml Sahne")),
)
DE_EXPECTED = [
    (500.0, "g", "Möhren"),
    (2.0, None, "Zwiebeln"),
    (750.0, "ml", "Gemüsebrühe"),
    (2.0, "EL", "Olivenöl"),
    (1.0, "TL", "Kümmel"),
    (100.0, "ml", "Sahne"),
]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("screen")
    return {
        "en": make_screen_video(folder / "en.mp4", EN_OVERLAYS, seconds=13, keyframe_s=2),
        "de": make_screen_video(folder / "de.mp4", DE_OVERLAYS, seconds=13, keyframe_s=2, seed=7),
    }


def read_with_loads(path: Path, limits: MediaLimits) -> VideoRead:
    """`read_video` in a pool process, with its pid and engine loads where the info goes."""
    _, frames, subtitles, screen = read_video(path, limits)
    return (os.getpid(), ocr.loads), frames, subtitles, screen  # type: ignore[return-value]


async def test_ocr_runs_in_the_media_process_loading_its_engine_once(
    videos: dict[str, Path],
) -> None:
    require_ocr()
    processes = MediaProcesses(1, timeout_s=120, work=read_with_loads)
    try:
        (pid, loads), _, _, screen = await processes.read(videos["en"], LIMITS)
        (pid2, loads2), _, _, again = await processes.read(videos["en"], LIMITS)
    finally:
        processes.shutdown()
    assert pid == pid2 != os.getpid()
    assert loads == loads2 == 1  # one engine for both videos
    assert screen == dataclasses.replace(again, seconds=screen.seconds)
    # Every distinct shot read, more than the frames picked for a model, and each
    # overlay's lines once although several shots show them.
    assert screen.status == "read" and screen.read == screen.shots >= len(EN_OVERLAYS)
    lines = [line for text in screen.texts for line in text.lines]
    assert lines == [line for overlay in EN_OVERLAYS for line in overlay.lines]


# --- through the local pipeline ------------------------------------------------------


@pytest.fixture
async def deps(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[PipelineDeps]:
    async with local_pipeline(
        redis, key_prefix, tmp_path, limits=LIMITS, job_timeout_s=120
    ) as deps:
        yield deps


async def _run(deps: PipelineDeps, video: Path) -> tuple[Any, list[str]]:
    submission = await deps.tasks.create(
        user_id="u1",
        url=str(video),
        canonical_url=str(video),
        language=None,
        caption=None,
        idempotency_key=None,
    )
    assert await run_task(deps, submission.task_id) == "SUCCESS"
    (recipe,) = await deps.store.list(user_id="u1")
    record = await deps.tasks.get(submission.task_id)
    assert record is not None and record.result is not None
    return recipe, list(record.result.evidence or [])


@pytest.mark.parametrize(
    ("language", "title", "expected"),
    [("en", "Creamy Garlic Pasta", EN_EXPECTED), ("de", "Gemüsesuppe", DE_EXPECTED)],
)
async def test_a_recipe_only_on_screen_is_read_locally(
    deps: PipelineDeps,
    videos: dict[str, Path],
    tmp_path: Path,
    language: str,
    title: str,
    expected: list[tuple[float, str | None, str]],
) -> None:
    require_ocr()
    video = tmp_path / "videos" / f"{language}.mp4"
    video.parent.mkdir()
    video.write_bytes(videos[language].read_bytes())  # no caption, no subtitles, no speech
    recipe, evidence = await _run(deps, video)
    assert [(i.quantity, i.unit, i.name) for i in recipe.ingredients] == expected
    assert recipe.title == title
    assert recipe.language == language
    assert evidence == ["screen"]


DISAGREE_VTT = """WEBVTT

00:00:00.500 --> 00:00:06.000
Add 100 g parmesan and a pinch of salt, then stir it into the pasta.

00:00:06.000 --> 00:00:12.000
Boil the spaghetti for 9 minutes and melt the butter with the garlic.
"""


async def test_caption_speech_and_screen_that_disagree_make_one_explained_list(
    deps: PipelineDeps, videos: dict[str, Path], tmp_path: Path
) -> None:
    require_ocr()
    video = tmp_path / "videos" / "pasta.mp4"
    video.parent.mkdir()
    video.write_bytes(videos["en"].read_bytes())
    video.with_suffix(".txt").write_text(
        "Garlic pasta for two\nIngredients:\n250 g spaghetti\n2 tbsp butter\n"
    )
    video.with_suffix(".en.vtt").write_text(DISAGREE_VTT)
    recipe, evidence = await _run(deps, video)
    got = [(i.quantity, i.unit, i.name, i.note) for i in recipe.ingredients]
    assert got == [
        # The caption's list first, its amount kept; the screen's noted.
        (250.0, "g", "spaghetti", "on screen: 200 g spaghetti"),
        (2.0, "tbsp", "butter", None),
        # Then what only the screen shows, in its order; speech's other amount noted.
        (3.0, "cloves", "garlic", None),
        (250.0, "ml", "cream", None),
        (50.0, "g", "parmesan", "in the video: 100 g parmesan"),
        # As precise as the screen's teaspoon: the screen, which came first, wins.
        (1.0, "tsp", "salt", "in the video: a pinch of salt"),
    ]
    assert evidence == ["caption", "subtitles", "screen"]
    assert [e for e in evidence if e not in EVIDENCE] == []


# --- with a model ---------------------------------------------------------------------

SHOWN = "Pancakes\n\nIngredients\n200 g flour\n2 eggs\n300 ml milk\n\n1. Whisk everything\n2. Fry for 2 minutes on each side"


def test_caption_first_counts_the_screen() -> None:
    assert not text_holds_recipe("Pancakes 🥞", None)
    assert text_holds_recipe("Pancakes 🥞", None, SHOWN)


async def test_the_model_gets_the_screen_as_text_beside_fewer_cheaper_images() -> None:
    state = OpenAIFakeState()
    runner, url = await start_fake(make_openai_app(state))
    settings = Settings(
        openai_api_key=API_KEY,
        openai_base_url=f"{url}/v1",
        extractor="openai",
        openai_model="gpt-4o",  # 85 tokens a low-detail image, 425 a high-detail 432x768
        openai_image_detail="high",  # frames are read for their text unless OCR read it
    )
    extractor = OpenAIExtractor(settings)
    frames = tuple(
        Frame(timestamp=float(t), jpeg=b"\xff\xd8\xff\xd9", width=432, height=768) for t in range(6)
    )
    base = ExtractionInput(
        caption="Pancakes 🥞",
        subtitles=None,
        transcript=None,
        frames=frames,
        language=None,
        source_language=None,
    )
    try:
        # The whole recipe on screen: caption first, one low-detail frame.
        complete = dataclasses.replace(
            base,
            screen=SHOWN,
            screen_status="read",
            text_complete=text_holds_recipe(base.caption, None, SHOWN),
        )
        state.answer_recipe(
            full_recipe(
                title="Pancakes",
                ingredients=[ingredient(text="200 g flour", name="flour", quantity=200, unit="g")],
                steps=[{"text": "Whisk everything."}],
            )
        )
        result = await extractor.extract(complete, _Progress())
        (request,) = state.chat_requests
        texts = [p["text"] for p in request.parts("text")]
        assert any(
            t.startswith("Text shown on screen (OCR):\n") and "300 ml milk" in t for t in texts
        )
        assert [p["image_url"]["detail"] for p in request.parts("image_url")] == ["low"]
        assert result.evidence == ("caption", "screen", "frames")
        assert result.usage is not None and result.usage.images == 1

        # Every shot read but no steps: all frames, at low detail (the text is there).
        ingredients_only = dataclasses.replace(
            base, screen="Ingredients\n200 g flour\n2 eggs", screen_status="read"
        )
        sent, detail, tokens = extractor.plan(ingredients_only)
        high = extractor.plan(base)
        assert (len(sent.frames), detail) == (6, "low")
        assert high[1] != "low" and tokens <= 0.3 * high[2]
        # Only part of the shots read: the images carry what OCR skipped.
        partial = dataclasses.replace(ingredients_only, screen_status="partial")
        assert extractor.plan(partial)[1] == high[1]
        unread = dataclasses.replace(base, screen_status="unavailable")
        assert evidence_of(unread) == ("caption", "frames", "screen_unread")
    finally:
        await extractor.aclose()
        await runner.cleanup()


class _Progress:
    async def update(self, details: str, fraction: float | None = None) -> None:
        pass


async def test_a_scene_that_returns_with_other_text_is_read_again(tmp_path: Path) -> None:
    require_ocr()
    # A still picture whose one line of text is swapped for another: the scene's
    # look hardly changes (frames.text_changed), the text does.
    overlays = (
        Overlay(0.0, 3.0, ("200 g flour",)),
        Overlay(3.0, 6.0, ("2 eggs",)),
        Overlay(6.0, 9.0, ("300 ml milk",)),
    )
    video = make_screen_video(
        tmp_path / "still.mp4", overlays, seconds=9, keyframe_s=1, scroll=False
    )
    _, _, _, screen = read_video(video, LIMITS)
    assert screen.status == "read" and screen.read >= len(overlays)
    lines = [line for text in screen.texts for line in text.lines]
    assert lines == ["200 g flour", "2 eggs", "300 ml milk"]
