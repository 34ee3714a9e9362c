"""Ingredients named with their amount in running text: subtitles, transcripts, descriptions.

"You need 200 g flour, 2 eggs, 300 ml milk, 1 tbsp sugar and a pinch of salt"
    → 200 g flour · 2 eggs · 300 ml milk · 1 tbsp sugar · 1 pinch salt
"Du brauchst 500 g Mehl, 2 Eier und eine Prise Salz" / "Gib 2 EL Olivenöl dazu"
    → 500 g Mehl · 2 Eier · 1 Prise Salz / 2 EL Olivenöl

A mention is an amount (a number, a numeral word, or an article before a unit:
"a pinch"), an optional unit, and a short noun phrase that names food. Speech is
full of numbers that are not ingredients ("it takes 20 minutes", "bake for
2 hours at 180 degrees", "one of my favourites", "step 2"), so the noun phrase
must be there, must not be a duration, temperature, person or utensil, and ends
at the first comma, conjunction ("and", "und", "then", "dann"), preposition or
verb — and, in German, at the first lowercase word after a capitalised noun
("2 EL Olivenöl dazugeben").
"""

from __future__ import annotations

import re

from ..models import Ingredient
from .ingredients import parse_ingredient
from .quantities import NUMBER_WORDS, VULGAR_FRACTIONS, Amount, match_amount
from .text import split_sentences, word_set
from .units import match_unit

_WORD_STARTS = sorted({word.split()[0] for word in NUMBER_WORDS}, key=len, reverse=True)
# Where a mention may start: a number not glued to a word or another number.
_START = re.compile(
    rf"(?<![\w.,/'’-])(?:\d|[{VULGAR_FRACTIONS}]|(?:a|an|{'|'.join(_WORD_STARTS)}|"
    r"ein|eine|einen|einem|einer)\b)",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"(?:an?|ein|eine|einen|einem|einer)\s+", re.IGNORECASE)
_MULTIPLIER = re.compile(r"\s*[x×]\s*(?=\d)", re.IGNORECASE)
_BRACKETS = re.compile(r"\s*\([^()]{1,30}\)")
_SLASH = re.compile(r"\s*/\s*")
_OF = re.compile(r"\s+(?:of|von)(?=\s)", re.IGNORECASE)
_NOUN_WORD = re.compile(r"\s+(?P<word>[^\W\d_][\w'’-]*)")

# Words that end the noun phrase: function words, prepositions, conjunctions,
# adverbs and the verbs that follow an ingredient in speech.
_STOP = word_set("""and or but then so now next too also as well just really very here there
    to into in on onto at for from with without until till over under by of off out up down
    that which who this these those it its it's is are was were be been will would can could
    should i you we he she they them me my your our his her their the a an some any all
    more less much many other another each every if when while because about around like
    add bake beat blend boil bring chop combine cook cut dice drain fry grate heat knead melt
    mince mix peel pour preheat put place let take set leave remove season serve simmer slice
    stir transfer whisk fold sprinkle drizzle spread marinate throw get go going gonna need
    want have has had do does did make makes made use used okay ok yeah guys please right
    und oder aber dann jetzt nun noch auch schon so hier da dazu hinzu rein hinein drauf
    darauf darüber drüber mal nur sehr ganz gut bitte zu zum zur in im ins mit für auf aus
    bei nach über unter an am vom um von bis ohne dass das die der den dem des ich du er sie
    es wir ihr man ist sind war hat haben habe wird werden kann können muss müssen gib gebt
    geben nimm nehmt nehmen""")
# Nouns that follow a number in speech but are no ingredient ("two hundred
# grams" is rejected rather than read as 2 "hundred grams").
_NOT_FOOD = word_set("""minute minutes min mins hour hours hr hrs second seconds sec secs
    degree degrees day days week weeks month months year years time times people person
    persons serving servings portion portions ingredient ingredients step steps way ways
    thing things tip tips trick tricks recipe recipes video videos follower followers like
    likes view views calorie calories kcal cal protein carbs percent euro euros dollar dollars
    bucks kid kids guest guests meal meals layer layers side sides pan pans pot pots bowl
    bowls tray trays oven ovens dish dishes hand hands part parts episode level levels batch
    batches wedge wedges chunk chunks round rounds star stars night nights morning mornings
    kind kinds type types sort sorts guy guys friend friends bite bites sip sips
    hundred hundreds thousand thousands hundert tausend million millions billion
    millionen million mio aufrufe follower abonnenten
    minute minuten stunde stunden std sekunde sekunden sek grad tag tage woche wochen monat
    monate jahr jahre mal personen leute portion portionen zutat zutaten schritt schritte
    tipp tipps rezept rezepte kalorien eiweiß prozent kinder gäste pfanne pfannen topf töpfe
    schüssel schüsseln blech bleche ofen hände seite seiten stufe uhr teil teile folge
    sterne nacht nächte abend abende sorte sorten art arten freunde""")
# Utensils named by their last word: "line 2 baking sheets", "4 ramekins".
_UTENSILS = word_set("""sheet sheets tin tins mold molds mould moulds plate plates glass glasses
    ramekin ramekins skewer skewers jar jars form formen gläser teller""")
# A number right after these is not an amount: "step 2", "at 180", "into 4 wedges",
# "it makes 12 cookies".
_NOT_BEFORE = word_set("""step schritt number nummer nr no top at bei auf um into level
    makes make yields serves feeds ergibt reicht
    stufe part teil episode folge day tag the this that these those my your our die der das
    den dem diese dieser meine deine unsere than als every alle jede jeden per pro""")
# Units that measure size, not quantity ("2 cm thick").
_SIZES = frozenset({"cm", "mm", "inch", "inches"})
_MAX_NAME_WORDS = 4
# No recipe names more ingredients than this; past it the text is no recipe talk,
# and the merge (quadratic in the worst case) stays bounded.
MAX_MENTIONS = 100


_APPROXIMATE = word_set("about around approximately approx roughly ca circa etwa ungefähr")


def _previous_word(text: str, pos: int) -> str:
    """The word before `pos`, looking past "about" ("makes about 12 cookies")."""
    before = [w.lower().strip(".,:;!?\"'()") for w in text[max(0, pos - 40) : pos].split()]
    while before and before[-1] in _APPROXIMATE:
        before.pop()
    return before[-1] if before else ""


def _second_measure(text: str, pos: int) -> int:
    """Past "(240 ml)" in "1 cup (240 ml) milk" or "/7oz" in "200g/7oz shallots"."""
    if brackets := _BRACKETS.match(text, pos):
        return brackets.end()
    slash = _SLASH.match(text, pos)
    amount = match_amount(text, slash.end()) if slash else None
    if amount is None:
        return pos
    unit = match_unit(text, amount.end)
    return unit.end if unit else amount.end


def _ends_noun(previous: str, word: str, language: str | None) -> bool:
    # German nouns are capitalised: a lowercase word after one is a verb or an
    # adverb ("2 EL Olivenöl dazugeben"). When the language is unknown, only a
    # word with an infinitive's ending counts ("500 g Mehl unterrühren").
    if language == "en" or not previous[0].isupper() or not word[0].islower():
        return False
    return language == "de" or word.endswith(("en", "ln", "rn"))


def _noun_phrase(text: str, pos: int, language: str | None) -> int | None:
    """Where the food's name that starts at `text[pos:]` ends; None if none starts there."""
    end: int | None = None
    words: list[str] = []
    while len(words) < _MAX_NAME_WORDS:
        match = _NOUN_WORD.match(text, pos)
        if not match:
            break
        word = match.group("word")
        lower = word.lower()
        if lower in _STOP or re.split("['’]", lower)[0] in _STOP or len(word) < 2:
            break
        if words and _ends_noun(words[-1], word, language):
            break
        words.append(word)
        pos = end = match.end()
    if not words or any(word.lower().strip("'’") in _NOT_FOOD for word in words):
        return None
    if len(words) > 1 and words[-1].lower() in _UTENSILS:
        return None
    return end


def _mention(text: str, pos: int, language: str | None) -> int | None:
    """Where the mention that starts at `text[pos:]` ends; None if no mention starts there."""
    amount: Amount | None = match_amount(text, pos)
    if amount is None:
        # "a pinch of salt", "eine Prise Salz": an article counts one of a unit.
        article = _ARTICLE.match(text, pos)
        unit = match_unit(text, article.end()) if article else None
        if unit is None:
            return None
        end = unit.end
    else:
        end = amount.end
        multiplier = _MULTIPLIER.match(text, end)
        if multiplier and (size := match_amount(text, multiplier.end())):
            end = size.end
        unit = match_unit(text, end)
        if unit is not None:
            end = unit.end
            if multiplier and (container := match_unit(text, end)):
                end = container.end  # "2 x 400 g cans"
        elif end < len(text) and not text[end].isspace():
            return None  # "3rd", "20%", "180°C"
    if unit is not None:
        if unit.unit.lower() in _SIZES:
            return None
        end = _second_measure(text, end)
        if of := _OF.match(text, end):
            end = of.end()
    return _noun_phrase(text, end, language)


def mentions(text: str, language: str | None = None) -> list[Ingredient]:
    """The ingredients named with an amount in `text` (prose, not a list), in order."""
    found: list[Ingredient] = []
    # Speech repeats itself ("add 2 eggs… the 2 eggs"): a fragment said again is
    # the same mention, parsed once.
    seen: set[str] = set()
    for sentence in split_sentences(text):
        consumed = 0
        for start in _START.finditer(sentence):
            pos = start.start()
            if pos < consumed or _previous_word(sentence, pos) in _NOT_BEFORE:
                continue
            end = _mention(sentence, pos, language)
            if end is None:
                continue
            consumed = end
            fragment = sentence[pos:end]
            if fragment in seen:
                continue
            seen.add(fragment)
            ingredient = parse_ingredient(fragment)
            if ingredient.name and (ingredient.quantity is not None or ingredient.unit):
                found.append(ingredient)
                if len(found) >= MAX_MENTIONS:
                    return found
    return found


_TASTE = re.compile(
    r"\b(?:to taste|as needed|nach (?:Geschmack|Belieben|Bedarf)|abschmecken|abgeschmeckt)\b",
    re.IGNORECASE,
)
_TASTE_WORD = re.compile(r"[^\W\d_]+|,")
# What a seasoning follows: "season with salt and pepper to taste", "mit Salz abschmecken".
_TASTE_OPENERS = word_set("with mit add season würzen")
_TASTE_FILLER = word_set("some a little bit of more extra etwas wenig bisschen noch")
_TASTE_SEPARATORS = word_set("and or und oder ,")


def _taste_items(words: list[str]) -> list[str] | None:
    items: list[list[str]] = [[]]
    for word in words:
        if word.lower() in _TASTE_SEPARATORS:
            items.append([])
        elif word.lower() not in _TASTE_FILLER:
            items[-1].append(word)
    names = [" ".join(item) for item in items]
    for item in items:
        if not 1 <= len(item) <= 2:
            return None
        if any(w.lower() in _STOP or w.lower() in _NOT_FOOD or len(w) < 2 for w in item):
            return None
    return names


def to_taste(text: str) -> list[Ingredient]:
    """Seasonings said without an amount: "season with salt and pepper to taste",
    "mit Salz und Pfeffer abschmecken" → salt, pepper (note "to taste")."""
    found: list[Ingredient] = []
    for sentence in split_sentences(text):
        for match in _TASTE.finditer(sentence):
            words = _TASTE_WORD.findall(sentence[: match.start()])
            openers = [i for i, w in enumerate(words) if w.lower() in _TASTE_OPENERS]
            if openers:
                words = words[openers[-1] + 1 :]
            elif len(words) > 4:
                continue  # no "with": the seasoning cannot be told from the rest
            phrase = match.group().lower()
            german = phrase.startswith(("nach", "abschmeck", "abgeschmeckt"))
            names = _taste_items(words)
            if not names or (german and not all(n[0].isupper() for n in names)):
                continue
            note = "nach Geschmack" if phrase.startswith("ab") else match.group()
            found.extend(Ingredient(text=f"{n} {note}", name=n, note=note) for n in names)
    return found
