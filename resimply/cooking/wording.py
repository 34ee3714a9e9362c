"""Words around a scaled amount: unit labels and plurals, the rewritten ingredient
line, and the notes shown to the cook (English, or German for German recipes)."""

from __future__ import annotations

import re

from ..offline.quantities import match_amount
from ..offline.text import word_set
from ..offline.units import match_unit

# Labels of canonical measures when the unit had to change.
_ENGLISH_LABELS = {"floz": "fl oz", "cup": "cup", "pinch": "pinch", "pint": "pint"}
_ENGLISH_LABELS |= {"quart": "quart", "gallon": "gallon"}
_GERMAN_LABELS = {"tsp": "TL", "tbsp": "EL", "pinch": "Prise", "cup": "Cup", "floz": "fl oz"}

_PLURALS = dict(
    pair.split("/")
    for pair in word_set(
        """cup/cups teaspoon/teaspoons tablespoon/tablespoons pound/pounds ounce/ounces
    gram/grams kilogram/kilograms liter/liters litre/litres milliliter/milliliters
    millilitre/millilitres pint/pints quart/quarts gallon/gallons pinch/pinches dash/dashes
    can/cans tin/tins jar/jars clove/cloves slice/slices piece/pieces sprig/sprigs
    bunch/bunches handful/handfuls stick/sticks packet/packets package/packages bag/bags
    bottle/bottles stalk/stalks sheet/sheets head/heads fillet/fillets drop/drops
    splash/splashes prise/prisen dose/dosen zehe/zehen scheibe/scheiben packung/packungen
    tasse/tassen flasche/flaschen stange/stangen zweig/zweige knolle/knollen
    messerspitze/messerspitzen tüte/tüten glas/gläser schale/schalen blatt/blätter kopf/köpfe
    cup/cups"""
    )
)
_SINGULARS = {plural: singular for singular, plural in _PLURALS.items()}

NOTES = {
    "en": {
        "seasoning": "Seasoning: scaled ×{used} instead of ×{factor}; taste and add more if needed.",
        "rounded": "Rounded from {raw} to {new}.",
        "unmeasured": "No amount given: not scaled, use to taste.",
        "not_scaled": (
            "Pans and tins are not scaled: for a bigger batch use a bigger pan or two, "
            "and check the baking time."
        ),
        "converted": "Converted between weight and volume (1 cup ≈ {grams} g).",
        "recipe": (
            "Times, temperatures and pan sizes are not scaled; amounts in the steps are "
            "the original ones."
        ),
    },
    "de": {
        "seasoning": "Gewürz: ×{used} statt ×{factor} angepasst; abschmecken und bei Bedarf "
        "nachwürzen.",
        "rounded": "Von {raw} auf {new} gerundet.",
        "unmeasured": "Ohne Mengenangabe: nicht angepasst, nach Geschmack.",
        "not_scaled": (
            "Formen und Bleche werden nicht angepasst: für mehr Menge eine größere Form oder "
            "zwei nehmen und die Backzeit prüfen."
        ),
        "converted": "Zwischen Gewicht und Volumen umgerechnet (1 Cup ≈ {grams} g).",
        "recipe": (
            "Zeiten, Temperaturen und Backformen sind nicht angepasst; Mengen in den "
            "Arbeitsschritten sind die ursprünglichen."
        ),
    },
}


def note(key: str, language: str | None, **values: object) -> str:
    texts = NOTES["de" if language == "de" else "en"]
    return texts[key].format(**values)


def _same_case(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def unit_for(value: float, written: str) -> str:
    """`written` ("cup", "Dose") in the number that `value` needs ("2 cups", "½ cup")."""
    key = written.lower()
    if value > 1 + 1e-9 and key in _PLURALS:
        return _same_case(_PLURALS[key], written)
    if value <= 1 + 1e-9 and key in _SINGULARS:
        return _same_case(_SINGULARS[key], written)
    return written


def label(measure: str, value: float, *, german: bool) -> str:
    """The label of a canonical measure that replaced the written unit."""
    labels = _GERMAN_LABELS if german else _ENGLISH_LABELS
    return unit_for(value, labels.get(measure, measure))


# Nouns whose plural no rule below makes (singular → plural, both languages).
_IRREGULAR = {"leaf": "leaves", "loaf": "loaves", "half": "halves", "apfel": "äpfel"}
_IRREGULAR |= {"chili": "chilis", "champignon": "champignons", "avocado": "avocados"}
_IRREGULAR |= {"mango": "mangos", "kiwi": "kiwis", "limette": "limetten"}
_IRREGULAR_SINGULAR = {plural: singular for singular, plural in _IRREGULAR.items()}


def noun_for(value: float, old_value: float, noun: str, language: str | None) -> str:
    """A counted noun in the number `value` needs, when it crossed one ("1 egg" → "2 eggs")."""
    if (old_value > 1) == (value > 1):
        return noun
    irregular = _IRREGULAR if value > 1 else _IRREGULAR_SINGULAR
    if noun.lower() in irregular:
        return _same_case(irregular[noun.lower()], noun)
    if language == "de":
        return _german_plural(noun) if value > 1 else _german_singular(noun)
    return _english_plural(noun) if value > 1 else _english_singular(noun)


def _english_plural(word: str) -> str:
    lower = word.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")) or lower in ("tomato", "potato"):
        return word + "es"
    if lower.endswith("y") and lower[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ies"
    return word + "s"


def _english_singular(word: str) -> str:
    lower = word.lower()
    if lower.endswith("ies"):
        return word[:-3] + "y"
    if lower.endswith(("oes", "ches", "shes", "sses", "xes")):
        return word[:-2]
    if lower.endswith("s") and not lower.endswith("ss"):
        return word[:-1]
    return word


def _german_plural(word: str) -> str:
    lower = word.lower()
    if lower.endswith("ei") and not lower.endswith(("eiweiß",)):
        return word + "er"  # Ei → Eier
    if lower.endswith("e"):
        return word + "n"  # Zwiebel is not here: Zitrone → Zitronen
    if lower.endswith("el"):
        return word + "n"  # Zwiebel → Zwiebeln, Kartoffel → Kartoffeln
    return word


def _german_singular(word: str) -> str:
    lower = word.lower()
    if lower.endswith("eier"):
        return word[:-2]
    if lower.endswith(("chen", "lein")):
        return word  # Brötchen, Plätzchen: the same in both numbers
    if lower.endswith(("eln", "en")) and len(word) > 4:
        return word[:-1]  # Zwiebeln → Zwiebel, Zitronen → Zitrone
    return word


_ARTICLE = re.compile(r"(?i)(?:a|an|one|ein|eine|einen)\s+")
_NUMBER_START = re.compile(r"(?<![\w.,/])[\d½⅓⅔¼¾⅛⅜⅝⅞]")


def rewrite(
    text: str,
    amount: str,
    unit: str | None,
    *,
    written_unit: str | None,
    written_quantity: float | None,
    name: str | None,
    note_text: str | None,
) -> str:
    """The ingredient line with its amount (and unit) replaced: "1 tbsp oil" → "2 ¼ tsp oil".

    The rest of the line stays as written ("Juice of 1 lemon" → "Juice of 2 lemons").
    A line whose amount cannot be found is written anew from its parts.
    """
    head = f"{amount} {unit}" if unit else amount
    start, end = _amount_in(text, written_quantity)
    if end is None and (article := _ARTICLE.match(text)) and written_unit:
        # "a pinch of salt": the article is the amount
        start, end = 0, article.start()
        unit_match = match_unit(text, article.end())
        if unit_match is not None:
            return head + text[unit_match.end :]
        end = None
    if end is None:
        return _composed(head, name, note_text)
    prefix = text[:start]
    if written_unit:
        unit_match = match_unit(text, end)
        if unit_match is None and _same_unit(unit, written_unit):
            # "1 x 400 g can tomatoes": the unit is further on, and stays as it is.
            return prefix + amount + text[end:]
        if unit_match is None:
            return _composed(head, name, note_text)
        if unit and text[unit_match.end - 1] == "." and unit.lower() == written_unit.lower():
            head += "."  # "1 ½ Pck. Backpulver": the abbreviation keeps its dot
        if unit_match.modifier and unit:  # "1 heaped tbsp" keeps its "heaped"
            head = f"{amount} {unit_match.modifier} {unit}" + head[len(f"{amount} {unit}") :]
        return prefix + head + text[unit_match.end :]
    return prefix + head + text[end:]


def _amount_in(text: str, quantity: float | None) -> tuple[int, int | None]:
    """Where the line writes its amount: the first number that reads as `quantity`."""
    for number in _NUMBER_START.finditer(text):
        found = match_amount(text, number.start())
        if found is not None and (quantity is None or abs(found.quantity - quantity) < 1e-6):
            return number.start(), found.end
    return 0, None


def _composed(head: str, name: str | None, note_text: str | None) -> str:
    line = f"{head} {name}" if name else head
    return f"{line}, {note_text}" if note_text else line


def _same_unit(unit: str | None, written: str) -> bool:
    """ "cans" for "can", "Dose" for "Dosen": the written unit, in another number."""
    if unit is None:
        return False
    singular = unit.lower()
    return _SINGULARS.get(singular, singular) == _SINGULARS.get(written.lower(), written.lower())


_WORD = re.compile(r"[^\W\d_]+")


def counted_noun(
    text: str, amount: str, name: str, value: float, old: float, language: str | None
) -> str:
    """The line with its counted noun in the number `value` needs ("2 egg" → "2 eggs")."""
    words = _WORD.findall(name.lower())
    at = text.find(amount)
    if not words or at < 0:
        return text
    before, rest = text[: at + len(amount)], text[at + len(amount) :]
    # Only the words before a bracket or comma: "2 (14 oz) cans tomatoes" counts cans.
    words_end = min((i for i in (rest.find("("), rest.find(",")) if i >= 0), default=len(rest))
    for match in _WORD.finditer(rest[:words_end]):
        if match.group().lower() == words[-1]:
            noun = noun_for(value, old, match.group(), language)
            return before + rest[: match.start()] + noun + rest[match.end() :]
    return text
