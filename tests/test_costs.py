"""Image-token math, the image budget, prices, and the caption-first judge (no I/O)."""

from __future__ import annotations

import base64

import pytest

from resimply.costs import (
    DEFAULT_PRICES,
    Price,
    Pricing,
    chat_usd,
    image_tokens,
    parse_prices,
    plan_images,
    spread,
    transcription_usd,
)
from resimply.pipeline.evidence import text_holds_recipe
from resimply.sample import SAMPLE_VIDEO
from resimply.settings import Settings, SettingsError
from tests.fakes.openai import billed_image_tokens


@pytest.mark.parametrize(
    ("model", "size", "detail", "tokens"),
    [
        ("gpt-4o", (512, 512), "low", 85),
        ("gpt-4o", (4000, 3000), "low", 85),
        ("gpt-4o", (1024, 1024), "high", 765),  # 768² → 4 tiles
        ("gpt-4o", (2048, 4096), "high", 1105),  # → 1024×2048 → 768×1536 → 6 tiles
        ("gpt-4o", (512, 512), "high", 255),  # small images are not scaled up
        ("gpt-4o", (1080, 1920), "auto", 1105),  # auto counts as high (upper bound)
        ("gpt-4o-2024-08-06", (1024, 1024), "high", 765),
        ("gpt-4o-mini", (320, 240), "low", 2833),
        ("gpt-4o-mini-2024-07-18", (1024, 1024), "high", 2833 + 4 * 5667),
        ("gpt-4.1-mini", (1024, 1024), "high", 1659),  # 1024 patches × 1.62
        ("gpt-4.1-mini", (1800, 2400), "high", 2353),  # → 1056×1408 = 1452 patches
        ("some-future-model", (1024, 1024), "high", 765),  # unknown: gpt-4o's rules
    ],
)
def test_image_tokens_follow_openai_rules(
    model: str, size: tuple[int, int], detail: str, tokens: int
) -> None:
    assert image_tokens(model, *size, detail) == tokens  # type: ignore[arg-type]


def test_the_fake_bills_images_like_the_rules() -> None:
    """The fake OpenAI has its own implementation; both must agree on real JPEGs."""
    from resimply.media.frames import pick_frames

    frames = pick_frames(SAMPLE_VIDEO, max_frames=3, max_edge=768, jpeg_quality=80)
    for frame in frames:
        url = {"url": "data:image/jpeg;base64," + base64.b64encode(frame.jpeg).decode()}
        for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini"):
            for detail in ("low", "high"):
                assert billed_image_tokens(model, {**url, "detail": detail}) == image_tokens(
                    model, frame.width, frame.height, detail
                ), (model, detail, frame.width, frame.height)


def test_plan_images_keeps_everything_under_the_cap() -> None:
    frames = [(432, 768)] * 6
    plan = plan_images(frames, model="gpt-4o", detail="low", max_tokens=20_000)
    assert (plan.indices, plan.detail, plan.tokens) == ((0, 1, 2, 3, 4, 5), "low", 6 * 85)


def test_plan_images_drops_detail_first_then_frames_keeping_the_last() -> None:
    frames = [(1080, 1920)] * 6
    # gpt-4o high: 1105 each (6630) > cap; low: 85 each (510) fits.
    plan = plan_images(frames, model="gpt-4o", detail="high", max_tokens=1000)
    assert (len(plan.indices), plan.detail, plan.tokens) == (6, "low", 510)
    # gpt-4o-mini low: 2833 each; a 10 000 cap holds three, spread, the last kept.
    plan = plan_images(frames, model="gpt-4o-mini", detail="high", max_tokens=10_000)
    assert (plan.indices, plan.detail, plan.tokens) == ((0, 2, 5), "low", 3 * 2833)
    assert plan.tokens <= 10_000
    # A cap below one image sends none; 0 means no images at all.
    assert plan_images(frames, model="gpt-4o-mini", detail="low", max_tokens=2000).indices == ()
    assert plan_images(frames, model="gpt-4o", detail="low", max_tokens=0).indices == ()


@pytest.mark.parametrize("cap", [85, 300, 1000, 2833, 5000, 9000, 17_000, 40_000])
@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1-mini"])
def test_the_image_cap_is_always_respected(model: str, cap: int) -> None:
    frames = [(432, 768), (768, 432), (768, 768), (432, 768), (600, 800)]
    plan = plan_images(frames, model=model, detail="high", max_tokens=cap)
    assert plan.tokens <= cap
    assert plan.tokens == sum(image_tokens(model, *frames[i], plan.detail) for i in plan.indices)
    if plan.indices:
        assert plan.indices[-1] == len(frames) - 1  # the dish stays


def test_spread() -> None:
    assert spread(6, 1) == (5,)
    assert spread(6, 2) == (0, 5)
    assert spread(10, 4) == (0, 3, 6, 9)
    assert spread(3, 5) == (0, 1, 2)


def test_prices_from_the_table() -> None:
    mini = DEFAULT_PRICES["gpt-4o-mini"]
    # 10 000 prompt tokens of which 2 000 cached, 1 000 completion tokens.
    usd = chat_usd(mini, prompt_tokens=10_000, cached_tokens=2_000, completion_tokens=1_000)
    assert usd == pytest.approx((8_000 * 0.15 + 2_000 * 0.075 + 1_000 * 0.60) / 1e6)
    assert transcription_usd(DEFAULT_PRICES["whisper-1"], 90) == pytest.approx(0.009)
    pricing = Pricing(chat_model="gpt-4o", transcription_model="gpt-4o-mini-transcribe")
    total = pricing.model_usd(
        model="gpt-4o-2024-08-06",
        requests=1,
        prompt_tokens=1_000_000,
        cached_tokens=0,
        completion_tokens=100_000,
        transcription_seconds=120,
    )
    assert total == pytest.approx(2.50 + 1.00 + 2 * 0.003)
    # A dated model name finds its family; an unknown model has no price.
    assert Pricing().price("gpt-4o-mini-2024-07-18") == mini
    unknown = Pricing(chat_model="mystery-model")
    assert (
        unknown.model_usd(
            model="mystery-model",
            requests=1,
            prompt_tokens=10,
            cached_tokens=0,
            completion_tokens=1,
            transcription_seconds=0,
        )
        is None
    )
    # Nothing used costs nothing, whatever the models.
    assert unknown.model_usd(
        model=None,
        requests=0,
        prompt_tokens=0,
        cached_tokens=0,
        completion_tokens=0,
        transcription_seconds=0,
    ) == pytest.approx(0.0)


def test_prices_can_be_overridden_with_json() -> None:
    settings = Settings.from_env(
        {"RESIMPLY_PRICES": '{"gpt-4o": {"input": 2.0, "output": 8}, "my-model": {"input": 1}}'}
    )
    assert settings.prices["gpt-4o"] == Price(input=2.0, output=8.0)
    assert settings.prices["my-model"] == Price(input=1.0)
    assert settings.prices["gpt-4o-mini"] == DEFAULT_PRICES["gpt-4o-mini"]  # kept
    for bad in ("[1]", "{", '{"gpt-4o": {"inptu": 1}}', '{"gpt-4o": {"input": -1}}'):
        with pytest.raises(SettingsError, match="RESIMPLY_PRICES"):
            Settings.from_env({"RESIMPLY_PRICES": bad})
    with pytest.raises(ValueError):
        parse_prices('{"x": {"input": true}}')


def test_cost_settings() -> None:
    defaults = Settings.from_env({})
    assert (defaults.cache_ttl_s, defaults.max_image_tokens, defaults.caption_first_frames) == (
        3 * 24 * 3600,
        20_000,
        1,
    )
    off = Settings.from_env(
        {
            "RESIMPLY_CACHE_TTL_S": "0",
            "RESIMPLY_MAX_IMAGE_TOKENS": "0",
            "RESIMPLY_CAPTION_FIRST_FRAMES": "0",
        }
    )
    assert (off.cache_ttl_s, off.max_image_tokens, off.caption_first_frames) == (0, 0, 0)
    with pytest.raises(SettingsError, match="RESIMPLY_CACHE_TTL_S"):
        Settings.from_env({"RESIMPLY_CACHE_TTL_S": "-1"})


def test_caption_first_judge() -> None:
    caption = SAMPLE_VIDEO.with_suffix(".txt").read_text(encoding="utf-8")
    assert text_holds_recipe(caption, None)
    # Ingredients with amounts in the caption, steps said in the subtitles.
    assert text_holds_recipe(
        "Carbonara\n- 200 g spaghetti\n- 2 eggs\n- 50 g pecorino",
        "Boil the spaghetti for nine minutes. Then mix the eggs with the pecorino.",
    )
    # No amounts (they are on screen), no steps, or no recipe at all: frames needed.
    assert not text_holds_recipe(
        "Pasta\nIngredients:\n- spaghetti\n- guanciale\n- eggs\nSteps:\n1. Boil.\n2. Fry.", None
    )
    assert not text_holds_recipe("Carbonara\n- 200 g spaghetti\n- 2 eggs", None)
    assert not text_holds_recipe("Sunday vibes ☀️ #fyp", None)
    assert not text_holds_recipe(None, None)
