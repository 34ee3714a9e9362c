"""One ingredient line → quantity, unit, name and note.

"200g spaghetti"                    → 200 g "spaghetti"
"1½ tbsp olive oil, divided"        → 1.5 tbsp "olive oil" (note "divided")
"2-3 Knoblauchzehen (fein gehackt)" → 2..3 "Knoblauchzehen" (note "fein gehackt")
"a pinch of salt"                   → 1 pinch "salt"
"Mehl: 500 g"                       → 500 g "Mehl"
"2 x 400 g cans tomatoes"           → 2 cans "tomatoes" (note "400 g": a cook buys cans)
"2 x 400 g chickpeas"               → 800 g "chickpeas" (note "2 x 400 g")
"butter or oil"                     → "butter or oil" (an alternative is part of the name)
"200g/7oz shallots, diced"          → 200 g "shallots" (note "7oz; diced")
"2 tbsp finely chopped fresh herbs" → 2 tbsp "fresh herbs" (note "finely chopped")
"2 garlic cloves"                   → 2 cloves "garlic"
"4 firm, ripe peaches, halved"      → 4 "firm, ripe peaches" (note "halved")
"1 lb 4 oz pork belly"              → 1 lb "pork belly" (note "4 oz")
"¾ cup to 1 cup milk"               → 0.75..1 cup "milk"
"Leaves from 2 sprigs rosemary"     → 2 sprigs "rosemary" (note "Leaves")

The conventions are those of the labelled lines in tests/data/ingredients
(issue 13): the name is the ingredient as bought, without preparation, size,
purpose or brackets, and with its alternatives ("lamb or chicken stock").
"""

from __future__ import annotations

import re

from ..models import Ingredient
from .descriptors import is_descriptor_only, strip_descriptors
from .quantities import Amount, match_amount
from .text import clean_line, word_count, word_set
from .units import CONTAINERS, MEASURES, VAGUE_UNITS, UnitMatch, is_unit, match_unit

# "etwa" but not "etwas", which is a vague amount of its own.
_APPROXIMATELY = re.compile(
    r"(?:(?:ca|circa|approx|about|around|up to|etwa|ungefähr)(?!\w)\.?|~)\s*", re.I
)
_ARTICLE = re.compile(r"(?:an?|one|eine?[nmrs]?)\s+", re.I)
_ARTICLE_EN = re.compile(r"(?:an?)\s+(?!(?:few|couple|little|bit|lot|lots)\b)(?=\S)", re.I)
_MULTIPLIER = re.compile(r"\s*[x×](?=\s|\d|$)\s*", re.I)
# "etwas Öl", "some salt": a vague amount, kept as the note.
_VAGUE_AMOUNT = re.compile(r"(?P<vague>etwas|some|einige|several)\s+(?=\S)", re.I)
# "optional: 1 tsp chili flakes", "optional 1 Chili".
_LEADING_OPTIONAL = re.compile(r"(?P<optional>optional)\b[\s:,-]*(?=\S)", re.I)
_OF = re.compile(r"(?:of|von)\s+", re.I)
_PARENTHESES = re.compile(r"\s*\(([^()]*)\)")
# "to taste", "nach Belieben" and friends at the end of a line are a note.
# Purposes ("for dusting", "to garnish", "für die Form") and "plus extra …" run to the
# end of the line whatever follows them.
_TRAILING_NOTE = re.compile(
    r"(?:[\s,;—–]+|\.\s+|^)(?P<note>(?:(?:or )?to taste|(?:or )?as needed|optional|as required)$|"
    r"or (?:more|less|so)\b.*$|if (?:desired|using|needed|you like|available|possible|preferred)\b.*$|"
    r"(?:homemade|store[- ]bought)(?: or (?:homemade|store[- ]bought))?$|"
    r"\d+(?:[.,]\d+)?\s*(?:ml|g|cm)$|"
    r"(?:such as|like\s|that\s|(?:(?:and|or) )?(?:[a-z]+ed|beaten)(?: together)? (?:with|in)\s|"
    r"for\s(?![\d½¼¾])|per\s|"
    r"to (?:garnish|serve|finish|decorate|dust|season|grease|drizzle|sprinkle|brush|cover|"
    r"top|coat|thin|thicken|line)|(?<=[,;]\s)to\s[a-z]+|as (?:a )?(?:garnish|decoration|topping)|"
    r"cut\s|into\s|in\s+[\d½¼¾]\S*\s+(?:dice|pieces|cubes|chunks|slices)|"
    r"[\d½¼¾][\d½¼¾/.]*\s+(?:to\s+[\d½¼¾][\d½¼¾/.]*\s+)?(?:inch|inches|cm)\s+(?:long|wide|thick)|"
    r"plus\b|\+\s*extra\b|preferably\b|at room temperature|nach (?:Geschmack|Belieben|Bedarf)|"
    r"zum (?:Garnieren|Bestreuen|Servieren|Braten|Anbraten|Frittieren|Dekorieren|Bestäuben|"
    r"Einfetten)|für (?:die|das|den) (?:Form|Blech|Pfanne|Deko\w*))\b.*$)",
    re.I,
)
# "2 garlic cloves", "16 asparagus spears": the unit written after the ingredient.
# A "cinnamon stick" is the product itself, not a stick of cinnamon.
_UNIT_AFTER_NAME = re.compile(
    r"(?P<name>.+?)(?<!cinnamon)\s+(?P<unit>cloves?|spears?|stalks?|sprigs?|sticks?|bulbs?|"
    r"slices?)$",
    re.I,
)
# A comma starts a note when what follows describes the ingredient ("chopped",
# "fein gehackt", "to taste"); without an amount, "Salz, Pfeffer" is a list.
_NOTE_WORD = re.compile(
    r"\b(?:\w{2,}[^e\W]ed|ge\w{3,}(?:t|en)|divided|optional|taste|room temperature|"
    r"plus|more|extra|fresh|frisch|nach|zum|zur|für|in|into|cut|in Scheiben|klein)\b",
    re.I,
)
# A comma part that describes rather than names: it ends in a participle or an
# adverb ("peeled and chopped", "thinly sliced"), or holds a word of the note.
# A participle before a noun names the product ("clarified butter").
_PARTICIPLE_END = re.compile(
    r"(?:\w{2,}[^e\W]ed|frozen|beaten|broken|ground|\w+[^l]ly|\w+ally|ge\w{3,}(?:t|en)|"
    r"\bup|\bdry|\bthick|\bthin|\bfine|\bhalves|\bpieces)$",
    re.I,
)
_NOTE_PART = re.compile(
    r"(?<![\w-])(?:divided|optional|taste|room temperature|plus|more|extra|nach|zum|zur|für|in|into|"
    r"cut|klein|about|for|to|with|from|per|at|on|off|only|if|such|see|left|like|until|then|"
    r"but|again|preferably|including|parts?|lengthwise|lengthways|crosswise|crossways|"
    r"widthways|possible|zest|juice|peel|rind|skin|as|"
    r"under|over|before|after|while|without|by|clean|(?<!or )any|not|etwa|ca)(?![\w-])",
    re.I,
)
_MEASURE_UNIT = re.compile(r"\s*([^\W\d_]+)(?:(-)|\.?(?=[\s,;)]|$))")
# "wild (or button) mushrooms", "soy sauce (or tamari)": an alternative is named;
# "(or any other nut butter)", "(or a combination)", "(or more)" and "(or your
# favourite)" only comment, and so does a long one at the end of the line.
_BRACKETED_ALTERNATIVE = re.compile(
    r"\s*\(((?:or|oder)\s(?![^()]*\b(?:combination|mixture|more|less|both|your|similar|"
    r"substitute|use|mehr|weniger|any|other|another|something|the|an?|pinch|to)\b)"
    r"(?:[^()\d]*\)\s*(?=[^\W\d_])|(?:\s*[^\s()\d,]+){1,3}\)))\s*",
    re.I,
)
_INLINE_BRACKET = re.compile(
    r"(?<=[^\W\d_])\s*\(\s*([^\W\d_][\w-]*(?:\s+[\w-]+)?)\s*\)(?=\s+[^\W\d_])"
)
_PURPOSE_HEAD = re.compile(
    r"(?:for|to|zum|zur|für)\s.*|garnish|topping|decoration|optional|to serve|"
    r"(?:for )?serving|deko|dekoration|garnitur",
    re.I,
)
_COLON = re.compile(r"\s*:\s*(?=\S)")
_PART_OF = re.compile(
    r"(?P<part>(?:(?:finely )?grated )?(?:zest|juice|peel|rind|leaves|stems|seeds|flesh)"
    r"(?:\s+and\s+(?:(?:finely )?grated )?(?:zest|juice|peel|rind))?)\s+(?:(?:of|from)\s+)?",
    re.I,
)
_PLUS_AMOUNT = re.compile(
    r"(?P<plus>(?:plus|\+|and|und|minus|to)\s+[\d½⅓⅔¼¾⅛][\d\s/⁄.,½⅓⅔¼¾⅛]*\s*[^\W\d_]+\.?)\s+(?=\S)",
    re.I,
)
_LESS = re.compile(r"\s*[a-z]+less\s*")
_COMMA = re.compile(r"\s*[,;]\s*")
_LIST_END = re.compile(r"(?:and/or|or|and|oder|und)\s+\S", re.I)
_UNCLOSED = re.compile(r"\s*\(([^()]*)$")
# "… or 2 egg whites", "… and ¼ teaspoon pepper": a second amount starts a note.
_OTHER_AMOUNT = re.compile(r"\s+(?:or|and|oder|und)\s+(?=[\d½⅓⅔¼¾⅛])", re.I)
_LEADING_AMOUNT = re.compile(r"(?:ca\.?\s*|~\s*)?[\d½⅓⅔¼¾⅕⅛⅜⅝⅞]")


def _read_unit(text: str, pos: int) -> tuple[UnitMatch | None, int]:
    unit = match_unit(text, pos)
    return unit, unit.end if unit else pos


def _trailing_amount(text: str) -> tuple[str, Amount, UnitMatch | None] | None:
    """Split "Mehl 500 g" / "Eggs: 3" / "Eier 4" into name and amount, if the line ends in one.

    A bare trailing number needs a colon or dash, or a name of at most three
    words: "Eier 4" is a German list line, "Top 10 tips for 2024" is not.
    """
    for sep in re.finditer(r"\s*[:–—,-]\s*|\s+", text):
        start = sep.end()
        if start >= len(text) or not _LEADING_AMOUNT.match(text, start):
            continue
        name = text[: sep.start()].strip()
        approx = _APPROXIMATELY.match(text, start)
        amount = match_amount(text, approx.end() if approx else start)
        if not name or amount is None:
            continue
        unit, end = _read_unit(text, amount.end)
        # "Powdered sugar 1/4 cup (30 grams)": a bracket after it stays for the note.
        bracket = re.fullmatch(r"\s*(\([^()]*\))\s*\.?", text[end:]) if unit else None
        if (text[end:].strip(" .") and not bracket) or not (
            unit or sep.group().strip() or word_count(name) <= 3
        ):
            continue
        if bracket:
            name = f"{name} {bracket.group(1)}"
        if unit is None and (lead := match_unit(name)) and name[lead.end :].strip():
            # "Dose Tomaten 1": the unit leads, the count trails.
            return name[lead.end :].strip(), amount, lead
        return name, amount, unit
    return None


def _split_note(
    rest: str, has_amount: bool, packaged: bool = False, listing: bool = False
) -> tuple[str, str | None]:
    # "dried shiitake (or Chinese black) mushrooms": an alternative in brackets is named.
    rest = _BRACKETED_ALTERNATIVE.sub(lambda m: f" {m.group(1).rstrip(') ')} ", rest)
    # "heavy (whipping) cream", "Roma (Italian) tomatoes": a word or two in brackets
    # between the name's words is part of the name.
    rest = _INLINE_BRACKET.sub(
        lambda m: (
            m.group(0)
            if _is_note_part(m.group(1)) or any(c.isnumeric() for c in m.group(1))
            else f" {m.group(1).strip()}"
        ),
        rest,
    )
    notes = [n.strip() for n in _PARENTHESES.findall(rest) if n.strip()]
    rest = _PARENTHESES.sub("", rest).strip()
    if (colon := _COLON.search(rest)) and colon.start() > 0:
        if _PURPOSE_HEAD.fullmatch(rest[: colon.start()].strip()):
            # "Garnish: parsley sprigs", "For the sauce: 1 onion": the head is the purpose.
            notes.append(rest[: colon.start()].strip())
            rest = rest[colon.end() :]
        else:
            # "2 pounds mixed ground meats: beef, veal, lamb": what follows a colon explains.
            notes.append(rest[colon.end() :].strip())
            rest = rest[: colon.start()]
    if unclosed := _UNCLOSED.search(rest):
        # "Danish Dough (recipe follows": a bracket cut off by the source.
        notes.append(unclosed.group(1).strip())
        rest = rest[: unclosed.start()]
    at = 0
    while second := _second_measure(rest):
        # "200 g / 7 oz spaghetti": the second measure is a note, like "(7 oz)";
        # "227 g/8 oz/1 cup buttermilk": so is a third.
        measure, end = second
        notes.insert(at, measure)
        at += 1
        rest = rest[end:]
    if has_amount and (each := _EACH.match(rest.lstrip())):
        # "50ml/2fl oz each light and dark soy sauce", "1 each red and green pepper"
        notes.append("each")
        rest, listing = rest.lstrip()[each.end() :], True
    if has_amount and (package := _package_after_measure(rest)):
        # "400 g can condensed milk", "3-inch knob ginger": the measure is the amount.
        notes.append(package.unit)
        rest = rest[package.end :]
        packaged = packaged or package.unit.rstrip(".").lower() in CONTAINERS
    trailing_notes: list[str] = []
    # "…, homemade or store-bought, for finishing": notes can follow one another.
    while (trailing := _TRAILING_NOTE.search(rest)) and trailing.start() > 0:
        trailing_notes.insert(0, trailing.group("note"))
        rest = rest[: trailing.start()]
    notes.extend(trailing_notes)
    if has_amount and (other := _OTHER_AMOUNT.search(rest)) and other.start() > 0:
        # "1 egg or 2 egg whites", "1 tbsp salt and ¼ tsp pepper": one amount per line.
        notes.append(rest[other.start() :].strip())
        rest = rest[: other.start()]
    name, comma, after = _cut(rest)
    if comma and not name.strip(" -") and after.strip():
        # "1 lb 1 oz, rainbow chard": a separator right after the amount.
        name, comma, after = _cut(after)
    while comma and is_descriptor_only(name) and after.strip():
        # "6 large, ripe tomatoes, halved", "toasted, peeled, and crushed hazelnuts":
        # the size or preparation is a note, the name follows.
        notes.append(name.strip())
        name, comma, after = _cut(after)
        if (link := re.match(r"(?:and|or|und|oder)\s+", name)) and is_descriptor_only(
            name[link.end() :].split()[0] if name[link.end() :].split() else ""
        ):
            name = name[link.end() :]
    if comma and has_amount and _adjective_before(name, after):
        # "4 firm, ripe peaches", "8 skin-on, bone-in chicken thighs": adjectives in a row.
        part, comma2, after = _cut(after)
        bare, described = strip_descriptors(part)
        if described:
            # "fresh, minced basil": the preparation after the comma is the note.
            notes.append(described)
            name, comma = f"{name} {bare}", comma2
        else:
            name, comma = name + comma + part, comma2
    if comma and (alternative := _ALTERNATIVE.match(after)):
        # "3 tbsp olive oil, or rapeseed oil": the alternative belongs to the name.
        part, comma2, after = _cut(after)
        if not _is_note_part(part[alternative.end() :]):
            name, comma = name + ", " + part, comma2
        else:
            after = part + comma2 + after
    if comma and (listing or _joins(name, after)):
        # "potato starch, tapioca starch, or cornstarch", "skinless, boneless breast".
        name, comma, after = _cut_after_list(name + comma + after)
    if comma and after.strip() and (has_amount or _NOTE_WORD.search(after)):
        notes.append(after.strip())
        rest = name.strip()
    elif comma and not after.strip():
        rest = name
    else:
        rest = name + comma + after
    name, described = strip_descriptors(rest.strip(" ,;:-"), packaged=packaged)
    if described:
        notes.insert(0, described)
    return name.strip(" ,;:-"), "; ".join(notes) or None


def _cut(text: str) -> tuple[str, str, str]:
    """`text` split at its first comma or semicolon: (before, separator, after)."""
    comma = _COMMA.search(text)
    if comma is None:
        return text, "", ""
    return text[: comma.start()], comma.group(), text[comma.end() :]


_ALTERNATIVE = re.compile(
    r"or\s+(?![\d½⅓⅔¼¾⅛])(?!(?:enough|so|until|as|to|use|both|"
    r"an?\s+(?:combination|mixture|mix|blend))\b)(?=\S)",
    re.I,
)
# Units that start a line as a count of what follows ("sprigs fresh chives",
# "bunch watercress"): none of them begins an ingredient's name.
_BARE_COUNTS = frozenset({"bunch", "bunches", "sprig", "sprigs", "sheets", "handful"})
_UNIT_OR = re.compile(
    r"or\s+(?:(?P<more>more|less|two|three|so)|(?P<unit>[^\W\d_]+))\s+(?=\S)", re.I
)
# Without an amount only these read as a unit after the name ("Garlic cloves");
# "Jicama sticks", "lemon slices" name a cut of their own.
_BARE_AFTER = frozenset({"clove", "sprig", "stalk", "bulb"})
_EACH = re.compile(r"each\s+(?:of\s+)?(?=\S)", re.I)
_ONE_WORD = re.compile(r"[^\W\d_A-ZÄÖÜ][\w-]*")
_LIST_INSIDE = re.compile(r"\s(?:and/or|or|and|oder|und)\s+\S", re.I)


def _is_note_part(part: str) -> bool:
    part = part.strip()
    return (
        not part
        or bool(_PARTICIPLE_END.search(part) or _NOTE_PART.search(part))
        or bool(re.search(r"\d|\b(?:and|or|und|oder)$", part))
        or is_descriptor_only(part)
    )


def _adjective_before(name: str, after: str) -> bool:
    """True for "firm, ripe peaches": one word before the comma, and a noun phrase
    of two words or more after it ("ripe peaches", not "halved" or "cut in half")."""
    part = _cut(after)[0].strip()
    return (
        # lower case: a German noun before the comma is the name ("Kartoffeln, mehlig")
        bool(re.fullmatch(r"[^\W\d_A-ZÄÖÜ][\w-]*", strip_descriptors(name.strip())[0]))
        and 2 <= len(part.split()) <= 6
        and not _is_note_part(part)
        and not _LIST_INSIDE.search(part)
        and not _LIST_END.match(part)
    )


def _joins(name: str, after: str) -> bool:
    """True when the comma is inside the name: a list ending in "or"/"and"
    ("potato starch, tapioca starch, or cornstarch"),
    or a "-less" adjective before another ("skinless, boneless chicken")."""
    segments = [name, *_COMMA.split(after)]
    for i, segment in enumerate(segments[1:], start=1):
        if _is_note_part(segment):
            break
        if _LIST_END.match(segment.strip()):
            return i >= 2
        if (
            i == 1
            and re.fullmatch(r"[^\W\d_][\w-]*", name.strip())
            and re.search(r"\sor\s", segment)
        ):
            # "manila, littleneck or butter clams", "lard, dripping or vegetable oil"
            return True
    last = name.split()[-1] if name.split() else ""
    return bool(_LESS.fullmatch(last)) and not _NOTE_WORD.search(segments[1])


def _cut_after_list(text: str) -> tuple[str, str, str]:
    """`text` cut before its first comma part that is a note, if any."""
    segments = _COMMA.split(text)
    for i, segment in enumerate(segments[1:], start=1):
        if _is_note_part(segment):
            return ", ".join(segments[:i]), ", ", ", ".join(segments[i:])
    return text, "", ""


def _second_measure(rest: str) -> tuple[str, int] | None:
    """`("7oz", end)` for "/7oz shallots" or "/ 7 oz shallots": the measure after a
    slash, with its parts ("/2lb 4oz") and range ("/12oz-1lb")."""
    slash = re.match(r"/\s*", rest)
    if not slash:
        return None
    end = slash.end()
    while (amount := match_amount(rest, end)) is not None:
        unit = match_unit(rest, amount.end) or _unit_before_range(rest, amount.end)
        if unit is None:
            if end == slash.end():
                end = amount.end
            break
        end = unit.end
        if not (link := re.match(r"\s*-?\s*(?=[\d½⅓⅔¼¾⅛])", rest[end:])):
            break
        end += link.end()
    if end == slash.end():
        return None
    return rest[slash.end() : end].strip(" -"), end


def _unit_before_range(text: str, pos: int) -> UnitMatch | None:
    """A unit in a second measure that `match_unit` leaves alone: "in" for inch
    ("/1in"), or a unit before a range's dash ("/12oz-1lb")."""
    m = _MEASURE_UNIT.match(text, pos)
    if not m or not (m.group(1).lower() == "in" or (m.group(2) and is_unit(m.group(1)))):
        return None
    return UnitMatch(m.group(1), None, m.end(1))


def _package_after_measure(rest: str) -> UnitMatch | None:
    """The package or piece after a measure ("can" in "400 g can condensed milk",
    "knob" in "3-inch knob ginger", "piece" in "2cm/1in piece ginger")."""
    unit = match_unit(rest)
    if unit is None or not re.match(r"\s*[^\W\d_]", rest[unit.end :]):
        return None  # "¼ tsp cloves, broken up": nothing follows, so it is the name
    if of := _OF.match(rest, unit.end + len(rest[unit.end :]) - len(rest[unit.end :].lstrip())):
        # "2cm/¾in piece of root ginger"
        return UnitMatch(unit.unit, unit.modifier, of.end())
    return unit


def _multiplied(
    text: str, count: Amount, pos: int
) -> tuple[Amount, UnitMatch | None, str, int] | None:
    """ "2 x 400 g cans …" read after the "x" at `pos`: (amount, unit, note, end) or None.

    A cook shopping for "2 x 400 g cans" buys two cans, so a container after the
    size makes the count the quantity and the size the note. Without one
    ("2 x 400 g chickpeas"), the total is what goes in the pot: 800 g, with the
    written form kept as the note.
    """
    size = match_amount(text, pos)
    if size is None:
        return None
    size_unit = match_unit(text, size.end)
    if size_unit is None:
        return None
    after = size_unit.end
    if second := _second_measure(text[after:]):
        # "1 x 400g/14oz tin": the second measure is part of the size.
        after += second[1]
    container = match_unit(text, after)
    if container and container.unit.rstrip(".").lower() in CONTAINERS:
        return count, container, text[pos:after].strip(), container.end
    total = Amount(round(count.quantity * size.quantity, 3), None, size_unit.end)
    return total, size_unit, text[: size_unit.end].strip(), size_unit.end


def parse_ingredient(line: str, group: str | None = None) -> Ingredient:
    """Split one ingredient line into quantity, unit, name and note.

    `text` is the line without bullets and emoji. What cannot be read stays
    None: a line without an amount ("Salt and pepper") has only a name.
    """
    text = clean_line(line)
    lead_notes: list[str] = []
    pos = 0
    if optional := _LEADING_OPTIONAL.match(text):
        lead_notes.append("optional")
        pos = optional.end()
    if (part := _PART_OF.match(text, pos)) and match_amount(text, part.end()) is not None:
        # "zest and juice of 1 lime": the lime is bought, the part is what is used.
        lead_notes.append(part.group("part"))
        pos = part.end()
    pos = m.end() if (m := _APPROXIMATELY.match(text, pos)) else pos
    if size := _LEADING_SIZE.match(text, pos):
        # "Scant 1 tablespoon sugar", "Heaping ¼ cup olives": the size of the measure.
        lead_notes.append(size.group("size"))
        pos = size.end()
    amount = match_amount(text, pos)
    unit: UnitMatch | None = None
    if amount is not None:
        multiplier = _MULTIPLIER.match(text, amount.end)
        end = multiplier.end() if multiplier else amount.end
        if multiplier and (multiplied := _multiplied(text, amount, end)):
            amount, unit, measure, end = multiplied
            lead_notes.append(measure)
        else:
            unit, end = _read_unit(text, end)
            if unit and amount.quantity_max is None and (span := _unit_range(text, unit, end)):
                # "¼pint-½pint milk", "¾ cup to 1 cup milk": a range written with its unit twice.
                amount, end = Amount(amount.quantity, span[0], amount.end), span[1]
            if unit and (part_end := _second_part(text, unit, end)):
                # "1 lb 10 oz salmon": the measure's second part is a note.
                lead_notes.append(text[end:part_end].strip())
                end = part_end
            if unit is None and (other := _size_alternative(text, end)):
                # "2 medium or 1 large leek": the second count and size are a note.
                lead_notes.append(text[end:other].strip())
                end = other
        rest = text[end:]
    elif vague := _VAGUE_AMOUNT.match(text, pos):
        lead_notes.append(vague.group("vague"))
        # "einige Tropfen Zitronensaft", "several sprigs thyme": a unit without a number.
        unit, end = _read_unit(text, vague.end())
        rest = text[end:]
    else:
        text_from = text[pos:]
        article = _ARTICLE.match(text_from)
        unit = match_unit(text_from, article.end()) if article else None
        bare = None if article else match_unit(text_from)
        if article and unit:
            # "a pinch of salt", "eine Prise Salz": the article counts one unit.
            amount = Amount(1.0, None, article.end())
            rest = text_from[unit.end :]
        elif trailing := _trailing_amount(text_from):
            rest, amount, unit = trailing
        elif (
            bare
            and text_from[bare.end :].strip()
            and (
                bare.unit.lower() in VAGUE_UNITS
                or (
                    bare.unit.lower() not in MEASURES
                    and (
                        bare.modifier
                        or _OF.match(text_from[bare.end :].strip())
                        or bare.unit.lower() in _BARE_COUNTS
                    )
                )
            )
        ):
            # "pinch salt", "Prise Salz", "sprigs of thyme": a unit with no amount.
            unit, rest = bare, text_from[bare.end :]
        else:
            rest = text_from[article.end() :] if article and not _vague(text_from) else text_from
    if unit and unit.modifier:
        lead_notes.insert(0, unit.modifier)
    rest = rest.strip()
    if unit and (of := _OF.match(rest)):
        rest = rest[of.end() :]
    if (amount is not None or unit is not None) and (article := _ARTICLE_EN.match(rest)):
        # "½ an onion", "pinch of a stock cube": the article is no part of the name.
        rest = rest[article.end() :]
    if unit and (plus := _PLUS_AMOUNT.match(rest)):
        # "1 cup plus 2 tbsp flour": the sum's second part is kept as the note.
        lead_notes.append(plus.group("plus"))
        rest = rest[plus.end() :]
    if (
        unit
        and (alt := _UNIT_OR.match(rest))
        and (alt.group("more") or match_unit(alt.group("unit") or ""))
    ):
        # "5 dashes or more of bitters", "1 bottle or can (12 oz) soda".
        lead_notes.append(alt.group(0).strip())
        rest = rest[alt.end() :]
        if of := _OF.match(rest):
            rest = rest[of.end() :]
    listing = False
    if unit and (each := _EACH.match(rest)):
        # "1 tsp each ground cinnamon, ginger and nutmeg": the list is the name.
        lead_notes.append("each")
        rest, listing = rest[each.end() :], True
    packaged = unit is not None and unit.unit.rstrip(".").lower() in CONTAINERS
    name, note = _split_note(rest, amount is not None or unit is not None, packaged, listing)
    if not name and unit and amount is not None and unit.unit.rstrip(".").lower() not in MEASURES:
        # "4 cloves", "2 sprigs": nothing follows the unit, so it names what is counted.
        name, unit = unit.unit, None
    if (
        unit is None
        and (after := _UNIT_AFTER_NAME.fullmatch(name))
        and (amount is not None or after.group("unit").lower().rstrip("s") in _BARE_AFTER)
        and not re.search(r"\s(?:or|and|oder|und)$", after.group("name"))
    ):
        # "4 garlic cloves", "Fresh mint sprigs": the unit after the name.
        name, unit = after.group("name"), UnitMatch(after.group("unit"), None, 0)
    note = "; ".join([*lead_notes, note] if note else lead_notes) or None
    return Ingredient(
        text=text,
        name=name or None,
        quantity=amount.quantity if amount else None,
        quantity_max=amount.quantity_max if amount else None,
        unit=unit.unit.rstrip(".") if unit else None,
        note=note,
        group=group,
    )


_LEADING_SIZE = re.compile(
    r"(?:an?\s+)?(?P<size>scant|heaping|heaped|generous|rounded|level|good)\s+(?=[\d½⅓⅔¼¾⅛])",
    re.I,
)
_SIZE_OR = re.compile(r"\s*(?P<size>[\w-]+)\s+(?:or|oder)\s+(?=[\d½⅓⅔¼¾⅛])", re.I)


_WEIGHTS_AND_VOLUMES = MEASURES | word_set("""pound pounds ounce ounces gram kilogram kilograms
    litre litres liter liters millilitre millilitres milliliter milliliters tablespoon tablespoons
    teaspoon teaspoons""")


_RANGE_LINK = re.compile(r"\s*(?:-|–|to|bis)\s*(?=[\d½⅓⅔¼¾⅛])", re.I)


def _same_unit(a: str, b: str) -> bool:
    def form(u: str) -> str:
        u = u.rstrip(".").lower()
        return {"c": "cup"}.get(u, u.rstrip("s"))

    return form(a) == form(b)


def _unit_range(text: str, unit: UnitMatch, pos: int) -> tuple[float, int] | None:
    """(high end, where it stops) for "-½pint" / " to 1 cup" after "¼pint", or None."""
    link = _RANGE_LINK.match(text, pos)
    high = match_amount(text, link.end()) if link else None
    again = match_unit(text, high.end) if high else None
    if high is None or again is None or not _same_unit(unit.unit, again.unit):
        return None
    return high.quantity, again.end


def _second_part(text: str, unit: UnitMatch, pos: int) -> int | None:
    """Where "10 oz" ends in "1 lb 10 oz salmon", when a measure follows a measure."""
    if unit.unit.rstrip(".").lower() not in _WEIGHTS_AND_VOLUMES:
        return None
    gap = re.match(r"\s*", text[pos:])
    second = match_amount(text, pos + gap.end()) if gap else None
    part = match_unit(text, second.end) if second else None
    if part is None or part.unit.rstrip(".").lower() not in _WEIGHTS_AND_VOLUMES:
        return None
    return part.end


def _size_alternative(text: str, pos: int) -> int | None:
    """Where "medium or 1 large" ends in "2 medium or 1 large leek", or None."""
    m = _SIZE_OR.match(text, pos)
    if not m or not is_descriptor_only(m.group("size")):
        return None
    second = match_amount(text, m.end())
    if second is None:
        return None
    size = re.match(r"\s*([\w-]+)", text[second.end :])
    if size and is_descriptor_only(size.group(1)) and text[second.end + size.end() :].strip():
        return second.end + size.end()
    return second.end


def _vague(text: str) -> bool:
    # "a little oil", "ein paar Tomaten": the article is part of the name.
    return bool(
        re.match(r"\S+\s+(?:few|couple|little|bit|lot|lots|paar|wenig|bisschen)\b", text, re.I)
    )


def is_note(text: str) -> bool:
    """True when a fragment describes an ingredient ("finely chopped", "gerieben")
    rather than naming one."""
    return bool(_NOTE_WORD.search(text)) and not _LEADING_AMOUNT.match(text.strip())


def has_amount(line: str) -> bool:
    """True when the line starts with an amount ("2 eggs", "½ tsp", "ca. 200 g")."""
    text = clean_line(line)
    return bool(_LEADING_AMOUNT.match(text))


def looks_like_ingredient(line: str, *, max_words: int = 10) -> bool:
    """A short line that reads as an ingredient with an amount or a unit.

    Used where no "Ingredients" heading says so; a sentence ("3 days until
    vacation!") is turned away by its length or its final '!' / '?'.
    """
    text = clean_line(line)
    if not text or text.endswith(("!", "?")) or word_count(text) > max_words:
        return False
    ingredient = parse_ingredient(text)
    return ingredient.name is not None and (
        ingredient.unit is not None or (ingredient.quantity is not None and word_count(text) <= 6)
    )
