"""Steps: numbered caption lines, and instructions spoken in the subtitles.

A spoken sentence is taken as a step when it reads as a cooking instruction:
it starts with a cooking verb ("Add the garlic", "Now we're going to stir",
"Dann die Zwiebeln schneiden" / "Schneide die Zwiebeln"), or, in German
recipe style, ends with one ("Die Zwiebeln in Butter anbraten"). Verbs that are
not only about cooking ("put", "let", "take", "turn") need a kitchen word in
the same sentence, so "Put your hands up" stays a dance move.
"""

from __future__ import annotations

import re

from ..models import Step
from .durations import find_durations, step_minutes
from .text import normalize_spaces, split_sentences, subtitle_lines, word_count, word_set

_MARKER = re.compile(
    r"^(?:(?:step|schritt)\s*(?P<n1>\d{1,2})\s*[:.)\-–]?|(?P<n2>\d{1,2})\s*[.)](?!\d)"
    r"|(?P<n3>\d{1,2}):(?!\d))\s*(?=\S)",
    re.IGNORECASE,
)

_STRONG_EN = word_set("""add arrange assemble bake baste beat blanch blend boil braise bring broil brown
    brush caramelize caramelise chill chop coat combine cook cool crack cream crumble
    crush cube cut deglaze dice dissolve divide drain drizzle dust fill flip fold fry
    garnish grate grease grill grind heat knead layer marinate mash measure melt
    microwave mince mix peel pipe poach pour preheat puree purée reduce refrigerate
    remove rinse roast roll rub saute sauté scatter scramble sear season serve shred
    sieve sift simmer skewer slice soak spoon spread sprinkle squeeze steam stir strain
    stuff thicken toast top toss transfer trim whip whisk wrap zest""")
_WEAK_EN = word_set("put let leave set take throw get turn pop place start use wait")
_STRONG_DE_PREFIXES = (
    "schneid", "brat", "anbrat", "koch", "aufkoch", "köchel", "rühr", "verrühr", "unterrühr",
    "misch", "vermisch", "vermeng", "back", "heiz", "vorheiz", "gieß", "abgieß", "würz",
    "streu", "bestreu", "servier", "schäl", "hack", "erhitz", "schmelz", "pürier",
    "zerdrück", "verteil", "knet", "schlag", "wasch", "wend", "dünst", "röst", "grill",
    "marinier", "würfel", "reib", "füll", "quirl", "verquirl", "füg", "hinzufüg",
    "garnier", "abschmeck", "ablösch", "unterheb", "bestreich", "halbier", "gib", "geb",
    "gebt", "gare", "lösch", "blanchier", "schwitz", "zupf",
)  # fmt: skip
_WEAK_DE = word_set("lass lasst lassen leg lege legt stell stelle stellt nimm nehmt nehme")
_DE_INFINITIVE_ENDINGS = (
    "braten", "kochen", "köcheln", "backen", "schneiden", "hacken", "würfeln", "schälen",
    "reiben", "geben", "fügen", "rühren", "mengen", "mischen", "mixen", "pürieren",
    "würzen", "schmecken", "servieren", "richten", "garnieren", "streuen", "teilen",
    "hitzen", "schmelzen", "gießen", "kneten", "rollen", "formen", "legen", "füllen",
    "marinieren", "grillen", "rösten", "dünsten", "garen", "blanchieren", "schwitzen",
    "löschen", "reduzieren", "schlagen", "quirlen", "waschen", "halbieren", "vierteln",
    "kleinern", "drücken", "stampfen", "heizen", "decken", "heben", "ziehen", "streichen",
    "pressen", "tropfen", "stellen", "lassen",
)  # fmt: skip
_KITCHEN_WORDS = word_set("""pan pot oven bowl tray skillet wok heat water oil butter salt pepper sauce dough
    garlic onion pasta rice flour sugar egg cheese cream milk chicken meat beef minute
    fridge plate mixture batter lid stove blender pfanne topf ofen backofen schüssel
    blech wasser öl butter salz pfeffer soße sauce teig knoblauch zwiebel zwiebeln nudeln
    reis mehl zucker ei eier käse sahne milch hähnchen fleisch hack minuten kühlschrank
    teller masse deckel hitze grad""")
# Spoken openers that carry no instruction: "So, now add…" → "add…".
_FILLER = re.compile(
    r"^(?:(?:so|okay|ok|alright|and|um|uh|then|now|next|first|firstly|after that|finally|"
    r"lastly|meanwhile|in the meantime|once (?:that's|it's) done|let's|und|also|dann|jetzt|nun|"
    r"danach|zuerst|währenddessen|in der zwischenzeit|"
    r"als nächstes|anschließend|zum schluss|zum schluß|lass uns|lasst uns)\b[\s,]*)+",
    re.IGNORECASE,
)
_SUBJECT = re.compile(
    r"^(?:you|we|i)(?:'re|'ll| are| will| am|'m)?\s+(?:(?:going to|gonna|want to|wanna|need to|"
    r"have to|just|also|then)\s+)*",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"\b(?:enjoy|follow|subscribe|comment|like (?:this|and)|save (?:this|for)|share|link in bio|"
    r"guten appetit|lass es dir schmecken|lasst es euch schmecken|abonnier|folg(?:e|t)? (?:mir|uns)|"
    r"speicher|viel spaß|let me know|bon app[ée]tit)\b",
    re.IGNORECASE,
)


def split_marker(line: str) -> tuple[str, int | None]:
    """`("Boil the pasta", 1)` for "1. Boil the pasta" / "Step 1: …" / "1) …"; else `(line, None)`."""
    match = _MARKER.match(line)
    if not match:
        return line, None
    number = match.group("n1") or match.group("n2") or match.group("n3")
    return line[match.end() :].strip(), int(number)


def is_sign_off(text: str) -> bool:
    """True for "Enjoy!", "Follow for more", "Guten Appetit" and the like."""
    return bool(_SIGN_OFF.search(text)) and word_count(text) <= 12


def make_step(text: str) -> Step:
    """A step with its minutes read from the text ("Simmer 10 minutes" → 10)."""
    return Step(text=text, minutes=step_minutes(text))


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())


def _has_kitchen_word(text: str) -> bool:
    if find_durations(text):
        return True
    for word in _words(text):
        if word in _KITCHEN_WORDS or word.rstrip("s") in _KITCHEN_WORDS:
            return True
    return False


def strip_filler(sentence: str) -> str:
    """The sentence without spoken openers, with a capital first letter."""
    text = _FILLER.sub("", sentence.strip()).strip(" ,")
    return text[:1].upper() + text[1:] if text else text


def is_instruction(sentence: str) -> bool:
    """True when the sentence reads as a cooking instruction (see the module docstring)."""
    text = strip_filler(sentence)
    if not text or word_count(text) < 2 or text.endswith("?") or is_sign_off(text):
        return False
    words = _words(_SUBJECT.sub("", text))
    if not words:
        return False
    first = words[0]
    if first in _STRONG_EN or first.startswith(_STRONG_DE_PREFIXES):
        return True
    if first in _WEAK_EN or first in _WEAK_DE:
        return _has_kitchen_word(text)
    last = words[-1]
    return (
        last.endswith(_DE_INFINITIVE_ENDINGS)
        and word_count(text) >= 3
        and (last != "lassen" or _has_kitchen_word(text))
    )


_SPOKEN_BREAK = re.compile(
    r"\s+(?=(?:and then|then|now|next|after that|und dann|dann|jetzt|danach|anschließend)\b)",
    re.IGNORECASE,
)


def _segments(lines: list[str]) -> list[str]:
    sentences = split_sentences(" ".join(lines))
    if len(sentences) > 1 and all(word_count(s) <= 30 for s in sentences):
        return sentences
    # Auto-captions often have no punctuation at all: fall back to the cue
    # lines, and break long ones where a speaker moves on ("… then add …").
    segments: list[str] = []
    for line in lines:
        for sentence in split_sentences(line):
            parts = _SPOKEN_BREAK.split(sentence) if word_count(sentence) > 12 else [sentence]
            segments.extend(part for part in parts if part.strip())
    return segments


def speech_steps(text: str) -> list[Step]:
    """Steps from subtitle or transcript text: its sentences that are instructions."""
    steps: list[Step] = []
    seen: set[str] = set()
    for segment in _segments(subtitle_lines(text)):
        if not is_instruction(segment):
            continue
        clean = normalize_spaces(strip_filler(segment))
        key = clean.lower().rstrip(".!")
        if key not in seen:
            seen.add(key)
            steps.append(make_step(clean))
    return steps
