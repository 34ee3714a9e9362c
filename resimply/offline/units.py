"""Units of measure in English and German, recognised but kept as written.

API.md says the unit is "as written in the source language", so "EL" stays
"EL" and "Tbsp" stays "Tbsp": case can matter (in US recipes "T" and "t" are
tablespoon and teaspoon) and a client that wants to convert can normalise
itself. Only an abbreviation's final dot is dropped ("Pck." → "Pck"), because
it is punctuation and would make "Pck" and "Pck." two different units.
"""

from __future__ import annotations

import dataclasses
import re

from .text import word_set

_ENGLISH = """
g gr grs gram grams gramme grammes kg kgs kilo kilos kilogram kilograms mg
ml mls millilitre millilitres milliliter milliliters l ltr litre litres liter liters
dl cl tsp tsps teaspoon teaspoons tbsp tbsps tbs tb tbl tbls tablespoon tablespoons
cup cups oz ounce ounces lb lbs pound pounds pint pints quart quarts gallon gallons
pinch pinches dash dashes splash splashes drop drops clove cloves can cans tin tins
jar jars pack packs packet packets package packages pkg bag bags bottle bottles box boxes
slice slices stick sticks sprig sprigs bunch bunches handful handfuls piece pieces
sheet sheets head heads stalk stalks rib ribs cube cubes cm inch inches scoop scoops
fillet fillets knob knobs c pt pts rack racks loaf loaves punnet punnets glug glugs
spear spears recipe recipes batch batches t qt qts sachet sachets envelope envelopes
rasher rashers dessertspoon dessertspoons container containers wedge wedges ear ears
bulb bulbs strip strips link links pod pods pat pats square squares chunk chunks
slab slabs block blocks tspn tbspn tblsp tblspn gm gms ltrs shot shots jigger jiggers drizzle squeeze bowl bowls dsp tub tubs carton cartons dollop dollops mm
"""
_GERMAN = """
gramm kilogramm liter milliliter tl el teelöffel esslöffel essl teel prise prisen
zehe zehen becher dose dosen pck pkt päckchen packung packungen stück stk st bund bd
scheibe scheiben msp messerspitze messerspitzen tasse tassen glas gläser handvoll
spritzer schuss zweig zweige stiel stiele stange stangen kopf köpfe knolle knollen
würfel blatt blätter tropfen beutel tüte tüten flasche flaschen schale schalen
"""
UNITS = frozenset((_ENGLISH + _GERMAN).split())

# Units that stand without an amount ("pinch salt", "Prise Salz"): an amount of
# their own. "g salt" is a fragment, so measures are not here.
VAGUE_UNITS = word_set("""pinch pinches dash dashes splash splashes handful handfuls knob drop drops
    glug glugs tropfen
    prise prisen handvoll spritzer schuss msp messerspitze""")
# Measures: "g salt" without a number is a fragment, not "sprigs of thyme".
MEASURES = word_set("""g gr grs gram grams kg kgs mg ml mls l ltr dl cl oz lb lbs cm mm inch inches
    tsp tbsp tbs t c cup cups pint pints pt quart quarts qt gallon gallons""")
# Units that are packages: "2 x 400 g cans" is two cans of 400 g each.
CONTAINERS = word_set("""can cans tin tins jar jars pack packs packet packets package packages pkg
    bag bags bottle bottles box boxes becher dose dosen pck pkt päckchen packung packungen glas
    gläser beutel tüte tüten flasche flaschen schale schalen""")

# Words that qualify a unit ("1 heaped tbsp", "1 große Dose"): kept as the note.
MODIFIERS = word_set("""heaped heaping level rounded scant generous large small medium big
    lg sm md thin thick good
    gehäufter gehäufte gehäuftes gestrichener gestrichene gestrichenes geh gestr
    große großer großes kleine kleiner kleines""")

_WORD = re.compile(r"\s*-?\s*(?P<word>[^\W\d_]+)(?P<dot>\.)?(?=[\s,;:)(/\d]|[-–][\d½⅓⅔¼¾⅛]|$)")
# "1 thumb-sized piece ginger": a size written with a hyphen qualifies the unit.
_SIZED = re.compile(r"\s*([^\W\d_]+-sized?)\s+")
# "c" (cup) and "t"/"T" (teaspoon/tablespoon) need an ingredient after them.
_LETTER_UNIT_ENDS = re.compile(r"\s+(?:for|until|bis|für)\b", re.I)
_FLUID_OUNCE = re.compile(r"\s*(?P<word>fl\.?\s*oz)\.?(?=[\s,;:)(/]|$)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class UnitMatch:
    """A unit read from the start of a string: the unit as written, an optional
    qualifier such as "heaped", and where the match ended."""

    unit: str
    modifier: str | None
    end: int


def is_unit(word: str) -> bool:
    """True for a known unit word, in any case and with or without its final dot."""
    return word.rstrip(".").lower() in UNITS


def match_unit(text: str, pos: int = 0) -> UnitMatch | None:
    """Read a unit (optionally after a qualifier) at `text[pos:]`; None if there is none."""
    fluid = _FLUID_OUNCE.match(text, pos)
    if fluid:
        return UnitMatch(fluid.group("word"), None, fluid.end())
    if sized := _SIZED.match(text, pos):
        second = _WORD.match(text, sized.end())
        if second and second.group("word").lower() in UNITS:
            return UnitMatch(second.group("word"), sized.group(1), second.end())
        return None
    first = _WORD.match(text, pos)
    if not first:
        return None
    word = first.group("word")
    if word.lower() in ("c", "t") and _LETTER_UNIT_ENDS.match(text, first.end()):
        # "½ c milk" is a cup; "bake at 180 C for 20 minutes" is a temperature.
        return None
    if word.lower() in UNITS:
        return UnitMatch(word, None, first.end())
    if word.lower() in MODIFIERS:
        second = _WORD.match(text, first.end())
        if second and second.group("word").lower() in UNITS:
            return UnitMatch(second.group("word"), word, second.end())
    return None
