"""Which language a recipe is written in, by counting common words (English / German).

The offline extractor cannot translate, so a recipe keeps the language of its
source and says which one that is. Short or mixed text gives None rather than
a guess.
"""

from __future__ import annotations

import re

from .text import word_set

_ENGLISH = word_set("""the and with for of to into until then add your you is it this that minutes
    cup cups tbsp tsp salt pepper cook bake mix stir serve ingredients steps method
    instructions directions chopped fresh oil sugar flour eggs water heat""")
_GERMAN = word_set("""und der die das mit für den dem ein eine zu bis dann auf von nicht ist im
    minuten zutaten zubereitung salz pfeffer el tl prise etwas oder noch wir ich du
    geben kochen backen mehl zucker eier wasser gehackt hinzufügen""")
_WORD = re.compile(r"[^\W\d_]+")
_UMLAUT = re.compile("[äöüß]")
_MIN_HITS = 3


def detect_language(*texts: str | None) -> str | None:
    """ "en" or "de" when the texts clearly read as one of them, else None."""
    english = german = 0
    for text in texts:
        for word in _WORD.findall((text or "").lower()):
            english += word in _ENGLISH
            german += word in _GERMAN
            # Umlauts and ß are strong German evidence even in unknown words.
            german += not word.isascii() and _UMLAUT.search(word) is not None
    if max(english, german) < _MIN_HITS:
        return None
    if english >= 2 * german:
        return "en"
    if german >= 2 * english:
        return "de"
    return None
