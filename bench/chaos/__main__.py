"""Run every chaos scenario (or the ones named on the command line) and print their figures."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench.chaos as package


def scenarios() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    names = argv or scenarios()
    unknown = sorted(set(names) - set(scenarios()))
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(scenarios())}")
        return 2
    for name in names:
        print(f"\n== chaos: {name} ==", flush=True)
        started = time.monotonic()
        importlib.import_module(f"bench.chaos.{name}").main()
        print(f"({name}: {time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
