"""Grams per millilitre of the ingredients whose amount may change dimension.

A cup of flour becomes grams in metric and 200 g of sugar becomes cups in US
only when the ingredient is here; anything else keeps its dimension (a cup of
chopped parsley stays a volume, 200 g of cheese a weight). Figures are grams per
US cup (236.6 ml) from the ingredient weight charts bakers use (King Arthur
Baking's, rounded), written per cup because that is how they are checked.

`weigh_in_metric`: metric cooks weigh it (flour, sugar) rather than measure it
(milk stays millilitres). `measure_in_us`: US cooks measure it in cups/spoons
(flour, sugar, milk, butter) rather than weigh it in ounces.
"""

from __future__ import annotations

import dataclasses
import functools
import re

CUP_ML = 236.588


@dataclasses.dataclass(frozen=True)
class Density:
    key: str
    grams_per_ml: float
    weigh_in_metric: bool
    measure_in_us: bool


def _d(key: str, grams_per_cup: float, weigh: bool = True, measure: bool = True) -> Density:
    return Density(key, grams_per_cup / CUP_ML, weigh, measure)


FLOUR = _d("flour", 120)
SUGAR = _d("sugar", 200)
BROWN_SUGAR = _d("brown sugar", 213)
POWDERED_SUGAR = _d("powdered sugar", 113)
BUTTER = _d("butter", 227)
MILK = _d("milk", 242, weigh=False)
WATER = _d("water", 237, weigh=False)
OIL = _d("oil", 218, weigh=False)
CREAM = _d("cream", 238, weigh=False)
RICE = _d("rice", 198)
OATS = _d("oats", 89)
COCOA = _d("cocoa", 84)
HONEY = _d("honey", 336, weigh=False)
SYRUP = _d("syrup", 312, weigh=False)
YOGURT = _d("yogurt", 245, weigh=False)
SOUR_CREAM = _d("sour cream", 230, weigh=False)
STARCH = _d("starch", 112)
SALT = _d("salt", 292)
BAKING_POWDER = _d("baking powder", 192)
BAKING_SODA = _d("baking soda", 288)
SEMOLINA = _d("semolina", 167)
BREADCRUMBS = _d("breadcrumbs", 112)
GROUND_NUTS = _d("ground nuts", 96)
PARMESAN = _d("grated parmesan", 100, measure=False)
STOCK = _d("stock", 240, weigh=False)
LENTILS = _d("lentils", 192)
QUINOA = _d("quinoa", 170)
COUSCOUS = _d("couscous", 173)
PEANUT_BUTTER = _d("peanut butter", 270)

# English: the name's last words (the head noun: "rice vinegar" is vinegar, "brown rice"
# is rice), longest first. German: the end of the compound ("Weizenmehl" is Mehl).
_ENGLISH: dict[str, Density] = {}
_GERMAN: dict[str, Density] = {}
for _density, _english, _german in (
    (FLOUR, "flour", "mehl"),
    (SUGAR, "sugar|caster sugar|granulated sugar|white sugar", "zucker|rohrzucker"),
    (BROWN_SUGAR, "brown sugar", "brauner zucker"),
    (POWDERED_SUGAR, "powdered sugar|icing sugar|confectioners sugar", "puderzucker"),
    (BUTTER, "butter", "butter"),
    (MILK, "milk|whole milk|buttermilk", "milch"),
    (WATER, "water", "wasser"),
    (OIL, "oil", "öl"),
    (CREAM, "cream|heavy cream|whipping cream|double cream|single cream", "sahne"),
    (RICE, "rice", "reis"),
    (OATS, "oats|rolled oats|oatmeal", "haferflocken"),
    (COCOA, "cocoa|cocoa powder", "kakao|kakaopulver"),
    (HONEY, "honey", "honig"),
    (SYRUP, "syrup|maple syrup", "sirup"),
    (YOGURT, "yogurt|yoghurt|greek yogurt", "joghurt|jogurt"),
    (SOUR_CREAM, "sour cream|creme fraiche|crème fraîche", "schmand|saure sahne|crème fraîche"),
    (STARCH, "cornstarch|cornflour|corn starch|potato starch", "stärke|speisestärke"),
    (SALT, "salt|table salt|sea salt", "salz"),
    (BAKING_POWDER, "baking powder", "backpulver"),
    (BAKING_SODA, "baking soda|bicarbonate of soda", "natron"),
    (SEMOLINA, "semolina", "grieß"),
    (BREADCRUMBS, "breadcrumbs|bread crumbs|panko", "semmelbrösel|paniermehl"),
    (
        GROUND_NUTS,
        "almond flour|ground almonds|ground hazelnuts",
        "gemahlene mandeln|gemahlene haselnüsse",
    ),
    (PARMESAN, "grated parmesan|parmesan", "parmesan|geriebener parmesan"),
    (STOCK, "stock|broth|chicken stock|vegetable stock|beef stock", "brühe|fond|gemüsebrühe"),
    (LENTILS, "lentils", "linsen"),
    (QUINOA, "quinoa", "quinoa"),
    (COUSCOUS, "couscous", "couscous"),
    (PEANUT_BUTTER, "peanut butter", "erdnussbutter"),
):
    for _name in _english.split("|"):
        _ENGLISH[_name] = _density
    for _name in _german.split("|"):
        _GERMAN[_name] = _density

_BRACKETS = re.compile(r"\([^)]*\)")
# "Weizenmehl Type 405", "Mehl Typ 550": the flour's grade, not part of its name.
_GRADE = re.compile(r"\b(?:type|typ)\s*\d+\b")
_WORDS = re.compile(r"[^\W\d_]+")
# English names that end like a table entry but are something else.
_NOT = {"butter beans", "coconut milk", "rice paper", "rice noodles", "flour tortillas"}
_LONGEST_ENGLISH = max(len(k.split()) for k in _ENGLISH)


@functools.lru_cache(maxsize=4096)  # pure, and asked for every ingredient
def density_of(name: str | None) -> Density | None:
    """The density for an ingredient name in English or German, or None."""
    if not name:
        return None
    text = _BRACKETS.sub(" ", name.lower()).split(",")[0].replace("-", " ")
    text = _GRADE.sub(" ", text)
    words = _WORDS.findall(text)
    if not words:
        return None
    for size in range(min(_LONGEST_ENGLISH, len(words)), 0, -1):
        tail = " ".join(words[-size:])
        if tail in _NOT:
            return None
        if tail in _ENGLISH:
            return _ENGLISH[tail]
    # German: a two-word name first ("saure Sahne"), then the compound's end.
    if len(words) >= 2 and (two := " ".join(words[-2:])) in _GERMAN:
        return _GERMAN[two]
    last = words[-1]
    for ending in sorted(_GERMAN, key=len, reverse=True):
        if " " not in ending and last.endswith(ending):
            return _GERMAN[ending]
    return None
