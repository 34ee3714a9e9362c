"""What ?servings= / ?units= cost a request: scaling and converting a recipe
against answering it as stored (resimply/cooking, issue 15).

    .venv/bin/python -m bench.scaling [--rounds 2000]

Baseline: encoding the stored recipe to JSON (what `GET /recipes/{id}` does
without parameters). Measured: reading the query options, scaling and converting
the recipe, encoding the answer. The recipe is a real-sized one: 24 ingredient
lines, English and German, read by the offline parser. Also shown: the one-time
cost of importing resimply.cooking (pint's unit registry is read at import, at
process start, never during a request).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import msgspec
from starlette.datastructures import QueryParams

LINES = [
    "200 g spaghetti", "100 g guanciale", "2 eggs", "1 egg yolk", "50 g pecorino romano, grated",
    "1/2 tsp black pepper", "salt for the pasta water", "1 1/2 cups all-purpose flour",
    "2 tbsp butter, melted", "1 tbsp olive oil", "3 cloves garlic", "1 can (14 oz) tomatoes",
    "250 g Mehl", "3 Eier", "500 ml Milch", "1 EL Öl", "1 Prise Salz", "1 Becher Sahne",
    "2-3 Knoblauchzehen", "1 TL Zimt", "0,5 l Brühe", "1 Pck. Backpulver", "1 Zwiebel",
    "Butter zum Braten",
]  # fmt: skip
QUERIES = ["servings=6", "servings=3&units=metric", "servings=8&units=us", "units=us"]


def _per_call_us(function: object, rounds: int) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            function()  # type: ignore[operator]
        times.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import resimply.models"], check=True)
    models_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import resimply.cooking"], check=True)
    cooking_s = time.perf_counter() - started

    from resimply.cooking import parse_scale_options, scale_recipe
    from resimply.models import Recipe
    from resimply.offline import parse_ingredient

    recipe = Recipe(
        title="bench", language="en", servings=4, ingredients=[parse_ingredient(x) for x in LINES]
    )
    encode = msgspec.json.Encoder().encode
    plain = _per_call_us(lambda: encode(recipe), args.rounds)
    print(f"bench.scaling: recipe of {len(LINES)} ingredients, median of 5 × {args.rounds} calls")
    print(f"  {'as stored (baseline)':32} {plain:8.1f} µs")
    for query in QUERIES:
        params = QueryParams(query)

        def scaled(params: QueryParams = params) -> bytes:
            options = parse_scale_options(params)
            assert options is not None
            return encode(scale_recipe(recipe, options))

        cost = _per_call_us(scaled, args.rounds // 4)
        print(f"  {'?' + query:32} {cost:8.1f} µs  ({cost / plain:.0f}× the baseline)")
    print(
        f"  process start: import resimply.models {models_s * 1000:.0f} ms, "
        f"import resimply.cooking {cooking_s * 1000:.0f} ms (pint's registry, once)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
