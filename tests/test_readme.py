"""The README cannot drift: every shell block marked runnable is run, as written,
against a fresh `make run` server (scripts/run-dev.sh, a real process with its
private Redis), and every relative link in it leads to a file of the repository.

A block is runnable when the line right before its ```sh fence is an HTML
comment starting with `<!-- runnable` (invisible on GitHub). Blocks run with
bash -euo pipefail from the checkout's root, one after the other, in a HOME of
their own (so `resimply token` reads the same development secret as the
server). The only change made to them: the server's and its Redis's ports
(8000, 6390 in the README) become the free ports this test chose. `make
docs-check` runs this file alone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = "<!-- runnable"
FENCE = re.compile(r"^```(?:sh|bash|shell)\s*$")
README_PORT, README_REDIS_PORT = "8000", "6390"


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, body) of each shell block right after a runnable marker."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if not (FENCE.match(line) and i > 0 and lines[i - 1].strip().startswith(MARKER)):
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        blocks.append((i + 1, "\n".join(lines[i + 1 : end])))
    return blocks


def test_the_marker_finds_blocks_and_only_marked_ones() -> None:
    sample = "\n".join(
        ["```sh", "not me", "```", "<!-- runnable -->", "```sh", "echo me", "```", "text"]
    )
    assert runnable_blocks(sample) == [(5, "echo me")]


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not (ROOT / ".venv" / "bin" / "resimply").exists():
        pytest.fail("the README's commands use .venv: run `make install` first")
    home = tmp_path_factory.mktemp("home")
    port, redis_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RESIMPLY_", "SUPABASE_", "OPENAI_", "APIFY_"))
        and k not in ("REDIS_URL", "TOKEN", "TASK", "PORT", "REDIS_PORT")
    }
    env.update(HOME=str(home), PORT=str(port), REDIS_PORT=str(redis_port))
    log = (home / "make-run.log").open("w+")
    proc = subprocess.Popen(
        ["bash", "scripts/run-dev.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/health").json()["workers"] == 1,
            timeout=60,
            what="make run",
        )
        # The blocks get the environment a newcomer's second shell has: no PORT.
        shell = {k: v for k, v in env.items() if k not in ("PORT", "REDIS_PORT")}
        yield {**shell, "_PORT": str(port), "_REDIS_PORT": str(redis_port)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()


def test_every_runnable_block_of_the_readme_works(make_run: dict[str, str]) -> None:
    blocks = runnable_blocks(README.read_text())
    assert len(blocks) >= 3, "the README's first-task, extract and operator blocks are marked"
    env = {k: v for k, v in make_run.items() if not k.startswith("_")}
    for line, body in blocks:
        script = body.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{make_run['_PORT']}")
        script = script.replace(
            f"127.0.0.1:{README_REDIS_PORT}", f"127.0.0.1:{make_run['_REDIS_PORT']}"
        )
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (
            f"README.md line {line}: the block exited {result.returncode}\n"
            f"--- block\n{body}\n--- stdout\n{result.stdout[-2000:]}\n"
            f"--- stderr\n{result.stderr[-2000:]}"
        )


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "doc",
    [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "OPERATIONS.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_lead_to_files_of_the_repository(doc: Path) -> None:
    missing = [
        target
        for target in LINK.findall(doc.read_text())
        if "://" not in target
        and not target.startswith("mailto:")
        and not (doc.parent / target).exists()
    ]
    assert not missing, f"{doc.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_no_document_points_outside_the_repository() -> None:
    """The design notes the README once pointed to are not part of this repository."""
    docs = [README, *(ROOT / "docs").glob("*.md"), *(ROOT / "deploy").rglob("*.md")]
    offenders = [str(p.relative_to(ROOT)) for p in docs if "shared/design" in p.read_text()]
    assert not offenders
