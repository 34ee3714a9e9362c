"""Words that describe an ingredient rather than name it: preparation and size.

"2 tbsp finely chopped fresh herbs" names "fresh herbs"; "finely chopped" is how
to prepare them, and "1 small cauliflower" names "cauliflower" at size "small".
The labelled lines of issue 13 (tests/data/ingredients) follow this rule, and so
do shopping lists: "fresh" or "ground" name a product ("ground cinnamon"),
"chopped" or "small" do not. The words moved out of the name are kept as the note.
"""

from __future__ import annotations

import re

from .text import word_set

# Participles of preparation in English; "ground", "dried", "smoked", "roasted",
# "pitted", "blanched" and "flaked" are left out because they usually name the
# product ("pitted dates", "blanched almonds": so the labelled lines say).
_PREPARATION = word_set("""chopped sliced peeled grated minced diced cooked seeded removed crushed
    packed halved shredded squeezed crumbled trimmed cored washed drained toasted cubed quartered
    soaked beaten melted softened cooled chilled shaved cracked shelled stemmed deseeded
    julienned hulled warmed slivered snipped skinned boned deboned filleted cleaned
    thawed defrosted puréed pureed strained juiced spiralized segmented stoned destoned deveined
    butterflied pounded flattened whisked heated steamed poached sieved husked shucked picked
    divided wilted separated torn zested cut rinsed scrubbed sifted
    iced uncooked popped scalded hard-boiled hard-cooked lukewarm mashed unsifted
    additional""")
# Prepared products that shops sell under that name (the labelled lines keep them).
_PRODUCT = re.compile(r"(?:shredded|desiccated)\s+coconut|(?:crushed|diced|chopped)\s+tomato", re.I)
_PRODUCT_PARTICIPLES = frozenset({"pitted", "blanched", "flaked"})
# Adverbs of preparation: "freshly ground" is preparation though "ground" alone is not.
_ADVERBS = word_set("""finely freshly thinly roughly coarsely lightly thickly loosely firmly
    tightly evenly gently very well
    frisch fein grob""")
_GERMAN_ADVERBS = frozenset({"frisch", "fein", "grob"})
_AFTER_ADVERB = word_set("""ground gehackt gehackte gehackter gehacktes gemahlen gemahlene
    gemahlener geriebene geriebener gerieben""")
_SIZES = word_set("""small large medium big jumbo lg sm md medium-sized large-sized small-sized
    extra-large bite-sized große großer großes groß kleine kleiner kleines klein mittelgroße
    mittelgroßer mittelgroßes mittelgroß""")

# "finely-chopped", "freshly-ground", "fresh-squeezed", "coarse-ground":
# an adverb and its participle written as one word.
_HYPHENATED = re.compile(r"(?:[a-z]+ly|fresh|coarse|fine)-(?:[a-z]+(?:ed|en)|ground)")
# "extra-large", "medium-large", "smallish".
_SIZE_PAIR = re.compile(
    r"(?:extra|very|medium|small|large)[- ](?:large|small|big)|smallish|largish"
)
_SECOND_SIZE = re.compile(
    r"(\s*(?!(?:other|an?|the|extra|very)\s)[^\W\d_][\w-]*\s+)"
    r"(small|large|medium|big|tiny|jumbo)\s+(?=[^\W\d_][\w-]*\s*\S)",
    re.I,
)
_CUT_BEFORE = re.compile(r"(?P<cut>chiffonade|julienne|brunoise)\s+of\s+(?=\S)", re.I)
_CUT_AFTER = re.compile(
    r"(?<=\S)\s+(?P<cut>chiffonade|julienne|(?:(?:finely|thinly|roughly|thick|thin)\s+)?"
    r"(?P<participle>[a-z]+)(?:\s+and\s+[a-z]+ed)?)$",
    re.I,
)
_WORD = re.compile(r"([^\s,]+)(,?)\s*")
_CONNECTORS = frozenset({"or", "and", "oder", "und"})


def _descriptor(word: str, previous: str | None, preparation: bool) -> bool:
    lower = word.lower()
    if lower in _SIZES or lower.endswith(("-size", "-sized")) or _SIZE_PAIR.fullmatch(lower):
        return True
    if not preparation:
        return False
    if lower in _PREPARATION or _HYPHENATED.fullmatch(lower):
        return True
    if previous is None or previous.lower() not in _ADVERBS:
        return False
    # "fein geschnittene", "grob gemahlener": a German participle after its adverb.
    return lower in _AFTER_ADVERB or (
        previous.lower() in _GERMAN_ADVERBS and lower.startswith("ge") and len(lower) > 5
    )


def _leading(text: str, preparation: bool = True) -> tuple[list[str], int]:
    """The descriptor words at the start of `text` and where the rest begins.

    An adverb counts only before a descriptor ("finely chopped", but "lightly
    sweetened cream" keeps its name), and "minced or grated" is one description.
    """
    words: list[str] = []
    pos = 0
    previous: str | None = None
    while m := _WORD.match(text, pos):
        word = m.group(1)
        size = _WORD.match(text, m.end()) if word.lower() == "extra" else None
        if size and size.group(1).lower() in _SIZES:
            # "extra large eggs"
            words.append(f"{word} {size.group(1)}")
            previous, pos = size.group(1), size.end()
            continue
        if preparation and word.lower() in _ADVERBS:
            after = _WORD.match(text, m.end())
            if not after or not (
                _descriptor(after.group(1), word, preparation)
                or (after.group(1).lower() in _ADVERBS and _leading(text[m.end() :])[0])
            ):
                break
            words.append(word)
            previous, pos = word, m.end()
            continue
        if (
            preparation
            and word.lower() in _PRODUCT_PARTICIPLES
            and (after := _WORD.match(text, m.end()))
            and _descriptor(after.group(1), word, preparation)
        ):
            # "pitted peeled peaches": among other preparation it is one too.
            words.append(word)
            previous, pos = word, m.end()
            continue
        if _PRODUCT.match(text, m.start()):
            # "shredded coconut", "chopped tomatoes" are sold so: the product's name.
            break
        if not _descriptor(word, previous, preparation):
            if words and word.lower() in _CONNECTORS and (after := _WORD.match(text, m.end())):
                following, _ = _leading(text[m.end() :], preparation)
                # "freshly grated or ground nutmeg": the adverb reaches past "or".
                adverbed = (
                    preparation
                    and after.group(1).lower() in _AFTER_ADVERB
                    and any(w.lower() in _ADVERBS for w in words)
                    and _WORD.match(text, after.end()) is not None
                )
                if adverbed:
                    words.extend((word, after.group(1)))
                    previous, pos = after.group(1), after.end()
                    continue
                if following:
                    words.append(word)
                    previous, pos = word, m.end()
                    continue
            break
        words.append(word)
        previous = word
        pos = m.end()
        # "medium to large", "small to medium-sized": a range of sizes is one size.
        if (
            word.lower() in _SIZES
            and (span := re.match(r"to\s+(\S+)\s+", text[pos:], re.I))
            and _descriptor(span.group(1), None, False)
        ):
            words[-1] += f" to {span.group(1)}"
            pos += span.end()
        # "medium sized" and "extra large" are one size written as two words.
        if sized := re.match(r"(sized?)(?:\s+|$)", text[pos:], re.I):
            words[-1] += f" {sized.group(1)}"
            pos += sized.end()
    return words, pos


def strip_descriptors(name: str, *, packaged: bool = False) -> tuple[str, str | None]:
    """`name` without its leading preparation and size words, and those words.

    In a package (`packaged`: "1 can chopped tomatoes", "1 Dose gehackte
    Tomaten") the preparation was done by the maker and names the product.

    Each part joined by "and" is read alone ("sea salt and freshly ground black
    pepper" → "sea salt and black pepper"). A name made only of descriptors is
    kept as it is: "chopped" alone is still better than nothing.
    """
    removed: list[str] = []
    words, pos = _leading(name, not packaged)
    if words and name[pos:].strip():
        # "peeled and chopped onion": a description joined by "and" comes first.
        removed.extend(words)
        name = name[pos:]
    parts = re.split(r"(\s+(?:and|und|&|or|oder)\s+)", name)
    kept: list[str] = []
    for part in parts:
        if not part.strip() or re.fullmatch(r"\s+(?:and|und|&|or|oder)\s+", part):
            kept.append(part)
            continue
        words, pos = _leading(part, not packaged)
        if words and part[pos:].strip():
            removed.extend(words)
            part = part[pos:]
        if size := _SECOND_SIZE.match(part):
            # "ripe large tomatoes", "cold large eggs": the size after another adjective.
            removed.append(size.group(2))
            part = size.group(1) + part[size.end() :]
        kept.append(part)
    name = "".join(kept).strip()
    cut = _CUT_BEFORE.match(name) or _CUT_AFTER.search(name)
    if (
        cut
        and cut.groupdict().get("participle")
        and not (cut.group("participle").lower() in _PREPARATION and not packaged)
    ):
        cut = None
    if cut:
        # "chiffonade of basil", "mint chiffonade", "red onion chopped": how it is cut.
        removed.append(cut.group("cut"))
        name = (name[: cut.start()] + name[cut.end() :]).strip()
    if not removed:
        return name, None
    return name, " ".join(removed)


def is_descriptor_only(text: str) -> bool:
    """True for "large" or "finely chopped": words that describe, naming nothing."""
    words, pos = _leading(text.strip())
    return bool(words) and not text.strip()[pos:].strip(" ,")
