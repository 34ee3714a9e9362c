"""The recipe as it is read (issue 15 item 4): time to the first ingredient on
screen against time to the completion, on the same task.

    .venv/bin/python -m bench.partial [--rounds 3] [--first-token 1.0] [--tokens-per-s 50]

`resimply serve` and an `arq` worker as real processes in development mode on a
private redis-server, with the OpenAI extractor pointed at the fake OpenAI,
which streams its answer the way OpenAI does (SSE chunks of about one token)
at a model's pace: the first token after `--first-token` seconds, then
`--tokens-per-s` (gpt-4o-mini answers at roughly 50–100 tokens/s). The answer
is a full carbonara recipe (9 ingredients, 6 steps, ~500 tokens). The task is
the bundled sample video, through every step (probe, frames, the model, store).

One SSE client per task with `?partial=1`, opened right after the submit,
timestamps what it receives. Per round, from the submit:

* first ingredient: the first `partial` message with at least one ingredient
  (what the page draws at once);
* completion: the `completion` message (when a client without `?partial=1` —
  and the page before this change — first sees any ingredient).

Printed: both times per round, their medians, and the first ingredient's share
of the completion time (expected well under one half), plus how many `partial`
messages a task sent and their highest rate.
"""

# The driver blocks outside the measured sections (set-up, reports) on purpose.

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from resimply.sample import SAMPLE_VIDEO
from tests.client import submit
from tests.fakes import openai as fake_openai
from tests.fakes.stack import FakesThread
from tests.servers import Service, redis_server

USER = "00000000-0000-4000-8000-0000000000bf"

ANSWER = fake_openai.full_recipe(
    title="Spaghetti Carbonara",
    description="The Roman classic: pasta, egg yolks, pecorino and guanciale, no cream.",
    language="en",
    servings=2,
    prep_minutes=10,
    cook_minutes=15,
    total_minutes=25,
    ingredients=[
        fake_openai.ingredient(text="200 g spaghetti", name="spaghetti", quantity=200, unit="g"),
        fake_openai.ingredient(text="100 g guanciale", name="guanciale", quantity=100, unit="g"),
        fake_openai.ingredient(text="3 egg yolks", name="egg yolks", quantity=3),
        fake_openai.ingredient(text="1 whole egg", name="egg", quantity=1),
        fake_openai.ingredient(
            text="50 g pecorino romano, finely grated",
            name="pecorino romano",
            quantity=50,
            unit="g",
            note="finely grated",
        ),
        fake_openai.ingredient(text="20 g parmigiano", name="parmigiano", quantity=20, unit="g"),
        fake_openai.ingredient(text="black pepper", name="black pepper"),
        fake_openai.ingredient(text="salt for the pasta water", name="salt"),
        fake_openai.ingredient(text="1 tbsp olive oil", name="olive oil", quantity=1, unit="tbsp"),
    ],
    steps=[
        {"text": "Bring a large pot of salted water to the boil.", "minutes": None},
        {"text": "Cut the guanciale into strips and render it slowly in a dry pan.", "minutes": 8},
        {"text": "Whisk the yolks, the egg, the cheeses and plenty of pepper.", "minutes": None},
        {"text": "Cook the spaghetti until al dente.", "minutes": 9},
        {
            "text": "Toss the pasta with the guanciale off the heat, then the egg mixture "
            "and a splash of pasta water, until creamy.",
            "minutes": 2,
        },
        {"text": "Serve at once with more pecorino and pepper.", "minutes": None},
    ],
    tags=["pasta", "italian", "dinner"],
)


def follow(base: str, token: str, task_id: str, submitted: float) -> dict[str, Any]:
    """Read the task's stream with `?partial=1`; seconds from the submit to each milestone."""
    first_ingredient: float | None = None
    partials: list[float] = []
    completion: float | None = None
    with httpx.stream(
        "GET",
        f"{base}/events/{task_id}",
        params={"token": token, "partial": "1"},
        timeout=120,
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            now = time.perf_counter() - submitted
            message = json.loads(line.removeprefix("data:"))
            if message["type"] == "partial":
                partials.append(now)
                if first_ingredient is None and message["ingredients"]:
                    first_ingredient = now
            elif message["type"] == "completion":
                completion = now
                break
            elif message["type"] == "error":
                raise RuntimeError(f"the task failed: {message['message']}")
    if completion is None or first_ingredient is None:
        raise RuntimeError("the stream ended without a completion or without a partial")
    gaps = [b - a for a, b in itertools.pairwise(partials)]
    return {
        "first": first_ingredient,
        "completion": completion,
        "partials": len(partials),
        "min_gap": min(gaps) if gaps else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--first-token", type=float, default=1.0, help="seconds")
    parser.add_argument("--tokens-per-s", type=float, default=50.0)
    args = parser.parse_args()

    answer_chars = len(json.dumps(ANSWER))
    print(
        f"bench.partial: fake model {args.first_token:.1f} s to the first token, then "
        f"{args.tokens_per_s:.0f} tokens/s; answer {answer_chars} characters "
        f"(~{answer_chars // fake_openai.TOKEN_CHARS} tokens, "
        f"{len(ANSWER['ingredients'])} ingredients, {len(ANSWER['steps'])} steps)"
    )
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_server(Path(tmp)) as redis_url,
        FakesThread() as fakes,
    ):
        fakes.openai.stream_first_token_s = args.first_token
        fakes.openai.stream_tokens_per_s = args.tokens_per_s
        service = Service(
            redis_url,
            Path(tmp),
            OPENAI_API_KEY=fakes.openai.api_key,
            OPENAI_BASE_URL=fakes.urls["openai"] + "/v1",
            RESIMPLY_EXTRACTOR="openai",
            RESIMPLY_CACHE_TTL_S="0",  # every round reads the video again
            LOG_LEVEL="warning",
        )
        with service.running():
            token = service.token(USER)
            for n in range(1, args.rounds + 1):
                fakes.openai.answer_recipe(ANSWER)
                submitted = time.perf_counter()
                response = submit(service, token, {"url": str(SAMPLE_VIDEO)})
                if response.status_code != 202:
                    print(f"submit failed: {response.status_code} {response.text}")
                    return 1
                row = follow(service.base_url, token, response.json()["task_id"], submitted)
                rows.append(row)
                print(
                    f"  round {n}: first ingredient {row['first']:6.2f} s   "
                    f"completion {row['completion']:6.2f} s   "
                    f"share {row['first'] / row['completion']:5.1%}   "
                    f"partials {row['partials']:3d}   "
                    f"closest two {row['min_gap'] or 0:.2f} s apart"
                )
    first = statistics.median(r["first"] for r in rows)
    done = statistics.median(r["completion"] for r in rows)
    print(
        f"median over {len(rows)}: submit → first ingredient on screen {first:.2f} s; "
        f"submit → completion (a client without ?partial=1) {done:.2f} s; "
        f"the first ingredient comes at {first / done:.0%} of the completion time "
        f"({done - first:.2f} s earlier)"
    )
    print("expected: the first ingredient at well under half the completion time")
    return 0 if first < done / 2 else 1


if __name__ == "__main__":
    sys.exit(main())
