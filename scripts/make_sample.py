"""Write the bundled demo video `resimply/samples/carbonara.mp4` and its caption.

Uses PyAV only (no ffmpeg binary, no numpy/PIL): five drawn scenes of a
spaghetti carbonara, H.264 at 360x640, and an English mov_text subtitle track
that speaks the steps. Run from the repository root:

    .venv/bin/python scripts/make_sample.py
"""

from __future__ import annotations

import fractions
from pathlib import Path

import av
from av.video.frame import PictureType, VideoFrame

WIDTH, HEIGHT, FPS = 360, 640, 24
SCENE_SECONDS = 3
SAMPLES = Path(__file__).resolve().parent.parent / "resimply" / "samples"

Colour = tuple[int, int, int]

CUES: list[tuple[float, float, str]] = [
    (0.0, 2.5, "Boil 200 g spaghetti in salted water for 10 minutes."),
    (2.5, 5.0, "Cut 100 g guanciale into strips and fry until crisp, about 5 minutes."),
    (5.0, 7.5, "Whisk 2 eggs and 1 egg yolk with 50 g grated pecorino romano."),
    (7.5, 9.0, "Season the eggs with 1/2 tsp black pepper."),
    (9.0, 11.0, "Drain the spaghetti, keeping a cup of the pasta water."),
    (11.0, 13.0, "Off the heat, toss the pasta with the guanciale and the egg mixture."),
    (13.0, 14.0, "Add a splash of pasta water until creamy."),
    (14.0, 15.0, "Serve at once with more pecorino and pepper."),
]

CAPTION = """Creamy Pasta Carbonara 🍝
Serves 2
Prep 10 min · Cook 15 min

Ingredients:
- 200 g spaghetti
- 100 g guanciale
- 2 eggs
- 1 egg yolk
- 50 g pecorino romano, grated
- 1/2 tsp black pepper
- salt for the pasta water

Steps:
1. Boil 200 g spaghetti in salted water for 10 minutes.
2. Cut the guanciale into strips and fry until crisp, about 5 minutes.
3. Whisk the eggs, egg yolk, pecorino and black pepper.
4. Drain the spaghetti, keeping a cup of the pasta water.
5. Off the heat, toss the pasta with the guanciale and the egg mixture, adding a splash of pasta water until creamy.
6. Serve at once with more pecorino and pepper.

#carbonara #pasta #italianfood #recipe #dinnerideas
"""

# mov_text's encoder reads its default style from an ASS header.
ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 360\nPlayResY: 640\n\n"
    b"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, "
    b"OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, "
    b"Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Arial,20,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


class Canvas:
    """An RGBA picture drawn with rectangles and discs, row by row."""

    def __init__(self, background: Colour) -> None:
        self.rows = [bytearray(bytes((*background, 255)) * WIDTH) for _ in range(HEIGHT)]

    def rect(self, x: int, y: int, w: int, h: int, colour: Colour) -> None:
        x0, x1 = max(0, x), min(WIDTH, x + w)
        for row in self.rows[max(0, y) : min(HEIGHT, y + h)]:
            row[x0 * 4 : x1 * 4] = bytes((*colour, 255)) * (x1 - x0)

    def disc(self, cx: int, cy: int, r: int, colour: Colour) -> None:
        for y in range(max(0, cy - r), min(HEIGHT, cy + r + 1)):
            half = int((r * r - (y - cy) ** 2) ** 0.5)
            self.rect(cx - half, y, 2 * half + 1, 1, colour)

    def frame(self) -> VideoFrame:
        return VideoFrame.from_bytes(b"".join(self.rows), WIDTH, HEIGHT, format="rgba")


def scenes() -> list[VideoFrame]:
    wood, pan, cream, pepper = (150, 100, 60), (35, 35, 38), (236, 206, 120), (20, 20, 20)

    boil = Canvas((70, 70, 75))  # a pot of water on the stove, spaghetti going in
    boil.disc(180, 340, 150, (160, 160, 165))
    boil.disc(180, 340, 135, (70, 130, 205))
    for x in range(120, 250, 14):
        boil.rect(x, 120, 4, 220, (240, 220, 150))

    fry = Canvas(wood)  # guanciale strips crisping in a pan
    fry.rect(170, 20, 20, 190, (60, 40, 30))
    fry.disc(180, 350, 150, pan)
    for i in range(9):
        fry.rect(90 + (i % 3) * 65, 270 + (i // 3) * 55, 50, 22, (205, 95, 95))
        fry.rect(90 + (i % 3) * 65, 278 + (i // 3) * 55, 50, 6, (245, 225, 215))

    whisk = Canvas((205, 215, 225))  # eggs, yolk and pecorino in a bowl
    whisk.disc(180, 360, 140, (250, 250, 245))
    whisk.disc(180, 360, 100, (250, 200, 60))
    whisk.disc(150, 340, 25, (255, 170, 20))
    for i in range(12):
        whisk.rect(110 + (i % 4) * 40, 300 + (i // 4) * 40, 10, 10, (255, 250, 220))

    toss = Canvas((215, 212, 205))  # off the heat on the counter: pasta, guanciale, eggs
    toss.disc(180, 350, 150, pan)
    for y in range(240, 460, 12):
        toss.rect(80, y, 200, 5, (240, 215, 140))
    for i in range(6):
        toss.rect(100 + (i % 3) * 60, 300 + (i // 3) * 80, 30, 14, (200, 95, 95))

    serve = Canvas((40, 90, 60))  # a plate of creamy carbonara with black pepper
    serve.disc(180, 330, 160, (245, 245, 245))
    serve.disc(180, 330, 105, cream)
    for i in range(20):
        serve.rect(110 + (i * 37) % 140, 260 + (i * 53) % 140, 5, 5, pepper)
    serve.rect(40, 540, 280, 30, (200, 40, 40))  # napkin

    return [c.frame().reformat(format="yuv420p") for c in (boil, fry, whisk, toss, serve)]


def write_video(path: Path) -> None:
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        out.metadata["title"] = "Creamy Pasta Carbonara"
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "slow", "crf": "28", "tune": "stillimage"}
        video.codec_context.gop_size = FPS * 2
        text = out.add_stream("mov_text")
        text.codec_context.subtitle_header = ASS_HEADER
        text.metadata["language"] = "eng"
        text.time_base = fractions.Fraction(1, 1000)  # must be set before the header

        pictures = scenes()
        per_scene = SCENE_SECONDS * FPS
        for n in range(per_scene * len(pictures)):
            frame = pictures[n // per_scene]
            frame.pts = n
            frame.pict_type = PictureType.I if n % per_scene == 0 else PictureType.NONE
            out.mux(video.encode(frame))
        out.mux(video.encode(None))

        for index, (start, end, line) in enumerate(CUES):
            start_ms, end_ms = round(start * 1000), round(end * 1000)
            event = f"{index},0,Default,,0,0,0,,{line}".encode()
            cue = av.subtitles.subtitle.SubtitleSet.create(
                event, 0, end_ms - start_ms, pts=start_ms
            )
            packet = text.codec_context.encode_subtitle(cue)
            packet.stream = text
            packet.pts = packet.dts = start_ms
            packet.duration = end_ms - start_ms
            packet.time_base = fractions.Fraction(1, 1000)
            out.mux(packet)


def main() -> None:
    SAMPLES.mkdir(parents=True, exist_ok=True)
    video = SAMPLES / "carbonara.mp4"
    write_video(video)
    (SAMPLES / "carbonara.txt").write_text(CAPTION, encoding="utf-8")
    print(f"wrote {video} ({video.stat().st_size:,} bytes) and carbonara.txt")


if __name__ == "__main__":
    main()
