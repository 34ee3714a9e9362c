"""Frame extraction: our `pick_frames` against `ffmpeg -vf fps=N/duration` (issue 4).

    .venv/bin/python -m bench.frames [--cache DIR] [--only 15,60]

Generates H.264 1080x1920 portrait videos of 15 s, 60 s and 180 s with known
shot cuts and text-like overlays (PyAV; cached in `.run/bench/`, reused between
runs), then measures, each in a fresh process (peak RSS from `wait4`):

* ours: `resimply.media.frames.pick_frames` with a budget of one frame per 4 s
  (at least 6, the default setting), JPEGs at 768 px;
* the baseline: Debian's `ffmpeg -vf fps=N/duration,scale…` writing the same
  number of JPEGs (N = the number we chose), i.e. evenly spaced frames.

Coverage is the share of known shots with at least one chosen frame, and of
text overlays with at least one frame taken while the text is on screen.
Targets: ≥ 5x faster than the baseline at ≥ 95 % shot coverage, peak RSS
< 300 MB on the 180 s video.
"""

from __future__ import annotations

import argparse
import colorsys
import dataclasses
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mediagen import Shot, make_scene_video, shot_bounds

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".run" / "bench"
VERSION = 1  # bump when the generated videos change
WIDTH, HEIGHT, FPS = 1080, 1920, 30
DURATIONS = (15, 60, 180)
MAX_EDGE, JPEG_QUALITY = 768, 80
TARGET_SPEEDUP, TARGET_COVERAGE, TARGET_RSS_MB = 5.0, 0.95, 300

# Shot lengths, seconds: mostly short, like edited cooking clips.
SHOT_SECONDS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
TEXT_HEIGHTS = (0.05, 0.1, 0.22)  # a caption line, a short list, an ingredient card


@dataclasses.dataclass(frozen=True)
class Case:
    seconds: int
    video: Path
    shots: list[tuple[float, float]]  # start, end
    texts: list[tuple[float, float]]  # start, end of each overlay on screen

    @property
    def budget(self) -> int:
        return max(6, math.ceil(self.seconds / 4))


def _plan(seconds: int) -> list[Shot]:
    """Shots for a video of `seconds`, deterministic."""
    rng = random.Random(seconds * 1009 + VERSION)
    shots: list[Shot] = []
    total = 0.0
    hue = rng.random()
    while total < seconds - 1e-9:
        length = min(rng.choice(SHOT_SECONDS), seconds - total)
        if length < 1.0 and shots:  # too short a tail: lengthen the last shot
            last = shots.pop()
            length += last.seconds
            total -= last.seconds
        hue = (hue + 0.618034) % 1.0  # golden-ratio hues: neighbours never look alike
        value = (0.55, 0.8, 0.95)[len(shots) % 3]
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, value)
        colour = (round(r * 255), round(g * 255), round(b * 255))
        text_at = None
        if length >= 2.5 and rng.random() < 0.45:
            text_at = round(rng.uniform(0.8, length - 1.2), 2)
        shots.append(Shot(length, colour, text_at=text_at, text_height=rng.choice(TEXT_HEIGHTS)))
        total += length
    return shots


def prepare(seconds: int, cache: Path) -> Case:
    """The video of `seconds` and its ground truth, generated once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    video = cache / f"frames-v{VERSION}-{WIDTH}x{HEIGHT}-{seconds}s.mp4"
    truth = video.with_suffix(".json")
    if not (video.exists() and truth.exists()):
        shots = _plan(seconds)
        print(f"  generating {video.name} ({len(shots)} shots) …", flush=True)
        started = time.monotonic()
        partial = video.with_suffix(".part.mp4")
        make_scene_video(partial, shots, width=WIDTH, height=HEIGHT, fps=FPS)
        bounds = shot_bounds(shots)
        texts = [
            (start + s.text_at, end)
            for s, (start, end) in zip(shots, bounds, strict=True)
            if s.text_at is not None
        ]
        truth.write_text(json.dumps({"shots": bounds, "texts": texts}))
        partial.rename(video)
        print(f"  … {time.monotonic() - started:.0f} s", flush=True)
    data = json.loads(truth.read_text())
    return Case(
        seconds=seconds,
        video=video,
        shots=[(float(a), float(b)) for a, b in data["shots"]],
        texts=[(float(a), float(b)) for a, b in data["texts"]],
    )


def coverage(times: list[float], spans: list[tuple[float, float]]) -> float:
    if not spans:
        return 1.0
    hit = sum(any(start <= t < end for t in times) for start, end in spans)
    return hit / len(spans)


@dataclasses.dataclass
class Run:
    times: list[float]
    wall_s: float
    rss_mb: float
    inner_s: float | None = None  # ours: the extraction alone, inside the process


def _measure(argv: list[str]) -> tuple[float, float, bytes, bytes]:
    """Run `argv` to the end, via the small `bench._measure` launcher.

    Returns (wall seconds, peak RSS in MB, stdout, stderr) of `argv` alone.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        out, err = Path(scratch) / "out", Path(scratch) / "err"
        report = subprocess.run(
            [sys.executable, "-m", "bench._measure", str(out), str(err), "--", *argv],
            capture_output=True,
            check=True,
            cwd=ROOT,
        )
        result = json.loads(report.stdout)
        stdout, stderr = out.read_bytes(), err.read_bytes()
    if result["returncode"] != 0:
        raise RuntimeError(f"{argv[0]} failed ({result['returncode']}): {stderr[-2000:]!r}")
    return result["wall_s"], result["rss_mb"], stdout, stderr


def run_ours(case: Case) -> Run:
    argv = [sys.executable, "-m", "bench.frames", "--child", str(case.video), str(case.budget)]
    wall, rss, stdout, _ = _measure(argv)
    result = json.loads(stdout)
    return Run(times=result["times"], wall_s=wall, rss_mb=rss, inner_s=result["seconds"])


def run_ffmpeg(ffmpeg: str, case: Case, count: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-ffmpeg-") as out:
        # The same output as ours: `count` JPEGs, longest edge 768, similar quality.
        argv = [
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "info",
            "-i",
            str(case.video),
            "-vf",
            f"fps={count}/{case.seconds},scale=-2:{MAX_EDGE},showinfo",
            "-frames:v",
            str(count),
            "-q:v",
            "5",
            str(Path(out) / "%03d.jpg"),
        ]
        wall, rss, _, stderr = _measure(argv)
        times = [float(m) for m in re.findall(rb"pts_time:\s*([0-9.]+)", stderr)]
        written = len(list(Path(out).glob("*.jpg")))
    if written != len(times):
        times = [i * case.seconds / count for i in range(written)]
    return Run(times=times, wall_s=wall, rss_mb=rss)


def child(video: Path, budget: int) -> None:
    """In a fresh process: pick the frames, print their times and the time it took."""
    from resimply.media.frames import pick_frames

    started = time.perf_counter()
    frames = pick_frames(video, max_frames=budget, max_edge=MAX_EDGE, jpeg_quality=JPEG_QUALITY)
    seconds = time.perf_counter() - started
    print(json.dumps({"times": [f.timestamp for f in frames], "seconds": seconds}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.frames", description=__doc__)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--only", default=",".join(map(str, DURATIONS)))
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), int(args.child[1]))
        return 0

    durations = [int(x) for x in args.only.split(",") if x]
    print(f"Frame extraction, H.264 {WIDTH}x{HEIGHT} @ {FPS} fps, {os.cpu_count()} CPUs")
    cases = [prepare(s, args.cache) for s in durations]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg not found: the baseline is skipped. Install it with")
        print("    apt-get install -y ffmpeg")

    header = (
        f"{'video':>6} {'shots':>5} {'texts':>5} {'budget':>6} | "
        f"{'ours':>5} {'wall':>7} {'(pick)':>7} {'RSS':>7} {'shots':>6} {'texts':>6} | "
        f"{'ffmpeg':>6} {'wall':>7} {'RSS':>7} {'shots':>6} {'texts':>6} | {'speed-up':>8} {'(pick)':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    verdicts: list[str] = []
    for case in cases:
        with case.video.open("rb") as warm:  # into the page cache: both sides read a warm file
            while warm.read(1 << 20):
                pass
        ours = run_ours(case)
        line = (
            f"{case.seconds:>5}s {len(case.shots):>5} {len(case.texts):>5} {case.budget:>6} | "
            f"{len(ours.times):>5} {ours.wall_s:>6.2f}s {ours.inner_s or 0:>6.2f}s "
            f"{ours.rss_mb:>5.0f}MB {coverage(ours.times, case.shots):>6.0%} "
            f"{coverage(ours.times, case.texts):>6.0%} | "
        )
        speedup = None
        if ffmpeg is not None:
            base = run_ffmpeg(ffmpeg, case, len(ours.times))
            speedup = base.wall_s / ours.wall_s
            line += (
                f"{len(base.times):>6} {base.wall_s:>6.2f}s {base.rss_mb:>5.0f}MB "
                f"{coverage(base.times, case.shots):>6.0%} "
                f"{coverage(base.times, case.texts):>6.0%} | {speedup:>7.1f}x "
                f"{base.wall_s / (ours.inner_s or ours.wall_s):>6.1f}x"
            )
        print(line, flush=True)
        if case.seconds == max(durations):
            cover = coverage(ours.times, case.shots)
            checks = [
                (f"coverage {cover:.0%} (≥ {TARGET_COVERAGE:.0%})", cover >= TARGET_COVERAGE),
                (f"peak RSS {ours.rss_mb:.0f} MB (< {TARGET_RSS_MB})", ours.rss_mb < TARGET_RSS_MB),
            ]
            if speedup is not None:
                checks.insert(0, (f"{speedup:.1f}x faster (≥ {TARGET_SPEEDUP:g}x)", speedup >= 5))
            verdicts += [
                f"{case.seconds} s video: {text}: {'OK' if ok else 'MISSED'}" for text, ok in checks
            ]
    print()
    print("wall = whole process (start-up included); (pick) = pick_frames alone, in process;")
    print("speed-up = ffmpeg wall / our wall; (pick) = ffmpeg wall / pick_frames alone;")
    print("shots / texts = share of known shots / text overlays with ≥ 1 chosen frame.")
    for verdict in verdicts:
        print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
