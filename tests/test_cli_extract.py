"""`resimply extract`: the real command in a real process, on the bundled sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import msgspec
import pytest

from resimply.cli_extract import LiveProgress
from resimply.messages import Completion, Progress
from resimply.models import Recipe
from resimply.sample import SAMPLE_VIDEO
from tests.servers import BIN

SAMPLE_CAPTION = Path(SAMPLE_VIDEO).with_suffix(".txt").read_text()
RECIPE_SCHEMA = msgspec.json.schema(Recipe)


def extract(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RESIMPLY_", "SUPABASE_", "OPENAI_", "APIFY_")) and k != "REDIS_URL"
    }
    return subprocess.run(
        [str(BIN / "resimply"), "extract", *args],
        env={**base, "RESIMPLY_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_sample_prints_a_recipe_that_validates_against_the_schema(tmp_path: Path) -> None:
    result = extract(SAMPLE_VIDEO, tmp_path=tmp_path)  # stdout is a pipe: JSON by default
    assert result.returncode == 0, result.stderr
    # Not a terminal: no progress display, nothing but the recipe on stdout.
    assert result.stderr == ""
    data = json.loads(result.stdout)
    jsonschema.validate(data, RECIPE_SCHEMA)
    assert "recipes" not in data  # one recipe: the object alone, as it always was
    recipe = msgspec.convert(data, Recipe)
    # Read from the sample's caption, not made up: every line is the caption's.
    assert recipe.title and recipe.title in SAMPLE_CAPTION
    assert len(recipe.ingredients) >= 5 and len(recipe.steps) >= 5
    assert all(i.text.split(",")[0] in SAMPLE_CAPTION for i in recipe.ingredients[:5])
    assert all(s.text in SAMPLE_CAPTION for s in recipe.steps)
    assert recipe.source is not None and recipe.source.url.endswith("carbonara.mp4")
    # Nothing was kept: no recipe book was written.
    assert not (tmp_path / "recipes.sqlite3").exists()


def test_markdown_and_a_relative_path(tmp_path: Path) -> None:
    relative = os.path.relpath(SAMPLE_VIDEO, Path.cwd())
    as_json = extract(relative, "--json", tmp_path=tmp_path)
    as_markdown = extract(relative, "--markdown", "--language", "en", tmp_path=tmp_path)
    assert as_json.returncode == 0 and as_markdown.returncode == 0, as_markdown.stderr
    recipe = json.loads(as_json.stdout)
    lines = as_markdown.stdout.splitlines()
    assert lines[0] == f"# {recipe['title']}"
    assert "## Ingredients" in lines and "## Steps" in lines
    assert f"- {recipe['ingredients'][0]['text']}" in lines
    assert f"1. {recipe['steps'][0]['text']}" in as_markdown.stdout


@pytest.mark.parametrize(
    "link", ["ftp://example.com/video.mp4", "no-such-file.mp4", "https://www.tiktok.com/@a/video/1"]
)
def test_a_bad_link_exits_2_with_unsupported_url(tmp_path: Path, link: str) -> None:
    # TikTok turned off, so that the platform link is refused too (by configuration).
    result = extract(link, tmp_path=tmp_path, RESIMPLY_SCRAPERS="tiktok:off")
    assert result.returncode == 2, result
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("resimply: unsupported_url: ") and "\n" not in line, line


def test_a_failed_task_exits_1_with_its_code_and_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    result = extract(str(broken), tmp_path=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    code, _, message = result.stderr.strip().removeprefix("resimply: ").partition(": ")
    assert code == "invalid_media" and message, result.stderr


def test_redis_url_is_used_when_set_and_no_redis_server_needed(
    tmp_path: Path, redis_url: str
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    # No redis-server on the PATH: only REDIS_URL can make this work.
    without = extract(SAMPLE_VIDEO, tmp_path=tmp_path, PATH=str(empty))
    assert without.returncode == 1 and "no redis-server was found" in without.stderr
    prefix = "cli-test:"
    used = extract(
        SAMPLE_VIDEO,
        tmp_path=tmp_path,
        PATH=str(empty),
        REDIS_URL=redis_url,
        RESIMPLY_KEY_PREFIX=prefix,
    )
    assert used.returncode == 0, used.stderr
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        assert client.keys(f"{prefix}task:*"), "the task record lives in REDIS_URL's Redis"
    finally:
        client.close()


def test_redis_url_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    result = extract(SAMPLE_VIDEO, tmp_path=tmp_path, REDIS_URL="redis://:pw-secret@127.0.0.1:1/0")
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "pw-secret" not in result.stderr


def test_the_live_display_walks_the_steps() -> None:
    """The progress display as a terminal shows it (rich records what it printed)."""
    from rich.console import Console

    console = Console(record=True, force_terminal=True, width=100)
    with LiveProgress(console) as live:
        for step, stage in enumerate(("init", "scrape", "media", "extract", "store"), 1):
            live(Progress(task_id="t", step=step, stage=stage, status=f"doing {stage}"))
        live(Completion(task_id="t", recipe_id="r", recipe_name="R", recipe=Recipe(title="R")))
    text = console.export_text()
    for step, stage in enumerate(("init", "scrape", "media", "extract", "store"), 1):
        assert f"✓ {step}/5 {stage}: doing {stage}" in text, text


def test_a_private_redis_that_cannot_start_is_one_line(tmp_path: Path) -> None:
    """The real redis-server, given a setting it refuses, exits at once."""
    real = shutil.which("redis-server")
    if real is None:
        pytest.fail("redis-server is needed (apt-get install redis-server)")
    shim = tmp_path / "bin" / "redis-server"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {real} "$@" --maxmemory not-a-size\n')
    shim.chmod(0o755)
    result = extract(SAMPLE_VIDEO, tmp_path=tmp_path, PATH=f"{shim.parent}:{os.environ['PATH']}")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "resimply: the private redis-server could not start: argument must be a memory value"
    )


def test_a_post_with_a_main_and_its_sauce_prints_both(tmp_path: Path) -> None:
    """JSON: the first recipe as for one (a `Recipe`), plus `recipes` with all of
    them; Markdown: each its own section. The caption is one the offline extractor
    reads as two recipes (tests/test_multi_recipe_e2e.py does the same through the API)."""
    video = tmp_path / "schnitzel.mp4"
    shutil.copyfile(SAMPLE_VIDEO, video)
    caption = (
        Path(__file__).parent / "data" / "captions" / "en_schnitzel_and_sauce.txt"
    ).read_text()
    as_json = extract(str(video), "--caption", caption, "--json", tmp_path=tmp_path)
    as_markdown = extract(str(video), "--caption", caption, "--markdown", tmp_path=tmp_path)
    assert as_json.returncode == 0 and as_markdown.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    first, sauce = data["recipes"]
    for recipe in (first, sauce):
        jsonschema.validate(recipe, RECIPE_SCHEMA)
    # The top level is still the first recipe, for scripts written for one.
    assert {k: v for k, v in data.items() if k != "recipes"} == first
    jsonschema.validate(data, RECIPE_SCHEMA)
    assert first["title"] == "Crispy Schnitzel with Mushroom Sauce"
    assert sauce["title"] == "Crispy Schnitzel with Mushroom Sauce – sauce"
    assert "mushrooms" in [i["name"] for i in sauce["ingredients"]]
    assert first["id"] != sauce["id"]

    sections = as_markdown.stdout.split("\n---\n\n")
    assert [s.splitlines()[0] for s in sections] == [f"# {first['title']}", f"# {sauce['title']}"]
    for section, recipe in zip(sections, (first, sauce), strict=True):
        assert f"- {recipe['ingredients'][0]['text']}" in section
        assert f"1. {recipe['steps'][0]['text']}" in section
