"""What a task costs: OpenAI's image-token rules, the price table, and the
image budget of one extraction (EXTERNALS.md §2). No I/O here.

The API's `usage` stays the truth for billing; the image tokens computed here
are an estimate that says how much of the prompt the frames took, and decide
which frames fit under `Settings.max_image_tokens` before anything is sent.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from .settings import Settings

Detail = Literal["auto", "low", "high"]


# --- image tokens ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TileRule:
    """gpt-4o family: `base` per image, plus `tile` per 512-px tile in high detail."""

    base: int
    tile: int


@dataclasses.dataclass(frozen=True)
class PatchRule:
    """gpt-4.1-mini family: 32-px patches (at most `max_patches`) × `multiplier`.

    The "low" detail of patch models is undocumented (EXTERNALS GUESS): it is
    counted like high detail, which is the upper bound.
    """

    multiplier: float
    max_patches: int = 1536


ImageRule = TileRule | PatchRule

# Keys are model-name prefixes; the longest matching prefix wins, so
# "gpt-4o-mini-2024-07-18" finds "gpt-4o-mini", not "gpt-4o".
IMAGE_RULES: dict[str, ImageRule] = {
    "gpt-4o": TileRule(base=85, tile=170),
    "gpt-4o-mini": TileRule(base=2833, tile=5667),
    "gpt-4.1-mini": PatchRule(multiplier=1.62),
}
# Unknown models are estimated with gpt-4o's rules.
DEFAULT_IMAGE_RULE: ImageRule = IMAGE_RULES["gpt-4o"]

V = TypeVar("V")


def by_model(table: Mapping[str, V], model: str | None) -> V | None:
    """The entry for `model`: exact name, else the longest key that prefixes it."""
    if not model:
        return None
    name = model.strip().lower()
    if name in table:
        return table[name]
    matches = [key for key in table if name.startswith(key)]
    return table[max(matches, key=len)] if matches else None


def image_rule(model: str | None) -> ImageRule:
    return by_model(IMAGE_RULES, model) or DEFAULT_IMAGE_RULE


def image_tokens(model: str | None, width: int, height: int, detail: Detail) -> int:
    """Prompt tokens of one image of `width`×`height` pixels sent with `detail`.

    Tile models: low = base; high = fit in 2048², shortest side down to 768,
    then base + tile × (512-px tiles). "auto" is counted as high (upper bound).
    Patch models: ceil(w/32)·ceil(h/32) patches, downscaled to at most
    `max_patches`, × multiplier (rounded up).
    """
    rule = image_rule(model)
    width, height = max(1, width), max(1, height)
    if isinstance(rule, PatchRule):
        return math.ceil(_patches(width, height, rule.max_patches) * rule.multiplier)
    if detail == "low":
        return rule.base
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return rule.base + rule.tile * tiles


def _patches(width: int, height: int, cap: int) -> int:
    """OpenAI's patch count: scale down to fit `cap` patches, then whole patches."""
    patches = math.ceil(width / 32) * math.ceil(height / 32)
    if patches <= cap:
        return patches
    shrink = math.sqrt(32 * 32 * cap / (width * height))
    w, h = width * shrink, height * shrink
    # Make the width a whole number of patches, then fit the height to it.
    shrink_w = math.floor(w / 32) / (w / 32)
    shrink_h = math.floor(h / 32) / (h / 32)
    shrink2 = min(shrink_w, shrink_h)
    w, h = int(w * shrink2), int(h * shrink2)
    return min(cap, math.ceil(w / 32) * math.ceil(h / 32))


@dataclasses.dataclass(frozen=True)
class ImagePlan:
    """Which of the offered frames to send, with which detail, and their tokens."""

    indices: tuple[int, ...]
    detail: Detail
    tokens: int


def plan_images(
    frames: Sequence[tuple[int, int]],
    *,
    model: str | None,
    detail: Detail,
    max_tokens: int,
    keep_last: bool = True,
) -> ImagePlan:
    """Fit the frames (as (width, height)) under `max_tokens` image tokens.

    Over the cap, the detail drops to low first (a tile model's low image is a
    fraction of its high one), then frames are dropped, keeping an even spread
    over the video that includes the last frame (usually the finished dish).
    """

    def cost(chosen: Sequence[int], with_detail: Detail) -> int:
        return sum(image_tokens(model, *frames[i], with_detail) for i in chosen)

    everything = tuple(range(len(frames)))
    if not frames or max_tokens <= 0:
        return ImagePlan((), detail, 0)
    for option in (detail, "low") if detail != "low" else ("low",):
        total = cost(everything, option)
        if total <= max_tokens:
            return ImagePlan(everything, option, total)
    for count in range(len(frames) - 1, 0, -1):
        chosen = spread(len(frames), count, keep_last=keep_last)
        total = cost(chosen, "low")
        if total <= max_tokens:
            return ImagePlan(chosen, "low", total)
    return ImagePlan((), "low", 0)


def spread(total: int, count: int, *, keep_last: bool = True) -> tuple[int, ...]:
    """`count` indices out of `range(total)`, evenly spread, in order."""
    if count >= total:
        return tuple(range(total))
    if count <= 0:
        return ()
    if count == 1:
        return (total - 1,) if keep_last else (total // 2,)
    last = total - 1
    return tuple(sorted({round(i * last / (count - 1)) for i in range(count)}))


# --- prices ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Price:
    """USD per 1M tokens (chat models) or per minute of audio (transcription)."""

    input: float = 0.0
    cached_input: float | None = None  # None: same as input
    output: float = 0.0
    per_minute: float = 0.0


# EXTERNALS.md §2 (pricing pages of March–May 2026; verify before billing users).
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "whisper-1": Price(per_minute=0.006),
    "gpt-4o-transcribe": Price(per_minute=0.006),
    "gpt-4o-mini-transcribe": Price(per_minute=0.003),
}


def parse_prices(raw: str) -> dict[str, Price]:
    """`RESIMPLY_PRICES`: JSON `{"model": {"input": …, "cached_input": …, "output": …,
    "per_minute": …}}`, merged over the defaults. Raises ValueError when malformed."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError('must be a JSON object like {"gpt-4o": {"input": 2.5, "output": 10}}')
    prices = dict(DEFAULT_PRICES)
    allowed = {"input", "cached_input", "output", "per_minute"}
    for model, fields in data.items():
        if not isinstance(fields, dict) or not set(fields) <= allowed:
            raise ValueError(f"{model!r} must map to an object with keys {sorted(allowed)}")
        values: dict[str, float] = {}
        for key, value in fields.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{model}.{key} must be a number ≥ 0")
            values[key] = float(value)
        prices[str(model).strip().lower()] = Price(**values)
    return prices


def chat_usd(
    price: Price, *, prompt_tokens: int, cached_tokens: int, completion_tokens: int
) -> float:
    cached = min(cached_tokens, prompt_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return (
        (prompt_tokens - cached) * price.input
        + cached * cached_rate
        + completion_tokens * price.output
    ) / 1_000_000


def transcription_usd(price: Price, seconds: float) -> float:
    return seconds / 60 * price.per_minute


# --- one task -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pricing:
    """The configured models and the price table: turns a task's usage into USD."""

    chat_model: str | None = None
    transcription_model: str | None = None
    prices: Mapping[str, Price] = dataclasses.field(default_factory=lambda: dict(DEFAULT_PRICES))

    def price(self, model: str | None) -> Price | None:
        return by_model(self.prices, model)

    def model_usd(
        self,
        *,
        model: str | None,
        requests: int,
        prompt_tokens: int,
        cached_tokens: int,
        completion_tokens: int,
        transcription_seconds: float,
    ) -> float | None:
        """Chat + transcription at the table's prices; None when a model used is not in it.

        The configured model is looked up first: the API answers with a dated
        name ("gpt-4o-mini-2024-07-18") that the prefix match also finds.
        """
        total = 0.0
        if requests or prompt_tokens or completion_tokens:
            price = self.price(self.chat_model) or self.price(model)
            if price is None:
                return None
            total += chat_usd(
                price,
                prompt_tokens=prompt_tokens,
                cached_tokens=cached_tokens,
                completion_tokens=completion_tokens,
            )
        if transcription_seconds > 0:
            price = self.price(self.transcription_model)
            if price is None:
                return None
            total += transcription_usd(price, transcription_seconds)
        return round(total, 8)


def pricing_of(settings: Settings) -> Pricing:
    openai = settings.extractor == "openai"
    return Pricing(
        chat_model=settings.openai_model if openai else None,
        transcription_model=settings.openai_transcription_model if openai else None,
        prices=settings.prices,
    )
