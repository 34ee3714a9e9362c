"""What an ingredient is, as far as scaling is concerned: a seasoning, a pan, or food.

Seasonings (salt, pepper, chili, spices) are scaled less than the rest: a double
batch rarely needs double the salt, and too much cannot be taken out. Pans and
tins are listed as ingredients in some recipes ("1 springform pan (26 cm)"):
their number and size do not follow the servings.
"""

from __future__ import annotations

import functools
import re

from ..offline.text import word_set

_WORDS = re.compile(r"[^\W\d_]+")

# English words that make a name a seasoning when the name ends in one of them or
# in a word of _SEASONING_HEADS ("chili flakes", "ground cumin", "salt and pepper").
_SEASONINGS = word_set("""salt pepper peppercorns chili chilli chile chilies chillies chiles
    cayenne cumin cinnamon nutmeg turmeric curry masala allspice cardamom cloves spice spices
    seasoning sriracha tabasco harissa wasabi saffron jalapeño jalapeno jalapeños jalapenos
    sambal gochugaru""")
_SEASONING_HEADS = word_set("flakes powder seeds sauce paste mix blend")
# "baking powder", "cocoa powder": powders that are not seasonings (they scale linearly).
_NOT_SEASONING = word_set("""baking cocoa custard protein milk bell sweet stuffed roasted
    jack mint peppermint""")
# German: parts of compounds ("Cayennepfeffer", "Chiliflocken", "Meersalz").
_GERMAN_STEMS = tuple(
    word_set(
        "salz pfeffer chili zimt muskat kurkuma curry gewürz nelke piment kardamom cayenne "
        "kümmel sambal harissa safran paprikapulver koriander"
    )
)
_GERMAN_NOT = ("pfefferminz", "paprikaschote", "salzkartoffel", "salzbrezel", "salzstange")
# "2 Paprika" are bell peppers; "1 TL Paprika" is the spice.
_SPICE_MEASURES = frozenset({"tsp", "tbsp", "pinch", "prise", "msp", "dash", "g", "mg"})

_EQUIPMENT = word_set("""pan pans tin tins springform dish skillet tray sheet mould mold ramekin
    ramekins form backform springform auflaufform kastenform tarteform blech backblech
    muffinform gugelhupfform pfanne topf""")


def words_of(name: str) -> list[str]:
    return _WORDS.findall(name.lower())


@functools.lru_cache(maxsize=4096)  # pure, and asked for every ingredient
def is_seasoning(name: str | None, measure: str | None = None, language: str | None = None) -> bool:
    """True for salt, pepper, chili and spices, in English or German.

    `measure` is the canonical unit or the lowercased unit word, if any.
    """
    if not name:
        return False
    words = words_of(name)
    if not words or any(w in _NOT_SEASONING for w in words):
        return False
    if words[-1] == "cloves" and "garlic" in words:
        return False
    if "paprika" in words:
        # English paprika is the spice; German "Paprika" is the vegetable unless measured
        # in spoons or pinches.
        return language != "de" or measure in _SPICE_MEASURES
    if words[-1] in _SEASONINGS or (
        words[-1] in _SEASONING_HEADS and any(w in _SEASONINGS for w in words[:-1])
    ):
        return True
    if words[-1] in ("peppers",) or "bell" in words:
        return False
    for word in words:
        if any(word.startswith(n) for n in _GERMAN_NOT):
            continue
        if any(stem in word for stem in _GERMAN_STEMS):
            return True
    return False


@functools.lru_cache(maxsize=4096)  # pure, and asked for every ingredient
def is_equipment(name: str | None) -> bool:
    """A pan, tin or dish listed with the ingredients ("1 springform pan", "1 Auflaufform")."""
    if not name:
        return False
    words = words_of(name)
    return bool(words) and (
        words[-1] in _EQUIPMENT or any(words[-1].endswith(e) for e in ("form", "blech"))
    )
