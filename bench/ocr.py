"""On-screen text read locally (issue 13): OCR speed and accuracy, and what it saves
a model call.

    .venv/bin/python -m bench.ocr [--cache DIR] [--only 60,180] [--edges 480,640,768,960]

1. **Stills.** Ingredient cards (white outlined text over a busy background,
   English and German with umlauts) drawn at 720x1280, read by the engine at
   several longest edges: time per frame and character error rate (edit
   distance / characters) at each. The media step reads frames at
   `RESIMPLY_FRAME_MAX_EDGE` (768): that row is what production gets.
2. **Videos.** 60 s and 180 s portrait videos, 540x960, with a new ingredient
   overlay every 5 s over a moving background (cached in `.run/bench/`). Each
   is read by `analyze.read_video` as a media process does, with OCR off (the
   baseline: frames only) and on (`RESIMPLY_OCR_BUDGET_S`): OCR seconds per
   video and per shot, overlays whose lines were all read (line CER ≤ 10 %).
3. **Coverage and tokens** on the same videos, by OpenAI's gpt-4o image rules
   (`costs.py`) and ~4 characters per text token: an overlay is covered when
   its text reaches the model as an image (a frame sent while it is on screen)
   or as text (read by OCR). Baselines in the same run: the frames alone at the
   configured detail, and 10 high-detail frames.
   Targets: ≥ 95 % of overlays covered on both videos, image tokens ≤ 30 % of
   10 high-detail frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".run" / "bench"
VERSION = 1  # bump when the generated videos change
STILL = (720, 1280)
VIDEO = (540, 960, 15)  # width, height, fps
OVERLAY_EVERY_S = 5.0
DURATIONS = (60, 180)
EDGES = (480, 640, 768, 960)
TARGET_COVERAGE, TARGET_IMAGE_SHARE = 0.95, 0.30
LINE_CER = 0.10  # a line counts as read when at most this share of its characters is wrong
CHARS_PER_TOKEN = 4.0

EN_LINES = (
    "200 g spaghetti", "2 tbsp butter", "3 cloves garlic", "250 ml cream", "50 g parmesan",
    "1 tsp salt", "400 g chickpeas", "1 red onion", "2 tbsp olive oil", "1 cup rice",
    "150 g feta", "1/2 tsp cumin", "300 ml coconut milk", "2 carrots, diced", "1 lime",
)  # fmt: skip
DE_LINES = (
    "500 g Möhren", "2 Zwiebeln", "750 ml Gemüsebrühe", "2 EL Olivenöl", "1 TL Kümmel",
    "100 ml Sahne", "200 g Hähnchenbrust", "3 Äpfel", "1 Prise Muskatnuss", "250 g Quark",
    "2 EL Zucker", "1 Päckchen Backpulver", "150 g Schmand", "4 Brötchen", "1 Bund Petersilie",
)  # fmt: skip


def cer(read: str, truth: str) -> float:
    """Character error rate: Levenshtein distance / length of the truth."""
    if not truth:
        return float(bool(read))
    previous = list(range(len(truth) + 1))
    for i, a in enumerate(read, 1):
        current = [i]
        for j, b in enumerate(truth, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / len(truth)


def best_cer(truth: str, lines: list[str]) -> float:
    return min((cer(line, truth) for line in lines), default=1.0)


# --- 1. stills --------------------------------------------------------------------


def stills(edges: list[int]) -> None:
    import cv2
    import numpy as np

    from resimply.media import ocr
    from tests.screengen import overlay_image

    rng = random.Random(VERSION)
    cards = []
    for number in range(8):
        pool = EN_LINES if number % 2 == 0 else DE_LINES
        heading = "Ingredients" if pool is EN_LINES else "Zutaten"
        cards.append([heading, *rng.sample(pool, 5)])
    images = [
        overlay_image(card, width=STILL[0], height=STILL[1], seed=n) for n, card in enumerate(cards)
    ]
    started = time.perf_counter()
    engine = ocr.engine()
    print(f"engine load: {time.perf_counter() - started:.2f} s (once per process)")
    ocr.recognise(engine, images[0])  # warm-up: onnxruntime plans its first run
    print()
    print(f"{'edge':>5} {'frame':>9} | {'CER':>6} {'EN':>6} {'DE':>6} | lines read exactly")
    for edge in edges:
        scale = edge / max(STILL)
        size = (round(STILL[0] * scale), round(STILL[1] * scale))
        times, errors, exact, total = [], {"en": [], "de": []}, 0, 0
        for number, (card, jpeg) in enumerate(zip(cards, images, strict=True)):
            picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 80])
            assert ok
            began = time.perf_counter()
            lines = ocr.recognise(engine, encoded.tobytes())
            times.append(time.perf_counter() - began)
            truth = "\n".join(card)
            errors["en" if number % 2 == 0 else "de"].append(cer("\n".join(lines), truth))
            exact += sum(line in lines for line in card)
            total += len(card)
        every = errors["en"] + errors["de"]
        print(
            f"{edge:>5} {statistics.mean(times) * 1000:>7.0f}ms | {statistics.mean(every):>6.1%} "
            f"{statistics.mean(errors['en']):>6.1%} {statistics.mean(errors['de']):>6.1%} | "
            f"{exact}/{total}"
        )


# --- 2. videos ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    seconds: int
    video: Path
    overlays: list[tuple[float, float, list[str]]]


def prepare(seconds: int, cache: Path) -> Case:
    from tests.screengen import Overlay, make_screen_video

    cache.mkdir(parents=True, exist_ok=True)
    width, height, fps = VIDEO
    video = cache / f"ocr-v{VERSION}-{width}x{height}-{seconds}s.mp4"
    truth = video.with_suffix(".json")
    if not (video.exists() and truth.exists()):
        rng = random.Random(seconds + VERSION)
        overlays = []
        start = 0.0
        while start < seconds - 1e-9:
            pool = EN_LINES if len(overlays) % 2 == 0 else DE_LINES
            overlays.append((start, min(seconds, start + OVERLAY_EVERY_S), rng.sample(pool, 3)))
            start += OVERLAY_EVERY_S
        print(f"  generating {video.name} ({len(overlays)} overlays) …", flush=True)
        partial = video.with_suffix(".part.mp4")
        make_screen_video(
            partial,
            [Overlay(a, b, tuple(lines)) for a, b, lines in overlays],
            seconds=seconds,
            width=width,
            height=height,
            fps=fps,
        )
        truth.write_text(json.dumps(overlays))
        partial.rename(video)
    data = json.loads(truth.read_text())
    return Case(seconds, video, [(float(a), float(b), list(lines)) for a, b, lines in data])


def videos(durations: list[int], cache: Path) -> list[str]:
    from resimply.costs import image_tokens
    from resimply.media import ocr
    from resimply.media.analyze import MediaLimits, read_video
    from resimply.providers.base import ExtractionInput
    from resimply.providers.openai_extractor import OpenAIExtractor
    from resimply.settings import Settings

    # High detail: what a model needs to read a frame's text (low is 512 px).
    settings = Settings(openai_api_key="bench", openai_model="gpt-4o", openai_image_detail="high")
    limits = MediaLimits.from_settings(settings)
    extractor = OpenAIExtractor(settings)
    ocr.engine()  # loaded once per media process, before its first video
    cases = [prepare(s, cache) for s in durations]
    print()
    print(
        f"{'video':>6} {'overlays':>8} | {'frames':>6} {'alone':>7} | {'shots':>5} {'OCR':>7} "
        f"{'/shot':>6} {'read':>5} {'CER':>6} | {'cover: img':>10} {'+text':>6} | "
        f"{'img tok':>7} {'+text tok':>9} {'no OCR':>7} {'10 high':>7} {'share':>6}"
    )
    verdicts = []
    for case in cases:
        began = time.perf_counter()
        _, frames, _, _ = read_video(case.video, dataclasses.replace(limits, ocr_budget_s=0))
        alone = time.perf_counter() - began
        _, frames, _, screen = read_video(case.video, limits)
        lines = [line for text in screen.texts for line in text.lines]
        read = [all(best_cer(t, lines) <= LINE_CER for t in truth) for _, _, truth in case.overlays]
        errors = [best_cer(t, lines) for _, _, truth in case.overlays for t in truth]
        data = ExtractionInput(
            caption=None,
            subtitles=None,
            transcript=None,
            frames=tuple(frames),
            language=None,
            source_language=None,
            screen=screen.text(),
            screen_status=screen.status,
        )
        with_text, detail, tokens = extractor.plan(data)
        without, detail_alone, tokens_alone = extractor.plan(
            dataclasses.replace(data, screen=None, screen_status="off")
        )

        # What a model reads a frame's text from: high or auto detail (low is 512 px).
        def seen(sent: ExtractionInput, detail: str, case: Case = case) -> list[bool]:
            times = [f.timestamp for f in sent.frames] if detail != "low" else []
            return [any(a <= t < b for t in times) for a, b, _ in case.overlays]

        as_image = seen(with_text, detail)
        images_only = seen(without, detail_alone)
        both = [i or r for i, r in zip(as_image, read, strict=True)]
        width, height = frames[0].width, frames[0].height
        ten_high = 10 * image_tokens("gpt-4o", width, height, "high")
        text_tokens = round(len(screen.text() or "") / CHARS_PER_TOKEN)
        cover = sum(both) / len(both)
        share = tokens / ten_high
        print(
            f"{case.seconds:>5}s {len(case.overlays):>8} | {len(frames):>6} {alone:>6.2f}s | "
            f"{screen.shots:>5} {screen.seconds:>6.2f}s {screen.seconds / max(1, screen.read):>5.2f}s "
            f"{sum(read):>2}/{len(read):<2} {statistics.mean(errors):>6.1%} | "
            f"{sum(images_only) / len(read):>10.0%} {cover:>6.0%} | "
            f"{tokens:>7} {tokens + text_tokens:>9} {tokens_alone:>7} {ten_high:>7} {share:>6.0%}",
            flush=True,
        )
        verdicts += [
            f"{case.seconds} s video: coverage {cover:.0%} (≥ {TARGET_COVERAGE:.0%}): "
            f"{'OK' if cover >= TARGET_COVERAGE else 'MISSED'}",
            f"{case.seconds} s video: image tokens {share:.0%} of 10 high-detail frames "
            f"(≤ {TARGET_IMAGE_SHARE:.0%}): {'OK' if share <= TARGET_IMAGE_SHARE else 'MISSED'}",
        ]
        if screen.status != "read":
            verdicts.append(
                f"{case.seconds} s video: OCR budget spent, {screen.skipped} of {screen.shots} "
                "shots not read (RESIMPLY_OCR_BUDGET_S)"
            )
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ocr", description=__doc__)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--only", default=",".join(map(str, DURATIONS)))
    parser.add_argument("--edges", default=",".join(map(str, EDGES)))
    args = parser.parse_args(argv)
    from resimply.media import ocr

    if not ocr.available():
        print(f"rapidocr is not installed: {ocr.INSTALL_HINT}")
        return 1
    import os

    print(f"On-screen text (rapidocr, one onnxruntime thread), {os.cpu_count()} CPUs")
    print("1. Ingredient cards at 720x1280, read at each longest edge (8 cards, 48 lines)")
    stills([int(x) for x in args.edges.split(",") if x])
    print()
    print(
        f"2./3. Videos {VIDEO[0]}x{VIDEO[1]} @ {VIDEO[2]} fps, an overlay every {OVERLAY_EVERY_S:g} s"
    )
    verdicts = videos([int(x) for x in args.only.split(",") if x], args.cache)
    print()
    print("frames alone = read_video with OCR off (the baseline); OCR = its reading of every")
    print("distinct shot (budget RESIMPLY_OCR_BUDGET_S); read = overlays whose every line was")
    print(f"read (CER ≤ {LINE_CER:.0%}); CER = mean over lines of the best-matching line read.")
    print("cover: img = overlays on screen in a frame sent at high detail without OCR;")
    print("+text = with OCR: sent as an image or read as text. Tokens by gpt-4o rules:")
    print("img tok = images sent with OCR text, +text tok = plus the text (~4 chars/token),")
    print("no OCR = images sent without it, 10 high = ten high-detail frames.")
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
