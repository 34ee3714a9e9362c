"""The query parameters of a scaled recipe: the one place their grammar lives.

    servings=<1..1000>         whole number: scale to this many servings
    scale=<0.05..100>          a factor ("2", "0.5", "1,5"), for recipes without servings
    units=metric|us|original   the unit system of the amounts (default original)

`GET /recipes/{id}` and `GET /task/{id}` read them with `parse_scale_options`; without
any of them the answer is the stored recipe, byte for byte.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..errors import InvalidServings, InvalidUnits

MIN_SERVINGS, MAX_SERVINGS = 1, 1000
MIN_SCALE, MAX_SCALE = 0.05, 100.0
PARAMETERS = ("servings", "scale", "units")

_WHOLE = re.compile(r"[0-9]{1,6}")
_DECIMAL = re.compile(r"[0-9]{1,6}(?:[.,][0-9]{1,6})?")


class UnitSystem(enum.StrEnum):
    METRIC = "metric"  # grams and millilitres (spoons stay spoons)
    US = "us"  # cups, spoons, ounces and pounds
    ORIGINAL = "original"  # each amount in the unit it was written in


@dataclasses.dataclass(frozen=True)
class ScaleOptions:
    """What a client asked for; `servings` and `scale` are never both set."""

    servings: int | None = None
    scale: float | None = None
    units: UnitSystem = UnitSystem.ORIGINAL


class QueryParams(Protocol):
    def getlist(self, key: str) -> Sequence[str]: ...


def parse_scale_options(query: QueryParams | Mapping[str, str]) -> ScaleOptions | None:
    """The options in a request's query string; None when none of them is there.

    Raises InvalidServings / InvalidUnits (HTTP 400) with a message saying what to send.
    """
    values = {name: _values(query, name) for name in PARAMETERS}
    if not any(values.values()):
        return None
    for name, given in values.items():
        if len(given) > 1:
            error = InvalidUnits if name == "units" else InvalidServings
            raise error(f"Send {name} once (it was sent {len(given)} times).")
    servings = _servings(values["servings"][0]) if values["servings"] else None
    scale = _scale(values["scale"][0]) if values["scale"] else None
    if servings is not None and scale is not None:
        raise InvalidServings("Send either servings or scale, not both.")
    return ScaleOptions(servings=servings, scale=scale, units=_units(values["units"]))


def _values(query: QueryParams | Mapping[str, str], name: str) -> list[str]:
    if hasattr(query, "getlist"):
        return list(query.getlist(name))
    value = query.get(name)
    return [] if value is None else [value]


def _servings(value: str) -> int:
    text = value.strip()
    if not _WHOLE.fullmatch(text) or not MIN_SERVINGS <= int(text) <= MAX_SERVINGS:
        raise InvalidServings(
            f"servings must be a whole number from {MIN_SERVINGS} to {MAX_SERVINGS} "
            f"(got {value[:20]!r})."
        )
    return int(text)


def _scale(value: str) -> float:
    text = value.strip()
    factor = float(text.replace(",", ".")) if _DECIMAL.fullmatch(text) else None
    if factor is None or not MIN_SCALE <= factor <= MAX_SCALE:
        raise InvalidServings(
            f"scale must be a number from {MIN_SCALE:g} to {MAX_SCALE:g}, such as 2 or 0.5 "
            f"(got {value[:20]!r})."
        )
    return factor


def _units(given: list[str]) -> UnitSystem:
    if not given:
        return UnitSystem.ORIGINAL
    try:
        return UnitSystem(given[0].strip().lower())
    except ValueError:
        choices = ", ".join(s.value for s in UnitSystem)
        raise InvalidUnits(f"units must be one of: {choices} (got {given[0][:20]!r}).") from None
